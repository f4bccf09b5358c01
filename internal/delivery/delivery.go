// Package delivery is the one place where mail enters mailboxes: inbound
// SMTP, submission to local recipients, and later IMAP APPEND, the web
// compose, Sieve filters and quotas all go through it.
//
// It resolves envelope recipients through the directory (accounts, aliases,
// plus-addressing, catch-alls, postmaster), follows the accounts' own
// forwarding (forward.to), and stores a staged message in every local
// recipient's INBOX in one store transaction, so a message is either
// durable for all of them or for none. Once it is, accounts on vacation
// answer it (vacation.*, RFC 3834).
package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"mailroom/internal/address"
	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// Error is a delivery failure with the SMTP reply it calls for. Other
// protocols map it (a temporary error is "try again later").
type Error struct {
	Code     int    // SMTP reply code, e.g. 550
	Enhanced [3]int // RFC 3463 status, e.g. {5, 1, 1}
	Msg      string
	Err      error // cause, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the sender should try again later.
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

func errorf(code int, enhanced [3]int, format string, args ...any) *Error {
	return &Error{Code: code, Enhanced: enhanced, Msg: fmt.Sprintf(format, args...)}
}

// Envelope is one SMTP transaction's envelope. The DSN parameters (RFC 3461)
// are kept for the outbound queue, which writes the notifications.
type Envelope struct {
	From       string // reverse path; "" is the null sender
	UTF8       bool   // SMTPUTF8 was given
	DSNRet     string // RET: FULL or HDRS, "" if not given
	DSNEnvID   string // ENVID
	Recipients []Recipient
	// Quarantine holds why checks made before delivery (DMARC
	// p=quarantine, a blocklist) want the message kept out of INBOX; if
	// any, every local copy goes to its account's Junk mailbox.
	Quarantine []string
	// AuthUser is the login of the authenticated sender, "" if none
	// (Sieve's envelope "auth").
	AuthUser string
	// SenderAccount is the account of the authenticated user who sent
	// the message (SMTP submission, the web's compose, JMAP
	// EmailSubmission), 0 for mail from elsewhere: the recipients become
	// that account's collected contacts (contacts.go).
	SenderAccount int64
	// Inbound: the message came from another server (the MX listener,
	// no authentication), so the junk filter scores it. Our users'
	// submissions, the web's compose and the server's own notices are not
	// scored: a user's mail to a colleague is not junk, and their own
	// choice of words must not train anyone's filter.
	Inbound bool
}

// Recipient is one RCPT TO and where it resolved to.
type Recipient struct {
	Address   string   // as given (normalised to lower case)
	DSNNotify []string // NOTIFY values
	DSNORcpt  string   // ORCPT
	Resolved
}

// Resolved is where one recipient address leads.
type Resolved struct {
	Accounts []store.Account // local accounts (aliases expanded)
	Remote   []string        // addresses in other domains
}

// Outbound is the outbound queue (internal/queue implements
// it). Enqueue must return only once the message is durable in the queue.
type Outbound interface {
	// Enqueue queues msg for the Remote addresses of env's recipients.
	Enqueue(ctx context.Context, env Envelope, msg store.Staged) error
}

// Config configures an Agent.
type Config struct {
	// PlusSeparator is the plus-addressing separator: "user+tag@domain"
	// delivers to "user@domain". "" disables plus-addressing.
	PlusSeparator string
	// Postmaster is where postmaster@ mail goes when no account or alias of
	// that name exists in the domain. "" means every admin account.
	Postmaster string
	// Outbound is the queue for remote recipients; nil refuses them.
	Outbound Outbound
	// Hostname names this server in the notices it writes ("delivered"
	// reports for NOTIFY=SUCCESS).
	Hostname string
	// Junked counts the local copies filed into Junk rather than INBOX
	// (the server's metrics); nil: not counted.
	Junked JunkCounter
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Mailboxes, if set, stores local deliveries (the mailbox service, so
	// a message acknowledged with 250 is in every later SELECT of this
	// process); nil stores them with the store directly.
	Mailboxes Appender
	// Junk, if set, scores inbound mail (Envelope.Inbound) for each
	// account that keeps a copy: a copy it finds junk goes to the
	// account's Junk mailbox. nil turns scoring off.
	Junk JunkFilter
	// SieveBefore is the server's global Sieve script, run before each
	// account's own (sieve.before); nil: none.
	SieveBefore *sieve.Script
	// SieveGlobalDir holds the scripts that include :global names, as
	// NAME.sieve (sieve.global_dir); "" finds none.
	SieveGlobalDir string
	// SieveLimits bound each account's scripts; zero fields take the
	// defaults.
	SieveLimits sieve.Limits
	// OverQuotaPermanent answers a recipient whose mailbox is full with
	// 552 5.2.2 (the sender gives up) instead of 452 4.2.2 (the sender
	// tries again later) (smtp.over_quota).
	OverQuotaPermanent bool
}

// Appender puts a staged message into mailboxes; the mailbox service
// implements it.
type Appender interface {
	Append(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error)
}

// Agent resolves recipients and delivers messages.
type Agent struct {
	st  store.Store
	cfg Config
	log *slog.Logger

	// INBOX ids by account: INBOX can be neither deleted nor replaced, so
	// an account's INBOX id is stable for the account's life.
	inboxes sync.Map // int64 -> int64
	// The compiled Sieve scripts of accounts.
	prefs *prefsCache
}

// New returns an Agent delivering into st. It follows st's change feed
// (for settings changes) until st is closed.
// JunkCounter is told of local copies filed into the recipient's Junk
// mailbox once they are stored; reason is "quarantine" (a check before
// delivery, such as DMARC p=quarantine, asked for it) or "filter" (the
// junk filter's verdict).
type JunkCounter interface {
	Junked(reason string)
}

func New(st store.Store, cfg Config) *Agent {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Mailboxes == nil {
		cfg.Mailboxes = storeAppender{st}
	}
	return &Agent{st: st, cfg: cfg, log: log, prefs: newPrefsCache(st.Subscribe(0))}
}

// storeAppender delivers with the store alone (tools and tests without a
// mailbox service).
type storeAppender struct{ st store.Store }

func (s storeAppender) Append(ctx context.Context, msg store.Staged, targets []store.Target) ([]store.Delivered, error) {
	return s.st.Deliver(ctx, msg, targets)
}

func (a *Agent) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}

// The recipient errors, as SMTP replies.
var (
	statusUnknownUser = [3]int{5, 1, 1}
	statusBadAddress  = [3]int{5, 1, 3}
	statusRelayDenied = [3]int{5, 7, 1}
	statusNoRoute     = [3]int{4, 4, 3}
	statusLoop        = [3]int{5, 4, 6}
	statusTempFail    = [3]int{4, 3, 0}
	statusNoStorage   = [3]int{4, 3, 1} // RFC 3463: mail system full
)

// maxAliasDepth bounds alias chains (alias to alias to …).
const maxAliasDepth = 10

// Resolve finds where an envelope recipient leads. authenticated says the
// client is one of our users (submission): only then may a recipient be
// remote. Mailroom is never an open relay: an unauthenticated client can
// only reach local addresses, whatever else is configured.
func (a *Agent) Resolve(ctx context.Context, rcpt string, authenticated bool) (Resolved, error) {
	if strings.EqualFold(rcpt, "postmaster") { // RFC 5321 4.5.1: <Postmaster> without domain
		return a.postmaster(ctx, "")
	}
	addr, err := address.Parse(rcpt)
	if err != nil {
		return Resolved{}, errorf(553, statusBadAddress, "<%s> is not a valid address", rcpt)
	}
	info, err := a.st.LookupAddress(ctx, addr.String())
	if err != nil {
		return Resolved{}, a.tempFail(err)
	}
	if !info.LocalDomain {
		if !authenticated {
			return Resolved{}, errorf(554, statusRelayDenied, "relay access denied: <%s> is not a local address; authenticate to send mail to other domains", addr)
		}
		if a.cfg.Outbound == nil {
			return Resolved{}, errorf(451, statusNoRoute, "<%s>: delivery to other domains is not configured on this server", addr)
		}
		return Resolved{Remote: []string{addr.String()}}, nil
	}
	var res Resolved
	found, err := a.expand(ctx, addr, info, &res, map[string]bool{}, 0)
	if err != nil {
		return Resolved{}, err
	}
	if !found && a.cfg.PlusSeparator != "" {
		if base, _, ok := strings.Cut(addr.Local, a.cfg.PlusSeparator); ok && base != "" {
			baseAddr := address.Address{Local: base, Domain: addr.Domain}
			if info, err = a.st.LookupAddress(ctx, baseAddr.String()); err != nil {
				return Resolved{}, a.tempFail(err)
			}
			if found, err = a.expand(ctx, baseAddr, info, &res, map[string]bool{}, 0); err != nil {
				return Resolved{}, err
			}
		}
	}
	if !found && addr.Local == "postmaster" {
		return a.postmaster(ctx, addr.Domain)
	}
	if !found {
		catchAll := address.Address{Domain: addr.Domain}
		if info, err = a.st.LookupAddress(ctx, catchAll.String()); err != nil {
			return Resolved{}, a.tempFail(err)
		}
		if found, err = a.expand(ctx, catchAll, info, &res, map[string]bool{}, 0); err != nil {
			return Resolved{}, err
		}
	}
	if !found {
		return Resolved{}, errorf(550, statusUnknownUser, "<%s>: no such user here", addr)
	}
	if len(res.Remote) > 0 && a.cfg.Outbound == nil {
		return Resolved{}, errorf(451, statusNoRoute, "<%s> forwards to another domain, and delivery to other domains is not configured on this server", addr)
	}
	return res, nil
}

// expand adds what a looked-up local address leads to, following aliases.
func (a *Agent) expand(ctx context.Context, addr address.Address, info store.AddressInfo, res *Resolved, seen map[string]bool, depth int) (bool, error) {
	if info.Account != nil {
		res.addAccount(*info.Account)
		return true, nil
	}
	if len(info.AliasTargets) == 0 {
		return false, nil
	}
	if depth >= maxAliasDepth {
		return false, errorf(554, statusLoop, "alias <%s> nests too deeply (a loop?)", addr)
	}
	seen[addr.String()] = true
	for _, t := range info.AliasTargets {
		if seen[t] {
			continue // a loop: each address is expanded once
		}
		ta, err := address.Parse(t)
		if err != nil {
			a.log.Warn("alias target is not an address", "alias", addr.String(), "target", t)
			continue
		}
		tinfo, err := a.st.LookupAddress(ctx, ta.String())
		if err != nil {
			return false, a.tempFail(err)
		}
		if !tinfo.LocalDomain {
			res.addRemote(ta.String())
			continue
		}
		ok, err := a.expand(ctx, ta, tinfo, res, seen, depth+1)
		if err != nil {
			return false, err
		}
		if !ok {
			a.log.Warn("alias target does not exist", "alias", addr.String(), "target", t)
		}
	}
	return len(res.Accounts) > 0 || len(res.Remote) > 0, nil
}

// postmaster resolves postmaster@domain (or bare postmaster) when no
// account or alias of that name exists: RFC 5321 4.5.1 requires it to work.
func (a *Agent) postmaster(ctx context.Context, domain string) (Resolved, error) {
	if domain != "" {
		info, err := a.st.LookupAddress(ctx, "postmaster@"+domain)
		if err != nil {
			return Resolved{}, a.tempFail(err)
		}
		var res Resolved
		if ok, err := a.expand(ctx, address.Address{Local: "postmaster", Domain: domain}, info, &res, map[string]bool{}, 0); err != nil || ok {
			return res, err
		}
	}
	if a.cfg.Postmaster != "" {
		info, err := a.st.LookupAddress(ctx, a.cfg.Postmaster)
		if err != nil {
			return Resolved{}, a.tempFail(err)
		}
		var res Resolved
		addr, _ := address.Parse(a.cfg.Postmaster)
		if ok, err := a.expand(ctx, addr, info, &res, map[string]bool{}, 0); err != nil || ok {
			return res, err
		}
	}
	admins, err := a.st.AccountsWithSetting(ctx, "admin", "true")
	if err != nil {
		return Resolved{}, a.tempFail(err)
	}
	if len(admins) > 0 {
		return Resolved{Accounts: admins}, nil
	}
	// Nothing configured, as on an installation made by the README's
	// quickstart (a domain, one account, no admin): the first account
	// created is the operator's, who set the server up. A 451 here would
	// make senders retry for days and then bounce.
	accts, err := a.st.Accounts(ctx)
	if err != nil {
		return Resolved{}, a.tempFail(err)
	}
	if len(accts) == 0 {
		// No mailbox at all yet: temporary, so the mail arrives once the
		// first account exists (senders retry for days).
		a.log.Error("mail to postmaster deferred: this server has no account yet")
		return Resolved{}, errorf(451, statusTempFail, "postmaster has no mailbox on this server yet, try again later")
	}
	first := slices.MinFunc(accts, func(x, y store.Account) int { return cmp.Compare(x.ID, y.ID) })
	a.log.Warn("mail to postmaster goes to the first account: no postmaster account or alias, no [smtp] postmaster, no admin account",
		"account", first.Email)
	return Resolved{Accounts: []store.Account{first}}, nil
}

func (a *Agent) tempFail(err error) error {
	a.log.Error("directory lookup failed", "err", err)
	return &Error{Code: 451, Enhanced: statusTempFail, Msg: "temporary failure, try again later", Err: err}
}

// storeFailed is the reply for a store that could not take the message:
// 452 4.3.1 "insufficient system storage" (RFC 5321 4.2.2, RFC 3463) when
// the disk is full, so the sender and the postmaster see the cause, else
// 451 4.3.0 with msg. Both are temporary: the sender tries again later.
func storeFailed(msg string, err error) *Error {
	if errors.Is(err, store.ErrInsufficientStorage) {
		return &Error{Code: 452, Enhanced: statusNoStorage, Msg: "insufficient system storage, try again later", Err: err}
	}
	return &Error{Code: 451, Enhanced: statusTempFail, Msg: msg, Err: err}
}

func (r *Resolved) addAccount(acct store.Account) {
	for _, x := range r.Accounts {
		if x.ID == acct.ID {
			return
		}
	}
	r.Accounts = append(r.Accounts, acct)
}

func (r *Resolved) addRemote(addr string) {
	for _, x := range r.Remote {
		if x == addr {
			return
		}
	}
	r.Remote = append(r.Remote, addr)
}

// Deliver stores msg for every recipient of env: each local account's
// Sieve scripts decide where its copies go (INBOX by default, with its own
// Return-Path and Delivered-To lines), and all the local copies are
// stored in one transaction; remote recipients go to the outbound queue.
// Redirects pass the message on, to local accounts within the same
// transaction, to others through the queue. When every recipient's script
// rejects the message, Deliver returns the refusal (550) for the SMTP
// reply; when only some do, the sender gets a report. It returns nil only
// when the message is durable for every recipient that keeps it. Then,
// and only then, the vacation answers go out; they can fail only on
// their own.
func (a *Agent) Deliver(ctx context.Context, msg store.Staged, env Envelope) error {
	p, err := a.plan(ctx, msg, env)
	if err != nil {
		return err
	}
	remote := 0
	for _, r := range env.Recipients {
		remote += len(r.Remote)
	}
	if len(p.rejected) > 0 && len(p.targets) == 0 && remote == 0 && len(p.forwards) == 0 {
		// Everyone refused it: the sender hears it at DATA.
		a.log.Info("message rejected by Sieve", "from", env.From, "account", p.rejected[0].step.acct.Email)
		return rejectError(p)
	}
	if remote > 0 && a.cfg.Outbound == nil {
		return errorf(451, statusNoRoute, "delivery to other domains is not configured on this server")
	}
	// Local copies first, then the queue. The other order loses bodies:
	// the queue can send its copy and release the body's content before
	// the local copies take their references to it (the queue's worker
	// runs meanwhile), leaving local messages without a body (SQLite) or
	// failing them (PostgreSQL: "the staged message's body is gone").
	// Stored first, the local copies hold the content while the queue
	// adds and drops its own reference.
	var stored []store.Account
	if len(p.targets) > 0 {
		stored, err = a.appendLocal(ctx, msg, p)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				a.inboxes.Clear() // an account went away meanwhile
			}
			return storeFailed("could not store the message, try again later", err)
		}
		if len(p.refused) > 0 && len(stored) == 0 && remote == 0 && len(p.forwards) == 0 {
			// Nobody got it: the sender hears it at DATA and, for
			// the temporary reply, tries again later.
			return a.quotaError(p.refusedErr)
		}
	}
	if remote > 0 {
		if err := a.cfg.Outbound.Enqueue(ctx, env, msg); err != nil {
			return storeFailed("could not queue the message, try again later", err)
		}
	}
	for _, f := range p.forwards {
		// plan only forwards to other domains when there is a queue.
		if err := a.sendForward(ctx, msg, env, f); err != nil {
			return storeFailed("could not queue the message, try again later", err)
		}
	}
	if len(p.targets) > 0 {
		if len(p.refused) > 0 {
			// Others got it: 250 for the message, and a report to the
			// sender for the recipients that did not.
			a.bounceOverQuota(ctx, msg, env, p)
		}
		a.notifyDelivered(ctx, msg, env, p.notStored())
		a.warnQuota(ctx, stored)
		a.countJunked(p)
	}
	if len(p.rejected) > 0 {
		a.bounceRejected(ctx, msg, env, p)
	}
	a.recordDuplicates(ctx, p)
	a.collectContacts(ctx, p, env)
	if env.From != "" {
		a.sendVacationNotices(ctx, p, env)
	}
	return nil
}

// countJunked reports the copies filed into Junk of the accounts that
// got the message (one over quota got none).
func (a *Agent) countJunked(p *plan) {
	if a.cfg.Junked == nil {
		return
	}
	for _, j := range p.junked {
		if !p.refused[j.account] {
			a.cfg.Junked.Junked(j.reason)
		}
	}
}

func (a *Agent) inbox(ctx context.Context, accountID int64) (int64, error) {
	if id, ok := a.inboxes.Load(accountID); ok {
		return id.(int64), nil
	}
	mb, err := a.st.Mailbox(ctx, accountID, "INBOX")
	if err != nil {
		return 0, err
	}
	a.inboxes.Store(accountID, mb.ID)
	return mb.ID, nil
}

// tracePrefix is what final delivery adds in front of each copy: the
// Return-Path (RFC 5321 4.4) and Delivered-To, which lets filters and loop
// detection see which account this copy was for, followed by a
// Delivered-To for each account that forwarded it here, the last first.
func tracePrefix(from, rcpt string, forwardedBy ...string) []byte {
	b := []byte("Return-Path: <" + from + ">\r\nDelivered-To: " + rcpt + "\r\n")
	for _, f := range forwardedBy {
		b = append(b, "Delivered-To: "+f+"\r\n"...)
	}
	return b
}
