package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"

	"mailroom/internal/address"
	"mailroom/internal/dsn"
	"mailroom/internal/store"
)

// Quotas at delivery. The store refuses a transaction that would take an
// account over its limit (store.ErrOverQuota); here that becomes, for the
// account's recipients only, the reply the configuration asks for:
// 452 4.2.2 (mailbox full, try again later; the default) or 552 5.2.2.
// The other recipients of the message still get it: their targets are
// stored again without the refused account's, so every copy is stored
// once and the refused ones never.

var (
	statusMailboxFullTemp = [3]int{4, 2, 2}
	statusMailboxFullPerm = [3]int{5, 2, 2}
)

// quotaError is the reply for a recipient whose account is full.
func (a *Agent) quotaError(oq *store.OverQuotaError) *Error {
	who := oq.Email
	if who == "" {
		who = "the recipient"
	}
	if a.cfg.OverQuotaPermanent {
		return &Error{Code: 552, Enhanced: statusMailboxFullPerm, Msg: fmt.Sprintf("<%s>: mailbox full", who), Err: oq}
	}
	return &Error{Code: 452, Enhanced: statusMailboxFullTemp, Msg: fmt.Sprintf("<%s>: mailbox full, try again later", who), Err: oq}
}

// CheckQuota refuses, at RCPT TO, a recipient that leads to one account
// only, which keeps its mail and is already full: nothing more can fit, so
// the sender hears it before sending the message. A recipient that leads
// to several accounts, or elsewhere too, is accepted: the full accounts
// are dropped at delivery, and the others get the message.
func (a *Agent) CheckQuota(ctx context.Context, res Resolved) error {
	if len(res.Accounts) != 1 || len(res.Remote) != 0 {
		return nil
	}
	acct := res.Accounts[0]
	pr, err := a.prefs.get(ctx, acct.ID, a.loadPrefs)
	if err != nil {
		return a.tempFail(err)
	}
	if pr.script != nil {
		return nil // its script may send the message elsewhere: decided at delivery
	}
	u, err := a.st.QuotaUsage(ctx, acct.ID)
	if err != nil {
		return a.tempFail(err)
	}
	for _, r := range []store.QuotaResource{store.QuotaStorage, store.QuotaMessages} {
		if lim := u.Limits.Get(r); lim >= 0 && u.Get(r) >= int64(lim) {
			return a.quotaError(&store.OverQuotaError{AccountID: acct.ID, Email: acct.Email, Resource: r, Usage: u.Get(r), Limit: lim})
		}
	}
	return nil
}

// appendLocal stores p's targets, each account the store refuses for
// its quota dropped and the rest kept (appendAround). It returns the
// accounts that got their copies; the refused ones are in p.refused.
func (a *Agent) appendLocal(ctx context.Context, msg store.Staged, p *plan) ([]store.Account, error) {
	accounts := make([]int64, len(p.owners))
	for i, s := range p.owners {
		accounts[i] = s.acct.ID
	}
	refusals, err := a.appendAround(ctx, msg, p.targets, accounts)
	if err != nil {
		return nil, err
	}
	for _, oq := range refusals {
		a.log.Info("recipient over quota", "account", oq.Email, "resource", oq.Resource, "usage", oq.Usage, "limit", int64(oq.Limit))
		if p.refused == nil {
			p.refused = map[int64]bool{}
			p.refusedErr = oq
		}
		p.refused[oq.AccountID] = true
	}
	var stored []store.Account
	for _, s := range p.owners {
		if !p.refused[s.acct.ID] && !slices.ContainsFunc(stored, func(x store.Account) bool { return x.ID == s.acct.ID }) {
			stored = append(stored, s.acct)
		}
	}
	return stored, nil
}

// appendAround appends msg to targets (accounts[i] owns targets[i]) in
// one transaction; when the store refuses an account for its quota, that
// account's targets are dropped and the rest tried again, in a new
// transaction each time (the refused one left nothing). It returns the
// refusals, at most one per account; any other error ends it.
func (a *Agent) appendAround(ctx context.Context, msg store.Staged, targets []store.Target, accounts []int64) ([]*store.OverQuotaError, error) {
	targets, accounts = slices.Clone(targets), slices.Clone(accounts)
	var refusals []*store.OverQuotaError
	for len(targets) > 0 {
		_, err := a.cfg.Mailboxes.Append(ctx, msg, targets)
		if err == nil {
			break
		}
		var oq *store.OverQuotaError
		if !errors.As(err, &oq) || !slices.Contains(accounts, oq.AccountID) {
			return refusals, err
		}
		refusals = append(refusals, oq)
		keep := 0
		for i := range targets {
			if accounts[i] != oq.AccountID {
				targets[keep], accounts[keep] = targets[i], accounts[i]
				keep++
			}
		}
		targets, accounts = targets[:keep], accounts[:keep]
	}
	return refusals, nil
}

// allRefused reports whether every account r leads to was refused.
func allRefused(r Recipient, refused map[int64]bool) bool {
	if len(refused) == 0 || len(r.Accounts) == 0 {
		return false
	}
	for _, acct := range r.Accounts {
		if !refused[acct.ID] {
			return false
		}
	}
	return true
}

// bounceOverQuota tells the sender, after the message was accepted for
// others, which recipients did not get it because their mailbox is full:
// a delivery status notification ("failed", 4.2.2 or 5.2.2 as configured),
// for the recipients whose NOTIFY asks for it. SMTP has one reply to DATA
// for all recipients, and Mailroom does not hold a local copy back to
// retry it: the report is what makes the refusal visible.
func (a *Agent) bounceOverQuota(ctx context.Context, msg store.Staged, env Envelope, p *plan) {
	status, diag := "4.2.2", "452 4.2.2 mailbox full"
	if a.cfg.OverQuotaPermanent {
		status, diag = "5.2.2", "552 5.2.2 mailbox full"
	}
	now := time.Now()
	var rcpts []dsn.Recipient
	for _, s := range p.owners {
		if !p.refused[s.acct.ID] || !dsn.ShouldNotify(env.From, s.rcpt.DSNNotify, dsn.ActionFailed) ||
			slices.ContainsFunc(rcpts, func(r dsn.Recipient) bool { return r.Final == s.acct.Email }) {
			continue
		}
		rcpts = append(rcpts, dsn.Recipient{Original: s.rcpt.DSNORcpt, Final: s.acct.Email, Action: dsn.ActionFailed, Status: status,
			Diagnostic: diag, Explanation: "The recipient's mailbox is full: it is over its quota.", LastAttempt: now})
	}
	if len(rcpts) == 0 {
		return
	}
	if err := a.sendReport(ctx, msg, env, rcpts, now); err != nil {
		a.log.Error("over-quota report not sent", "to", env.From, "err", err)
	}
}

// warnQuota writes a warning into the INBOX of each account that got the
// message and has just crossed a warning level (80% or 95% of a limit).
// The store hands each crossing out once (ClaimQuotaWarnings), so two
// concurrent deliveries do not both warn. The message is delivered; a
// warning that cannot be written is logged, and goes out with the next
// delivery (the level stays unclaimed only if the claim failed).
func (a *Agent) warnQuota(ctx context.Context, accounts []store.Account) {
	due, knows := a.cfg.Mailboxes.(quotaDue)
	for _, acct := range accounts {
		if knows && !due.QuotaWarningDue(acct.ID) {
			continue // the delivery reached no new level: nothing to claim
		}
		a.WarnQuota(ctx, acct)
	}
}

// WarnQuota writes the warnings acct has crossed into since the last
// (mailbox.QuotaWarner: after an IMAP APPEND, COPY or MOVE, which knows
// one is due).
func (a *Agent) WarnQuota(ctx context.Context, acct store.Account) {
	ws, err := a.st.ClaimQuotaWarnings(ctx, acct.ID)
	if err != nil {
		a.log.Error("quota warning not sent", "account", acct.Email, "err", err)
		return
	}
	if len(ws) == 0 {
		return
	}
	if err := a.sendQuotaWarning(ctx, acct, ws); err != nil {
		a.log.Error("quota warning not sent", "account", acct.Email, "err", err)
	}
}

// quotaDue is an Appender that knows which accounts its writes took to a
// warning level (mailbox.Service, from the store's EventQuotaLevel);
// without it every delivery's accounts are asked.
type quotaDue interface {
	QuotaWarningDue(accountID int64) bool
}

// sendQuotaWarning stores one warning about ws in acct's INBOX, exempt
// from the quota (store.Target.QuotaExempt): the warning about a full
// mailbox must reach it.
func (a *Agent) sendQuotaWarning(ctx context.Context, acct store.Account, ws []store.QuotaWarning) error {
	inbox, err := a.inbox(ctx, acct.ID)
	if err != nil {
		return err
	}
	staged, err := a.st.Stage(ctx, bytes.NewReader(QuotaWarningMessage(acct.Email, ws, a.now(), a.cfg.Hostname)))
	if err != nil {
		return err
	}
	defer staged.Discard()
	_, err = a.cfg.Mailboxes.Append(ctx, staged, []store.Target{{MailboxID: inbox, QuotaExempt: true}})
	return err
}

// QuotaWarningMessage writes the warning mail: from the postmaster of the
// account's domain, plain text that says how full the mailbox is and what
// to do about it.
func QuotaWarningMessage(email string, ws []store.QuotaWarning, now time.Time, hostname string) []byte {
	domain := ""
	if addr, err := address.Parse(email); err == nil {
		domain = addr.Domain
	}
	if hostname == "" {
		hostname = domain
	}
	level := 0
	for _, w := range ws {
		level = max(level, w.Level)
	}
	subject := fmt.Sprintf("Your mailbox is %d%% full", level)
	var body strings.Builder
	fmt.Fprintf(&body, "Hello,\r\n\r\nyour mailbox %s is getting full:\r\n\r\n", email)
	for _, w := range ws {
		if w.Resource == store.QuotaStorage {
			fmt.Fprintf(&body, "  - it uses %s of its %s of storage (%d%% or more);\r\n",
				store.FormatOctets(w.Usage), store.FormatOctets(int64(w.Limit)), w.Level)
		} else {
			fmt.Fprintf(&body, "  - it holds %d messages of the %d it may hold (%d%% or more);\r\n", w.Usage, int64(w.Limit), w.Level)
		}
	}
	body.WriteString("\r\nWhen it is full, new mail to you is refused (senders are told to try\r\n" +
		"again later), and you cannot save drafts, keep copies of sent mail or\r\n" +
		"copy messages.\r\n\r\n" +
		"To make room, delete the messages you no longer need (large attachments\r\n" +
		"first) and empty the Trash and Junk folders: the space is free at once.\r\n" +
		"If you need more room, ask the administrator of your mail server.\r\n\r\n" +
		"This message was written by the mail server; you do not need to answer it.\r\n")
	var b strings.Builder
	fmt.Fprintf(&b, "From: Postmaster <postmaster@%s>\r\n", domain)
	fmt.Fprintf(&b, "To: <%s>\r\n", email)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <quota-%d-%d@%s>\r\n", now.UnixNano(), level, hostname)
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	b.WriteString(body.String())
	return []byte(b.String())
}
