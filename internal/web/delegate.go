package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/delivery"
	"mailroom/internal/store"
)

// Delegation in the webmail, with the rules SMTP submission applies
// (internal/smtp/delegate.go): the compose form offers as From the user's
// own address and those of the accounts that let the user send as them;
// on-behalf adds the user as Sender:, and the Sent copy follows the
// owner's delegation.sent_copy. The settings page lets an owner grant and
// revoke, and shows a delegate whom they may send as.

// fromChoice is an address the compose form offers as From.
type fromChoice struct {
	Address string
	// Grant is the delegation that allows it (Mode 0: the user's own).
	Grant store.Delegation
}

// Label is how the form shows the choice.
func (c fromChoice) Label() string {
	if c.Grant.Mode == store.SendOnBehalf {
		return c.Address + " (on its behalf: you show as the sender)"
	}
	return c.Address
}

// fromChoices lists what the session may send as: its own address first,
// then the owners that granted it a delegation, by address.
func (s *Server) fromChoices(ctx context.Context, sess *Session) ([]fromChoice, error) {
	out := []fromChoice{{Address: strings.ToLower(sess.Email)}}
	grants, err := s.opts.Store.DelegatedTo(ctx, sess.AccountID, sess.Email)
	if err != nil {
		return out, fmt.Errorf("web: delegations of %s: %w", sess.Email, err)
	}
	for _, g := range grants {
		out = append(out, fromChoice{Address: g.Owner, Grant: g})
	}
	return out, nil
}

// chooseFrom finds the posted From among the choices ("" is the user's
// own address).
func chooseFrom(choices []fromChoice, from string) (fromChoice, bool) {
	if from == "" {
		return choices[0], true
	}
	for _, c := range choices {
		if strings.EqualFold(c.Address, from) {
			return c, true
		}
	}
	return fromChoice{}, false
}

// envelopeFrom is the reverse path of a message sent with this From: the
// owner's address when sending as it (bounces are about its mail), the
// user's own on behalf, where the user is the sender.
func (c fromChoice) envelopeFrom(self string) string {
	if c.Grant.Mode == store.SendAs {
		return c.Address
	}
	return strings.ToLower(self)
}

// keepSent keeps the sent message in the user's Sent and, when it went
// out as an owner whose delegation.sent_copy is "both", in the owner's
// Sent too (delivery.KeepSent: one transaction, or each mailbox that is
// not full). It returns what the user is told: the message is on its way
// whatever happens here.
func (s *Server) keepSent(ctx context.Context, sess *Session, from fromChoice, staged store.Staged) string {
	agent := s.opts.Delivery
	var copies []delivery.SentCopy
	own, hasOwn, err := agent.OwnSentCopy(ctx, sess.AccountID, sess.Email)
	if err != nil {
		s.log.Error("compose: finding the Sent folder failed", "err", err)
	} else if hasOwn {
		copies = append(copies, own)
	}
	ownerCopy := false
	if g := from.Grant; g.Mode != 0 {
		c, ok, err := agent.SentCopyOf(ctx, g)
		if err != nil {
			s.log.Error("compose: finding the delegation owner's Sent failed; no copy kept there", "owner", g.Owner, "err", err)
		} else if ok {
			copies, ownerCopy = append(copies, c), true
		}
	}
	if len(copies) == 0 {
		return "Message sent. (Your account has no Sent folder, so no copy was kept.)"
	}
	refused, err := agent.KeepSent(ctx, staged, copies)
	if err != nil {
		s.log.Error("compose: keeping a copy in Sent failed", "err", err)
		return "Message sent, but no copy could be kept in Sent."
	}
	ownKept, ownerKept, full := hasOwn, ownerCopy, ""
	for _, oq := range refused {
		full, _ = overQuotaMessage(oq, sess.Email)
		if oq.AccountID == sess.AccountID {
			ownKept = false
		} else {
			ownerKept = false
		}
	}
	switch {
	case ownKept && ownerKept:
		return "Message sent. A copy is in your Sent folder and in the Sent folder of " + from.Address + "."
	case ownKept && ownerCopy:
		return "Message sent. A copy is in your Sent folder, but none in the Sent folder of " + from.Address + ": " + full
	case ownKept:
		return "Message sent."
	case ownerKept && hasOwn:
		return "Message sent. A copy is in the Sent folder of " + from.Address + ", but none in yours: " + full
	case ownerKept:
		return "Message sent. A copy is in the Sent folder of " + from.Address + " (your account has no Sent folder)."
	}
	return "Message sent, but no copy was kept in Sent: " + full
}

// delegateAction grants or revokes a delegation of the session's account.
func (s *Server) delegateAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	typed := strings.TrimSpace(r.PostFormValue("grantee"))
	granteeErr := func(status int, msg string) {
		s.renderSettingsWith(w, r, status, "", func(d *settingsData) {
			d.Grantee = typed
			d.Errs = fieldErrors{"grantee": msg}
		})
	}
	grantee, _, err := acl.Canonical(typed)
	if err != nil {
		granteeErr(http.StatusBadRequest, "Not saved: write an address (name@example.com) or a whole domain (@example.com).")
		return
	}
	switch r.PostFormValue("action") {
	case "grant":
		mode, err := store.ParseDelegationMode(r.PostFormValue("mode"))
		if err == nil {
			err = s.opts.Store.GrantDelegation(ctx, sess.AccountID, grantee, mode)
		}
		if err != nil {
			granteeErr(storeStatus(err), "Not saved: "+delegationProblem(grantee, err))
			return
		}
		how := "send as you"
		if mode == store.SendOnBehalf {
			how = "send on your behalf"
		}
		back(w, r, "/settings", grantee+" may now "+how+".")
	case "revoke":
		if err := s.opts.Store.RevokeDelegation(ctx, sess.AccountID, grantee); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("settings: revoking a delegation failed", "err", err)
			s.renderSettings(w, r, storeStatus(err), "Could not revoke it; try again.", "", "")
			return
		}
		back(w, r, "/settings", grantee+" may no longer send as you.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

// delegationProblem says why a grant was refused, in the form's terms.
func delegationProblem(grantee string, err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "there is no account or domain " + grantee + " on this server."
	case errors.Is(err, store.ErrInvalid):
		if grantee == acl.Anyone || grantee == acl.Authenticated {
			return "sending as you can be allowed to an address or a whole @domain only."
		}
		// The store's reason, without the wrapping.
		msg := err.Error()
		if i := strings.LastIndex(msg, store.ErrInvalid.Error()+": "); i >= 0 {
			msg = msg[i+len(store.ErrInvalid.Error())+2:]
		}
		return msg + "."
	}
	return "the change could not be stored; try again."
}
