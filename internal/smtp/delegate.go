package smtp

import (
	"fmt"
	"slices"

	"mailroom/internal/address"
	"mailroom/internal/delivery"
	"mailroom/internal/sendas"
	"mailroom/internal/store"
)

// Submission's sender rules. An authenticated account may use as MAIL
// FROM, in From: and in Sender: its own addresses: its address, a
// plus-address of it, an alias that delivers to it. With a delegation
// (store.Delegations) it may also use the addresses of an account that
// granted it the right, resolved the same way:
//
//   - send-as: the owner's address in From:, nothing else asked;
//   - on-behalf: the owner's address in From: only with the sender's own
//     address in Sender: (RFC 5322 3.6.2: the agent responsible for the
//     transmission), so readers show "kim on behalf of sales". Most
//     mail programs cannot set Sender:, so a message without one gets
//     "Sender: <the account's address>", as Exchange adds it; a Sender:
//     naming anyone else is refused.
//
// When the owner's delegation.sent_copy is "both", a copy of the message
// goes to the owner's Sent mailbox, \Seen, before the 250.

// sender is what the authenticated account may do with one address.
type sender struct {
	own bool // one of the account's own addresses
	// grant, if its Mode is set, is the delegation that lets the
	// account use the address, one of the owner's.
	grant store.Delegation
}

// allowed reports whether the account may use the address at all.
func (r sender) allowed() bool { return r.own || r.grant.Mode != 0 }

// errLookup is a directory lookup that failed: the answer is a temporary
// failure, never a refusal of an address that may well be the user's.
var errLookup = smtpError(451, [3]int{4, 3, 0}, "temporary failure checking the sender address, try again later")

// senderOf says what the account may do with addr (cached for the
// session, like the delegations behind it: a grant or revocation takes
// effect on the next connection). A malformed address is no address of
// anyone's.
func (s *session) senderOf(addr string) (sender, error) {
	a, err := address.Parse(addr)
	if err != nil || s.principal == nil {
		return sender{}, nil
	}
	key := a.String()
	if r, seen := s.senders[key]; seen {
		return r, nil
	}
	r, err := s.checkSender(a)
	if err != nil {
		s.srv.log.Error("sender lookup failed", append(s.logger(), "addr", key, "err", err)...)
		return sender{}, errLookup
	}
	s.senders[key] = r
	return r, nil
}

// checkSender applies the shared rule (sendas.Check) to a: the same
// decision the webmail and JMAP make.
func (s *session) checkSender(a address.Address) (sender, error) {
	r, err := sendas.Check(s.ctx, s.srv.opts.Store, s.srv.opts.Config.PlusSeparator, s.principal.Email, a, s.delegations)
	if err != nil {
		return sender{}, err
	}
	return sender{own: r.Own, grant: r.Grant}, nil
}

// delegations returns what the account may send as, read once per
// session and only when an address is not its own.
func (s *session) delegations() ([]store.Delegation, error) {
	if s.grants != nil {
		return s.grants, nil
	}
	grants, err := s.srv.opts.Store.DelegatedTo(s.ctx, s.principal.AccountID, s.principal.Email)
	if err != nil {
		return nil, err
	}
	s.grants = append([]store.Delegation{}, grants...) // not nil: read
	return s.grants, nil
}

// checkOriginatorRights applies the rules above to a submitted message's
// From: and Sender: addresses. It returns the Sender: field to add (or
// nil) and the grants the message is sent under, one per owner.
func (s *session) checkOriginatorRights(orig originator) ([]byte, []store.Delegation, error) {
	var onBehalf string // an on-behalf owner's address in From:
	var used []store.Delegation
	for _, addr := range orig.from {
		r, err := s.senderOf(addr)
		if err != nil {
			return nil, nil, err
		}
		if !r.allowed() {
			return nil, nil, s.refuseOriginator(addr, "From: <"+addr+"> is not an address of your account, and you may not send as it")
		}
		if r.own {
			continue
		}
		if r.grant.Mode == store.SendOnBehalf && onBehalf == "" {
			onBehalf = addr
		}
		if !slices.ContainsFunc(used, func(g store.Delegation) bool { return g.OwnerID == r.grant.OwnerID }) {
			used = append(used, r.grant)
		}
	}
	if orig.sender == "" {
		if onBehalf == "" {
			return nil, used, nil
		}
		return []byte("Sender: " + s.principal.Email + "\r\n"), used, nil
	}
	r, err := s.senderOf(orig.sender)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case onBehalf != "" && !r.own:
		return nil, nil, s.refuseOriginator(orig.sender, fmt.Sprintf("you may send as <%s> only on its behalf: Sender: must be your own address (%s), not <%s>; leave Sender: out to have it added",
			onBehalf, s.principal.Email, orig.sender))
	case !r.allowed():
		return nil, nil, s.refuseOriginator(orig.sender, "Sender: <"+orig.sender+"> is not an address of your account")
	case !r.own && r.grant.Mode == store.SendOnBehalf:
		// Sender: names who really sent it; an on-behalf grant does
		// not let the delegate claim that to be the owner.
		return nil, nil, s.refuseOriginator(orig.sender, fmt.Sprintf("you may send only on behalf of <%s>: Sender: must be your own address (%s)", orig.sender, s.principal.Email))
	}
	return nil, used, nil
}

// refuseOriginator is the 553 5.7.1 for an originator address the account
// may not use.
func (s *session) refuseOriginator(addr, msg string) error {
	s.srv.log.Info("originator refused", append(s.logger(), "addr", addr, "reason", msg)...)
	return smtpError(553, [3]int{5, 7, 1}, msg)
}

// keepSentCopies puts msg into the Sent mailbox of every owner it was sent
// for whose delegation.sent_copy asks for it, \Seen, before the 250. The
// message is on its way by then: a failure here is logged and the
// submission still succeeds, as a 4xx would make the client send it to
// every recipient again. An owner over quota loses only its own copy.
func (s *session) keepSentCopies(msg store.Staged, grants []store.Delegation) {
	agent := s.srv.opts.Delivery
	var copies []delivery.SentCopy
	for _, g := range grants {
		c, ok, err := agent.SentCopyOf(s.ctx, g)
		if err != nil {
			s.srv.log.Error("delegation: finding the owner's Sent mailbox failed; no copy kept there", append(s.logger(), "owner", g.Owner, "err", err)...)
			continue
		}
		if ok {
			copies = append(copies, c)
		}
	}
	if len(copies) == 0 {
		return
	}
	refused, err := agent.KeepSent(s.ctx, msg, copies)
	for _, oq := range refused {
		s.srv.log.Warn("delegation: the owner's mailbox is full; no copy kept in its Sent", append(s.logger(), "owner", oq.Email)...)
	}
	if err != nil {
		s.srv.log.Error("delegation: keeping a copy in the owner's Sent failed", append(s.logger(), "err", err)...)
		return
	}
	if len(refused) < len(copies) {
		s.srv.log.Info("delegation: copy kept in the owner's Sent", s.logger()...)
	}
}
