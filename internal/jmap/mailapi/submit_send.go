package mailapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"mailroom/internal/address"
	"mailroom/internal/delivery"
	"mailroom/internal/jmap"
	"mailroom/internal/mime"
	"mailroom/internal/sendas"
	"mailroom/internal/store"
)

// submitter makes the submissions of one EmailSubmission/set.
type submitter struct {
	a          *API
	c          *jmap.Call
	ac         *acct
	identities []identity // read on first use
	grants     func() ([]store.Delegation, error)
}

// submissionCreate is what a client gives to create an EmailSubmission.
type submissionCreate struct {
	IdentityID string    `json:"identityId"`
	EmailID    string    `json:"emailId"`
	Envelope   *envelope `json:"envelope"`
}

// create sends one message and records it, or holds it (FUTURERELEASE)
// for the Releaser: the submission and what the response's created
// shows, or why not.
func (s *submitter) create(ctx context.Context, raw json.RawMessage) (store.EmailSubmission, map[string]any, *jmap.SetError) {
	a, ac := s.a, s.ac
	var in submissionCreate
	if err := decodeStrict(raw, &in); err != nil {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetInvalidProperties, err.Error())
	}
	if a.submit.Delivery == nil {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenToSend, "this server does not send mail")
	}
	settings, err := a.st.Settings(ctx, ac.id)
	if err != nil {
		return s.fail("read settings", err)
	}
	if !settings.Bool("submission.enabled") {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenToSend, "sending mail is switched off for this account (setting submission.enabled)")
	}
	if s.identities == nil {
		if s.identities, _, err = a.identities(ctx, ac); err != nil {
			return s.fail("list identities", err)
		}
		s.grants = a.lazyGrants(ctx, ac)
	}
	idx := slices.IndexFunc(s.identities, func(i identity) bool { return i.ID == in.IdentityID })
	if idx < 0 {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("no Identity %q", in.IdentityID), "identityId")
	}
	ident := s.identities[idx]
	eid, _ := s.c.ResolveID(in.EmailID)
	n, ok := parseID('M', eid)
	var loc located
	if ok {
		found, err := a.locate(ctx, ac, map[int64]bool{n: true})
		if err != nil {
			return s.fail("find the Email", err)
		}
		loc, ok = found[n]
	}
	if !ok {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("no Email %q", in.EmailID), "emailId")
	}
	folder := ac.folders[loc.folder].ID()
	st, err := a.svc.Structure(ctx, folder, loc.meta.UID)
	if err != nil {
		return s.fail("read the Email", err)
	}
	env := st.Root.Envelope
	if env == nil || len(mailboxes(env.From)) == 0 {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetInvalidEmail, "the Email has no From address", "from")
	}
	// The originator rule of SMTP submission (internal/smtp/delegate.go):
	// every From address one the user may send as; an on-behalf one only
	// with the user in Sender:, added when there is none.
	var onBehalf bool
	var grantsUsed []store.Delegation
	for _, from := range mailboxes(env.From) {
		r, err := s.right(ctx, from)
		if err != nil {
			return s.fail("check the From address", err)
		}
		if !r.Allowed() {
			return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenFrom, "From: <"+from+"> is not an address of this account, and it may not send as it")
		}
		if !r.Own {
			onBehalf = onBehalf || r.Grant.Mode == store.SendOnBehalf
			if !slices.ContainsFunc(grantsUsed, func(g store.Delegation) bool { return g.OwnerID == r.Grant.OwnerID }) {
				grantsUsed = append(grantsUsed, r.Grant)
			}
		}
	}
	// The envelope keeps Sender defaulted to From, as IMAP wants it.
	sender := ""
	if senders := mailboxes(env.Sender); len(senders) > 0 && !slices.Equal(senders, mailboxes(env.From)) {
		sender = senders[0]
		r, err := s.right(ctx, sender)
		if err != nil {
			return s.fail("check the Sender address", err)
		}
		if !r.Own && (onBehalf || !r.Allowed() || r.Grant.Mode == store.SendOnBehalf) {
			return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenFrom, "Sender: <"+sender+"> must be this account's own address")
		}
	}
	var prefix []byte
	if onBehalf && sender == "" {
		sender = strings.ToLower(ac.email)
		prefix = []byte("Sender: " + sender + "\r\n")
	}
	// The envelope: the client's, or RFC 8621 §7.5's default (the Sender
	// or From address; To, Cc and Bcc).
	mailFrom := mailboxes(env.From)[0]
	if sender != "" {
		mailFrom = sender
	}
	var rcpts []string
	// A held submission (FUTURERELEASE) is sent at holdUntil. RFC 8621
	// gives parameters only in an explicit envelope: a client that holds
	// gives one.
	var holdUntil time.Time
	var held bool
	if in.Envelope != nil {
		mailFrom = in.Envelope.MailFrom.Email
		for _, r := range in.Envelope.RcptTo {
			rcpts = append(rcpts, r.Email)
		}
		if slices.ContainsFunc(in.Envelope.RcptTo, func(r envelopeAddress) bool { return len(r.Parameters) > 0 }) {
			return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetInvalidProperties, "this server takes no SMTP parameters on rcptTo", "envelope")
		}
		var err error
		if holdUntil, held, err = parseHold(in.Envelope.MailFrom.Parameters, time.Now()); err != nil {
			return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetInvalidProperties, err.Error(), "envelope")
		}
	} else {
		for _, l := range [][]mime.Address{env.To, env.Cc, env.Bcc} {
			rcpts = append(rcpts, mailboxes(l)...)
		}
	}
	mf, err := address.Parse(mailFrom)
	if err != nil {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenMailFrom, fmt.Sprintf("%q is not an address", mailFrom))
	}
	if r, err := s.right(ctx, mf.String()); err != nil {
		return s.fail("check the envelope sender", err)
	} else if !r.Allowed() {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenMailFrom, "<"+mf.String()+"> is not an address this account may send as")
	}
	denv := delivery.Envelope{From: mf.String(), UTF8: !isASCII(mf.String()), AuthUser: strings.ToLower(ac.email), SenderAccount: ac.id}
	var invalid []string
	for _, r := range rcpts {
		ra, err := address.Parse(r)
		if err != nil {
			invalid = append(invalid, r)
			continue
		}
		if !slices.ContainsFunc(denv.Recipients, func(x delivery.Recipient) bool { return x.Address == ra.String() }) {
			denv.Recipients = append(denv.Recipients, delivery.Recipient{Address: ra.String()})
			denv.UTF8 = denv.UTF8 || !isASCII(ra.String())
		}
	}
	if len(invalid) > 0 {
		return store.EmailSubmission{}, nil, &jmap.SetError{Type: jmap.SetInvalidRecipients, Description: "not addresses: " + strings.Join(invalid, ", "), InvalidRecipients: invalid}
	}
	if len(denv.Recipients) == 0 {
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetNoRecipients, "the envelope has no recipients")
	}
	if limit := a.submit.MaxRecipients; limit > 0 && len(denv.Recipients) > limit {
		return store.EmailSubmission{}, nil, &jmap.SetError{Type: jmap.SetTooManyRecipients, MaxRecipients: limit,
			Description: fmt.Sprintf("%d recipients; at most %d here", len(denv.Recipients), limit)}
	}
	if limit := a.submit.MaxMessageSize; limit > 0 && loc.meta.Size+int64(len(prefix)) > limit {
		return store.EmailSubmission{}, nil, &jmap.SetError{Type: jmap.SetTooLarge, MaxSize: limit,
			Description: fmt.Sprintf("the message is %d octets; at most %d here", loc.meta.Size, limit)}
	}
	// Every recipient must resolve, as at RCPT TO.
	agent := a.submit.Delivery
	for i, r := range denv.Recipients {
		res, err := agent.Resolve(ctx, r.Address, true)
		if err != nil {
			var de *delivery.Error
			if errors.As(err, &de) && !de.Temporary() {
				invalid = append(invalid, r.Address)
				continue
			}
			return s.temporary("resolve "+r.Address, err)
		}
		denv.Recipients[i].Resolved = res
	}
	if len(invalid) > 0 {
		return store.EmailSubmission{}, nil, &jmap.SetError{Type: jmap.SetInvalidRecipients, Description: "no such recipients: " + strings.Join(invalid, ", "), InvalidRecipients: invalid}
	}
	staged, err := a.stageSubmission(ctx, folder, loc.meta.UID, st, prefix)
	if err != nil {
		return s.temporary("stage the message", err)
	}
	defer staged.Discard()
	rec := store.EmailSubmission{AccountID: ac.id, IdentityID: ident.ID, EmailID: loc.meta.ID, ThreadID: loc.meta.ThreadID,
		MailFrom: denv.From, SendAt: time.Now(), AuthUser: denv.AuthUser}
	for _, r := range denv.Recipients {
		rec.RcptTo = append(rec.RcptTo, r.Address)
	}
	if held {
		// Up to the next second: the store keeps seconds, and a hold
		// must never end early.
		rec.SendAt = holdUntil.Add(time.Second - 1).Truncate(time.Second)
		if rec, err = a.hold(ctx, rec, staged, grantsUsed); err != nil {
			return s.temporary("hold the message", err)
		}
		a.log.Info("message held through JMAP", "account", ac.email, "from", denv.From, "rcpts", len(denv.Recipients),
			"size", staged.Size(), "until", rec.SendAt, "submission", rec.ID)
		return rec, s.createdOf(rec, in.Envelope == nil), nil
	}
	if err := agent.Deliver(ctx, staged, denv); err != nil {
		var de *delivery.Error
		if errors.As(err, &de) && !de.Temporary() {
			return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenToSend, "the message was refused: "+de.Msg)
		}
		return s.temporary("deliver", err)
	}
	a.log.Info("message sent through JMAP", "account", ac.email, "from", denv.From, "rcpts", len(denv.Recipients), "size", staged.Size())
	// Sent: what follows must not make the client send it again.
	a.keepOwnerCopies(ctx, ac.email, staged, grantsUsed)
	rec, err = a.st.AddEmailSubmission(ctx, rec)
	if err != nil {
		a.log.Error("jmap: a message was sent but its EmailSubmission not recorded", "account", ac.email, "err", err)
		return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbidden, "the message WAS SENT, but the server could not record the submission: do not send it again")
	}
	return rec, s.createdOf(rec, in.Envelope == nil), nil
}

// createdOf is what the response's created shows of rec: the properties
// the server set, the envelope too when the client gave none.
func (s *submitter) createdOf(rec store.EmailSubmission, withEnvelope bool) map[string]any {
	obj := submissionObjectOf(rec)
	created := map[string]any{"id": obj.ID, "threadId": obj.ThreadID, "sendAt": obj.SendAt, "undoStatus": obj.UndoStatus,
		"deliveryStatus": nil, "dsnBlobIds": obj.DSNBlobIDs, "mdnBlobIds": obj.MDNBlobIDs}
	if withEnvelope {
		created["envelope"] = obj.Envelope
	}
	return created
}

// hold stores rec as a pending submission with the staged message, the
// bytes as they are now: editing or destroying the Email afterwards does
// not change what is sent. The owners sent as are kept for their Sent
// copies at release. The message is at most the submission size limit,
// so reading it whole is bounded.
func (a *API) hold(ctx context.Context, rec store.EmailSubmission, staged store.Staged, grants []store.Delegation) (store.EmailSubmission, error) {
	r, err := staged.Open()
	if err != nil {
		return rec, fmt.Errorf("open staged message: %w", err)
	}
	defer r.Close()
	msg := make([]byte, staged.Size())
	if _, err := io.ReadFull(r, msg); err != nil {
		return rec, fmt.Errorf("read staged message: %w", err)
	}
	for _, g := range grants {
		rec.Owners = append(rec.Owners, g.OwnerID)
	}
	return a.st.HoldEmailSubmission(ctx, rec, msg)
}

func (s *submitter) right(ctx context.Context, addr string) (sendas.Right, error) {
	return s.a.right(ctx, s.ac, addr, s.grants)
}

// fail logs an unexpected error and refuses the one submission.
func (s *submitter) fail(op string, err error) (store.EmailSubmission, map[string]any, *jmap.SetError) {
	s.a.log.Error("jmap: EmailSubmission: "+op, "account", s.ac.email, "err", err)
	return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbidden, "the server could not "+op+"; nothing was sent, try again")
}

// temporary is a failure that may pass (the store, a directory lookup):
// nothing was sent.
func (s *submitter) temporary(op string, err error) (store.EmailSubmission, map[string]any, *jmap.SetError) {
	s.a.log.Warn("jmap: EmailSubmission: "+op, "account", s.ac.email, "err", err)
	return store.EmailSubmission{}, nil, jmap.NewSetError(jmap.SetForbiddenToSend, "temporary failure ("+op+"); nothing was sent, try again later")
}

// keepOwnerCopies keeps a copy in the Sent of every owner sent as whose
// delegation.sent_copy asks for it, as SMTP submission does.
func (a *API) keepOwnerCopies(ctx context.Context, account string, msg store.Staged, grants []store.Delegation) {
	keepOwnerCopies(ctx, a.submit.Delivery, a.log, account, msg, grants)
}

// keepOwnerCopies is the work of API.keepOwnerCopies, for the Releaser too.
func keepOwnerCopies(ctx context.Context, agent *delivery.Agent, log *slog.Logger, account string, msg store.Staged, grants []store.Delegation) {
	var copies []delivery.SentCopy
	for _, g := range grants {
		c, ok, err := agent.SentCopyOf(ctx, g)
		if err != nil {
			log.Error("jmap: delegation: finding the owner's Sent failed; no copy kept there", "account", account, "owner", g.Owner, "err", err)
			continue
		}
		if ok {
			copies = append(copies, c)
		}
	}
	if len(copies) == 0 {
		return
	}
	if _, err := agent.KeepSent(ctx, msg, copies); err != nil {
		log.Error("jmap: delegation: keeping a copy in the owner's Sent failed", "account", account, "err", err)
	}
}

// stageSubmission stages the stored message to send: prefix (a Sender:
// field) first, and without its Bcc fields, which name recipients the
// others must not see.
func (a *API) stageSubmission(ctx context.Context, folder int64, uid uint32, st *mime.Message, prefix []byte) (store.Staged, error) {
	body, err := a.svc.OpenBody(ctx, folder, uid)
	if err != nil {
		return nil, fmt.Errorf("open message: %w", err)
	}
	defer body.Close()
	hdrEnd := st.Root.BodyStart
	if hdrEnd <= 0 || hdrEnd > body.Size() {
		hdrEnd = 0
	}
	hdr := make([]byte, hdrEnd)
	if _, err := body.ReadAt(hdr, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read header: %w", err)
	}
	r := io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(withoutField(hdr, "bcc")),
		io.NewSectionReader(body, hdrEnd, body.Size()-hdrEnd))
	staged, err := a.st.Stage(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	return staged, nil
}

// withoutField removes every field named name (lower case) from a header
// block, continuation lines included.
func withoutField(hdr []byte, name string) []byte {
	var out []byte
	skipping := false
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line = hdr[:i+1]
		}
		hdr = hdr[len(line):]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				out = append(out, line...)
			}
			continue
		}
		field, _, found := bytes.Cut(line, []byte(":"))
		skipping = found && strings.EqualFold(strings.TrimSpace(string(field)), name)
		if !skipping {
			out = append(out, line...)
		}
	}
	return out
}

// mailboxes lists the addresses of an address list, groups flattened.
func mailboxes(list []mime.Address) []string {
	var out []string
	for _, a := range list {
		if a.GroupStart || a.GroupEnd || a.Mailbox == "" {
			continue
		}
		out = append(out, strings.ToLower(a.Mailbox+"@"+a.Host))
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
