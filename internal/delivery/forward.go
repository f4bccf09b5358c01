package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"

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

	msg    store.Staged
	header mail.Header // read on first use
}

// reached is an account the message was delivered to or forwarded for.
type reached struct {
	acct  store.Account
	prefs prefs
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

// plan works out the local copies and forwards of msg. Forwarding is
// followed here rather than in Resolve because it depends on the message
// (its Delivered-To lines), and so that every local copy, forwarded or
// not, is still stored in Deliver's one transaction.
//
// Loops end three ways: an account is reached at most once per message
// (A forwards to B, B to A: each gets one copy); a chain of forwards is as
// bounded as a chain of aliases (maxAliasDepth); and an account never
// forwards a message that already carries its Delivered-To line, which
// is how a copy that went round other servers and came back is
// recognised. An account whose forwarding leads nowhere new keeps the
// message whatever forward.keep says, so a loop never loses it.
func (a *Agent) plan(ctx context.Context, msg store.Staged, env Envelope) (*plan, error) {
	p := &plan{msg: msg}
	var keepers []step // the accounts that keep a copy, in order
	var queue []step
	for i := range env.Recipients {
		r := &env.Recipients[i]
		for _, acct := range r.Accounts {
			queue = append(queue, step{acct: acct, rcpt: r})
		}
	}
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
		pr, err := a.prefs.get(ctx, s.acct.ID, a.st.Settings)
		if err != nil {
			return nil, a.tempFail(err)
		}
		index[s.acct.ID] = len(p.reached)
		r := reached{acct: s.acct, prefs: pr}
		if s.chain == nil {
			r.via = []string{s.rcpt.Address}
		}
		p.reached = append(p.reached, r)

		keep := true
		if len(pr.forward) > 0 {
			next, remote, err := a.forwardTargets(ctx, p, s, pr.forward, index)
			if err != nil {
				return nil, err
			}
			if len(next) > 0 || len(remote) > 0 {
				keep = pr.keep
			}
			queue = append(queue, next...)
			if len(remote) > 0 {
				p.forwards = append(p.forwards, forwardCopy{chain: forwardChain(s), rcpt: s.rcpt, remote: remote})
			}
		}
		if keep {
			keepers = append(keepers, s)
		}
	}
	verdicts := a.classify(ctx, msg, env, keepers)
	for i, s := range keepers {
		dest, field, err := a.destination(ctx, s.acct, env, verdicts[i])
		if err != nil {
			return nil, a.tempFail(err)
		}
		p.targets = append(p.targets, store.Target{MailboxID: dest, HeaderPrefix: append(tracePrefix(env.From, s.acct.Email, s.chain...), field...)})
		p.owners = append(p.owners, s)
	}
	return p, nil
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

// sendForward queues a forwarded copy for other domains. It keeps the
// original envelope sender (there is no SRS), so that bounces go to whoever
// wrote the message, and adds a Delivered-To line for each forwarding
// account, which is what stops the copy if it ever comes back.
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
	fenv := Envelope{From: env.From, UTF8: env.UTF8, DSNRet: env.DSNRet, DSNEnvID: env.DSNEnvID, Recipients: []Recipient{{
		Address: f.rcpt.Address, DSNNotify: f.rcpt.DSNNotify, DSNORcpt: f.rcpt.DSNORcpt, Resolved: Resolved{Remote: f.remote},
	}}}
	if err := a.cfg.Outbound.Enqueue(ctx, fenv, fwd); err != nil {
		return fmt.Errorf("delivery: forward: %w", err)
	}
	a.log.Info("forwarded", "account", f.chain[0], "to", f.remote)
	return nil
}
