package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"

	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// plan is where one message goes: the local copies, stored together in
// one transaction, and the forwarded copies for other domains.
type plan struct {
	targets []store.Target
	// owners are the accounts of targets, one for one: a target refused
	// for its account's quota is dropped with the others of its account.
	owners  []step
	refused map[int64]bool // accounts over quota that got no copy (quota.go)
	// refusedErr is the first refusal, for the reply when nobody got it.
	refusedErr *store.OverQuotaError
	forwards   []forwardCopy
	reached    []reached // every account the message reached, kept or forwarded: the vacation notices
	// rejected are the accounts whose Sieve script refused the message.
	rejected []rejection
	// duplicates are the ids to record for Sieve's duplicate test once
	// the message is stored.
	duplicates []duplicateRecord
	// junked are the keeps filed into Junk, counted once stored.
	junked []junkedCopy

	msg    store.Staged
	header mail.Header // read on first use
}

// junkedCopy is an account's keep filed into Junk, and why.
type junkedCopy struct {
	account int64
	reason  string
}

// reached is an account the message was delivered to or forwarded for.
type reached struct {
	acct store.Account
	// vacation is the answer the account's script asked for, if any.
	vacation *sieve.Vacation
	// via are the envelope recipients that led to the account; nil for an
	// account the message reached only through another's forwarding.
	via []string
}

// forwardCopy is a copy for other domains, made for one forwarding account.
type forwardCopy struct {
	// chain are the accounts it was forwarded through, the last one first:
	// each gets a Delivered-To line on the copy.
	chain  []string
	rcpt   *Recipient // the envelope recipient it came from: its DSN parameters
	remote []string
}

// step is an account the message is on its way to.
type step struct {
	acct  store.Account
	rcpt  *Recipient
	chain []string // the accounts that forwarded it here, the last one first; nil if addressed directly
}

// headerOf returns the message's header, reading it once.
func (p *plan) headerOf() (mail.Header, error) {
	if p.header == nil {
		h, err := readHeader(p.msg)
		if err != nil {
			return nil, err
		}
		p.header = h
	}
	return p.header, nil
}

// plan works out the local copies and forwards of msg: each account it
// reaches runs its Sieve scripts (sieve.go) on it, and the actions they
// decide become the copies to store (keep, fileinto), the copies to send
// on (redirect), refusals (reject) and answers (vacation). Redirects are
// followed here rather than in Resolve because they depend on the message,
// and so that every local copy, redirected or not, is still stored in
// Deliver's one transaction.
//
// Loops end three ways: an account is reached at most once per message
// (A forwards to B, B to A: each gets one copy); a chain of forwards is as
// bounded as a chain of aliases (maxAliasDepth); and an account never
// forwards a message that already carries its Delivered-To line, which
// is how a copy that went round other servers and came back is
// recognised. An account whose redirects lead nowhere new keeps the
// message whatever its script said, so a loop never loses it.
func (a *Agent) plan(ctx context.Context, msg store.Staged, env Envelope) (*plan, error) {
	p := &plan{msg: msg}
	var queue []step
	for i := range env.Recipients {
		r := &env.Recipients[i]
		for _, acct := range r.Accounts {
			queue = append(queue, step{acct: acct, rcpt: r})
		}
	}
	// The junk filter scores the message for the accounts it was sent to
	// in one call before any script runs: spamtest reads the score.
	verdicts := a.classify(ctx, msg, env, queue)
	index := map[int64]int{} // account ID -> position in p.reached
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if i, done := index[s.acct.ID]; done {
			if s.chain == nil && !slices.Contains(p.reached[i].via, s.rcpt.Address) {
				p.reached[i].via = append(p.reached[i].via, s.rcpt.Address)
			}
			continue
		}
		pr, err := a.prefs.get(ctx, s.acct.ID, a.loadPrefs)
		if err != nil {
			return nil, a.tempFail(err)
		}
		index[s.acct.ID] = len(p.reached)
		r := reached{acct: s.acct}
		if s.chain == nil {
			r.via = []string{s.rcpt.Address}
		}
		v, scored := verdicts[s.acct.ID]
		if !scored {
			// Reached through another account's redirect: scored now.
			v = a.classify(ctx, msg, env, []step{s})[s.acct.ID]
		}
		res := a.evaluate(ctx, p, env, s, pr, v)
		r.vacation = res.Vacation
		p.reached = append(p.reached, r)
		if res.Reject != nil {
			p.rejected = append(p.rejected, rejection{step: s, reject: *res.Reject})
			continue
		}
		keep := res.Keep
		if len(res.Redirect) > 0 && (len(env.Quarantine) > 0 || (v != nil && v.Junk)) {
			// Junk is not passed on: this server's name would be on it at
			// the receiver. It stays here, in Junk.
			a.log.Info("Sieve redirect not followed for junk: kept", "account", s.acct.Email)
			res.Redirect, keep = nil, true
		}
		if len(res.Redirect) > 0 {
			next, remote, err := a.forwardTargets(ctx, p, s, redirectAddresses(res.Redirect), index)
			if err != nil {
				return nil, err
			}
			if len(next) == 0 && len(remote) == 0 && !keep && len(res.FileInto) == 0 {
				// Every redirect led back or nowhere: the account keeps
				// the message, so that a loop never loses it.
				keep = true
			}
			queue = append(queue, next...)
			if len(remote) > 0 {
				p.forwards = append(p.forwards, forwardCopy{chain: forwardChain(s), rcpt: s.rcpt, remote: remote})
			}
		}
		if err := a.addTargets(ctx, p, env, s, res, keep, v); err != nil {
			return nil, a.tempFail(err)
		}
		for _, d := range res.Duplicates {
			p.duplicates = append(p.duplicates, duplicateRecord{accountID: s.acct.ID, Duplicate: d})
		}
	}
	return p, nil
}

func redirectAddresses(rs []sieve.Redirect) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Address
	}
	return out
}

// forwardChain is the chain of a copy forwarded by s's account.
func forwardChain(s step) []string {
	return append([]string{s.acct.Email}, s.chain...)
}

// forwardTargets resolves where s's account forwards to: the accounts not
// reached yet, as further steps, and the addresses in other domains. It
// returns nothing when the account must not forward this message.
func (a *Agent) forwardTargets(ctx context.Context, p *plan, s step, to []string, index map[int64]int) ([]step, []string, error) {
	if len(s.chain) >= maxAliasDepth {
		a.log.Warn("forwarding not followed: too many forwards in a row (a loop?)", "account", s.acct.Email, "chain", s.chain)
		return nil, nil, nil
	}
	h, err := p.headerOf()
	if err != nil {
		return nil, nil, a.tempFail(err)
	}
	for _, v := range h["Delivered-To"] {
		if headerAddress(v) == s.acct.Email {
			a.log.Warn("forwarding not followed: the message was delivered to the account before (a loop?), keeping it", "account", s.acct.Email)
			return nil, nil, nil
		}
	}
	chain := forwardChain(s)
	var next []step
	var remote []string
	for _, t := range to {
		res, err := a.Resolve(ctx, t, true)
		if err != nil {
			var de *Error
			if errors.As(err, &de) && de.Err == nil {
				// The target itself is refused (no such local user, no
				// route to other domains), not the directory failing: the
				// account keeps the message rather than anyone retrying.
				a.log.Warn("forward target refused", "account", s.acct.Email, "target", t, "err", err)
				continue
			}
			return nil, nil, err
		}
		for _, acct := range res.Accounts {
			if _, done := index[acct.ID]; !done && acct.ID != s.acct.ID {
				next = append(next, step{acct: acct, rcpt: s.rcpt, chain: chain})
			}
		}
		for _, addr := range res.Remote {
			if !slices.Contains(remote, addr) {
				remote = append(remote, addr)
			}
		}
	}
	return next, remote, nil
}

// sendForward queues a copy redirected to other domains. The envelope
// sender becomes the redirecting account (the last in the chain), so that
// the receiver's SPF check sees this server sending for its own domain
// and passes, while the message itself, unchanged, keeps its author's
// DKIM signature for DMARC (docs/configuration.md, "Filters"). Bounces
// of the redirected copy go to that account, which is who can mend the
// redirect. A bounce (null sender) stays a bounce: it never gets a
// sender to bounce back to. A Delivered-To line for each forwarding
// account is what stops the copy if it ever comes back.
func (a *Agent) sendForward(ctx context.Context, msg store.Staged, env Envelope, f forwardCopy) error {
	body, err := msg.Open()
	if err != nil {
		return fmt.Errorf("delivery: forward: %w", err)
	}
	defer body.Close()
	var prefix bytes.Buffer
	for _, who := range f.chain {
		prefix.WriteString("Delivered-To: " + who + "\r\n")
	}
	fwd, err := a.st.Stage(ctx, io.MultiReader(&prefix, body))
	if err != nil {
		return fmt.Errorf("delivery: forward: %w", err)
	}
	defer fwd.Discard()
	from := ""
	if env.From != "" {
		from = f.chain[0]
	}
	// The original sender's DSN requests (RET, ENVID, NOTIFY) were for
	// its own reports; the redirected copy reports to the account, naming
	// the address the message came to (ORCPT).
	fenv := Envelope{From: from, UTF8: env.UTF8, Recipients: []Recipient{{
		Address: f.rcpt.Address, DSNORcpt: f.rcpt.DSNORcpt, Resolved: Resolved{Remote: f.remote},
	}}}
	if err := a.cfg.Outbound.Enqueue(ctx, fenv, fwd); err != nil {
		return fmt.Errorf("delivery: forward: %w", err)
	}
	a.log.Info("forwarded", "account", f.chain[0], "to", f.remote)
	return nil
}
