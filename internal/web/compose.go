package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"mailroom/internal/delivery"
	"mailroom/internal/mailbox"
	mrmime "mailroom/internal/mime"
	"mailroom/internal/store"
)

const (
	// composeMemory is how much of a compose form is held in memory while
	// it is parsed; larger uploads go to temporary files, removed when the
	// request ends.
	composeMemory = 8 << 20
	// maxQuoted bounds the text quoted into a reply or a forward: the
	// textarea has to carry it back, and nobody edits megabytes of quote.
	maxQuoted = 1 << 20
	// maxReferences bounds a reply's References field. RFC 5322 3.6.4
	// lets a client drop IDs from the middle of a long thread; the first
	// (the thread's root) and the newest are the ones threading needs.
	maxReferences = 20
	// maxHeaderRead bounds the header block read to find fields the
	// recorded envelope lacks (References).
	maxHeaderRead = 256 << 10
	// answeredHeader records in a draft which message it replies to, so
	// that sending the draft later still marks that message \Answered. It
	// is written into drafts only, never into what is sent.
	answeredHeader = "X-Mailroom-Answered"
)

func (s *Server) composeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /compose", s.requireLogin(s.composePage))
	// The size limit wraps requireLogin, which reads the form for its
	// CSRF check: the body must be bounded before anything reads it.
	mux.HandleFunc("POST /compose", s.limitCompose(s.requireLogin(s.composePost)))
}

// composeData is the compose form: what a reply, forward or draft filled
// in, or what the user typed when the form comes back with an error.
type composeData struct {
	Heading                    string
	To, Cc, Bcc, Subject, Body string
	// InReplyTo and References are header values ("<id> <id>"), carried
	// in hidden fields and checked again when the form is posted.
	InReplyTo, References string
	// Answered names the message replied to ("MAILBOXID/UID"): it is
	// marked \Answered once the reply is sent.
	Answered string
	// Attach names the message whose attachments are carried into this
	// one (the forwarded message, or the draft being edited); Carried
	// lists them, each kept unless the user unticks it.
	Attach  string
	Carried []carriedPart
	// Draft names the draft being edited: replaced when saved again,
	// removed once sent.
	Draft string
	// Invalid is the field the error is about ("to", "cc", "bcc").
	Invalid string
	// Focus is the field the cursor starts in.
	Focus   string
	MaxSize int64
	// From is the address chosen to send as, among FromChoices (the
	// user's own and those delegated to them: delegate.go).
	From        string
	FromChoices []fromChoice
}

// carriedPart is an attachment of the Attach message.
type carriedPart struct {
	attachment
	Keep bool
}

// text returns the message's text for quoting: the plain text part, or
// the HTML part made into text.
func (src *source) text() string {
	htmlPart, plainPart := displayParts(src.st)
	var text string
	switch {
	case plainPart != nil:
		text, _ = partText(src.body, plainPart)
	case htmlPart != nil:
		h, _ := partText(src.body, htmlPart)
		text = htmlToText(h)
	}
	if len(text) > maxQuoted {
		text = text[:maxQuoted]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	return text
}

func (s *Server) composePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := composeData{Focus: "to"}
	var err error
	gone := "That message is gone: it was moved or deleted, maybe from another device."
	switch {
	case q.Get("draft") != "":
		gone = "There is no such draft: it was sent, deleted or moved, maybe from another device."
		err = s.prefill(r, q.Get("draft"), func(src *source) error { return fillDraft(&d, src) })
	case q.Get("reply") != "":
		err = s.prefill(r, q.Get("reply"), func(src *source) error { fillReply(&d, src, sessionOf(r).Email, false); return nil })
	case q.Get("replyall") != "":
		err = s.prefill(r, q.Get("replyall"), func(src *source) error { fillReply(&d, src, sessionOf(r).Email, true); return nil })
	case q.Get("forward") != "":
		err = s.prefill(r, q.Get("forward"), func(src *source) error { fillForward(&d, src); return nil })
	default:
		// "Write to" links elsewhere in the webmail can name a recipient.
		d.To = q.Get("to")
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, http.StatusNotFound, gone)
			return
		}
		if !errors.Is(err, mailbox.ErrNoPermission) { // a folder shared without "r"
			s.log.Error("compose: reading a message failed", "err", err)
		}
		s.fail(w, r, accessStatus(err), "Could not read the message.")
		return
	}
	s.showCompose(w, r, http.StatusOK, d, "")
}

// prefill opens the message ref and lets fill take what it needs from it.
func (s *Server) prefill(r *http.Request, ref string, fill func(*source) error) error {
	src, err := s.openSource(r, ref)
	if err != nil {
		return err
	}
	defer src.Close()
	return fill(src)
}

// showCompose renders the compose form, with an error when it comes back.
func (s *Server) showCompose(w http.ResponseWriter, r *http.Request, status int, d composeData, errMsg string) {
	if d.Heading == "" {
		switch {
		case d.Draft != "":
			d.Heading = "Edit draft"
		case d.Answered != "":
			d.Heading = "Reply"
		case d.Attach != "":
			d.Heading = "Forward"
		default:
			d.Heading = "New message"
		}
	}
	if d.Invalid != "" {
		d.Focus = d.Invalid
	}
	d.MaxSize = int64(s.opts.Config.SMTP.MaxMessageSize)
	// Without the delegations the form still offers the own address.
	choices, err := s.fromChoices(r.Context(), sessionOf(r))
	if err != nil {
		s.log.Error("compose: reading delegations failed", "err", err)
	}
	d.FromChoices = choices
	if c, ok := chooseFrom(choices, d.From); ok {
		d.From = c.Address
	} else {
		d.From = choices[0].Address
	}
	s.render(w, r, status, "compose", view{Title: d.Heading, Error: errMsg, Data: d})
}

// fillReply prefills a reply (to all when all): to the Reply-To addresses
// (which the recorded envelope defaults to From), quoting the text.
func fillReply(d *composeData, src *source, self string, all bool) {
	env := src.envelope()
	isSelf := func(a mrmime.Address) bool { return strings.EqualFold(a.Mailbox+"@"+a.Host, self) }
	to := env.ReplyTo
	if len(to) > 0 && !slices.ContainsFunc(to, func(a mrmime.Address) bool { return !isSelf(a) && !a.GroupStart && !a.GroupEnd }) {
		// Replying to one's own message (from Sent) goes to its recipients.
		to = env.To
	}
	seen := map[string]bool{strings.ToLower(self): true}
	if all {
		d.To = formatAddresses(seen, to, env.To)
		d.Cc = formatAddresses(seen, env.Cc)
	} else {
		d.To = formatAddresses(seen, to)
	}
	d.Subject = prefixSubject("Re: ", env.DecodedSubject, "re:")
	if ids := msgIDs(env.MessageID); len(ids) > 0 {
		d.InReplyTo = "<" + ids[0] + ">"
		refs := msgIDs(src.hdr.Get("References"))
		if len(refs) == 0 {
			// RFC 5322 3.6.4: without References, the parent's
			// In-Reply-To (if it names one message) starts the list.
			if parent := msgIDs(env.InReplyTo); len(parent) == 1 {
				refs = parent
			}
		}
		d.References = joinIDs(trimReferences(append(refs, ids[0])))
	}
	who := "someone"
	if len(env.From) > 0 {
		who = addressLabel(env.From[0])
	}
	intro := who + " wrote:"
	if t, err := netmail.ParseDate(env.Date); err == nil {
		intro = "On " + t.Local().Format("Mon, 2 Jan 2006 at 15:04") + ", " + intro
	}
	d.Body = "\n\n" + intro + "\n" + quote(src.text())
	d.Answered = src.ref
	d.Focus = "body"
}

// fillForward prefills a forward: the original's header and text below a
// "Forwarded message" line, its attachments carried.
func fillForward(d *composeData, src *source) {
	env := src.envelope()
	d.Subject = prefixSubject("Fwd: ", env.DecodedSubject, "fwd:", "fw:")
	var b strings.Builder
	b.WriteString("\n\n---------- Forwarded message ----------\n")
	b.WriteString("From: " + joinAddresses(env.From) + "\n")
	if env.Date != "" {
		b.WriteString("Date: " + env.Date + "\n")
	}
	b.WriteString("Subject: " + env.DecodedSubject + "\n")
	if len(env.To) > 0 {
		b.WriteString("To: " + joinAddresses(env.To) + "\n")
	}
	if len(env.Cc) > 0 {
		b.WriteString("Cc: " + joinAddresses(env.Cc) + "\n")
	}
	b.WriteString("\n" + quote(src.text()))
	d.Body = b.String()
	d.Attach = src.ref
	d.Carried = carried(src.st, nil)
}

// fillDraft loads a saved draft back into the form.
func fillDraft(d *composeData, src *source) error {
	if !ownDrafts(src.f) {
		// Editing replaces (and sending removes) the message: only a
		// draft may be edited that way.
		return fmt.Errorf("web: message %s is not a draft: %w", src.ref, store.ErrNotFound)
	}
	env := src.envelope()
	if len(env.From) == 1 {
		// Sent as whom it was written as, if the user still may.
		d.From = env.From[0].Mailbox + "@" + env.From[0].Host
	}
	seen := map[string]bool{}
	d.To = formatAddresses(seen, env.To)
	d.Cc = formatAddresses(seen, env.Cc)
	d.Bcc = formatAddresses(seen, env.Bcc)
	d.Subject = env.DecodedSubject
	if ids := msgIDs(env.InReplyTo); len(ids) > 0 {
		d.InReplyTo = joinIDs(trimReferences(ids))
	}
	d.References = joinIDs(trimReferences(msgIDs(src.hdr.Get("References"))))
	if a := strings.TrimSpace(src.hdr.Get(answeredHeader)); validRefSyntax(a) {
		d.Answered = a
	}
	d.Body = strings.ReplaceAll(src.text(), "\r\n", "\n")
	d.Draft = src.ref
	d.Attach = src.ref
	d.Carried = carried(src.st, nil)
	if d.To != "" {
		d.Focus = "body"
	}
	return nil
}

// carried lists the attachments of a message; keep, if not nil, says
// which are still ticked.
func carried(st *mrmime.Message, keep []string) []carriedPart {
	var out []carriedPart
	for _, a := range attachments(st) {
		out = append(out, carriedPart{attachment: a, Keep: keep == nil || slices.Contains(keep, a.Path)})
	}
	return out
}

// limitCompose bounds a compose POST at the largest message the server
// accepts, before anything reads the body, and parses the form with a
// bounded memory share so that requireLogin's CSRF check finds it parsed.
// A form over the limit gets a page saying so (413).
func (s *Server) limitCompose(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.currentSession(r)
		if sess == nil || err != nil {
			next(w, r) // requireLogin refuses it without reading the body
			return
		}
		r = withSession(r, sess) // requireLogin need not look it up again
		limit := int64(s.opts.Config.SMTP.MaxMessageSize)
		if r.ContentLength > limit {
			s.composeTooLarge(w, r, sess)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		err = r.ParseMultipartForm(composeMemory)
		if r.MultipartForm != nil {
			// The server removes the temporary files too, but only of the
			// request it created; this one may be a copy.
			defer r.MultipartForm.RemoveAll()
		}
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge), errors.Is(err, multipart.ErrMessageTooLarge):
			s.composeTooLarge(w, r, sess)
			return
		case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
			// Large uploads are spooled to temporary files first.
			s.log.Error("compose: spooling the upload failed: disk full", "err", err)
			s.render(w, r, http.StatusInsufficientStorage, "error", view{Title: statusTitle(http.StatusInsufficientStorage), Session: sess,
				Data: errorPage{Message: "The server is out of disk space, so nothing was sent. Try again later."}})
			return
		case err != nil && !errors.Is(err, http.ErrNotMultipart):
			s.log.Info("compose: unreadable form", "err", err)
			s.render(w, r, http.StatusBadRequest, "error", view{Title: statusTitle(http.StatusBadRequest), Session: sess,
				Data: errorPage{Message: "The form could not be read (the upload was cut off?). Nothing was sent."}})
			return
		}
		next(w, r)
	}
}

func (s *Server) composeTooLarge(w http.ResponseWriter, r *http.Request, sess *Session) {
	limit := funcs["size"].(func(int64) string)(int64(s.opts.Config.SMTP.MaxMessageSize))
	s.render(w, r, http.StatusRequestEntityTooLarge, "error", view{Title: "Message too large", Session: sess,
		Data: errorPage{Message: "The message is too large: with its attachments it may be at most " + limit +
			" on this server. Nothing was sent or saved; go back to keep what you wrote, and attach less."}})
}

// outgoing is a message to write.
type outgoing struct {
	From string
	// As is what From is sent as: the user's own address, or one a
	// delegation allows (then Sender names the user on behalf).
	As          fromChoice
	Sender      string
	To, Cc, Bcc []*netmail.Address
	Subject     string
	Text        string
	InReplyTo   []string
	References  []string
	Answered    string // the message replied to: \Answered once sent, recorded in drafts
	Uploads     []*multipart.FileHeader
	Carried     *source
	Parts       []*mrmime.Part // attachments of Carried to copy
	// Replaces is the draft this message replaces once saved, or removes
	// once sent (UID 0: none).
	Replaces    mailbox.Folder
	ReplacesUID uint32
}

// composeFail shows the compose form again with an error.
type composeFail func(status int, field, msg string)

// composePost checks the posted form and sends it or saves it as a
// draft; any problem brings the form back as typed.
func (s *Server) composePost(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	d := composeData{
		To: r.PostFormValue("to"), Cc: r.PostFormValue("cc"), Bcc: r.PostFormValue("bcc"),
		Subject: r.PostFormValue("subject"), Body: r.PostFormValue("body"),
		InReplyTo: r.PostFormValue("in_reply_to"), References: r.PostFormValue("references"),
		Answered: r.PostFormValue("answered"), Attach: r.PostFormValue("attach"), Draft: r.PostFormValue("draft"),
		From: r.PostFormValue("from"), Focus: "to",
	}
	var uploads []*multipart.FileHeader
	if r.MultipartForm != nil {
		uploads = r.MultipartForm.File["files"]
	}
	// fail shows the form again with everything the user typed: file
	// inputs cannot be refilled by a server, so the message says so.
	fail := composeFail(func(status int, field, msg string) {
		d.Invalid = field
		if len(uploads) > 0 {
			msg += " Choose the files to attach again."
		}
		s.showCompose(w, r, status, d, msg)
	})
	action := r.PostFormValue("action")
	if action != "send" && action != "draft" {
		fail(http.StatusBadRequest, "", "Choose Send or Save draft.")
		return
	}

	choices, err := s.fromChoices(r.Context(), sess)
	if err != nil {
		s.log.Error("compose: reading delegations failed", "err", err)
		if d.From != "" && !strings.EqualFold(d.From, sess.Email) {
			fail(http.StatusServiceUnavailable, "", "Could not check whether you may send as "+d.From+"; try again shortly.")
			return
		}
	}
	as, ok := chooseFrom(choices, d.From)
	if !ok {
		fail(http.StatusForbidden, "", "You may not send as "+d.From+" (any more): choose another From address.")
		return
	}
	m := &outgoing{From: as.Address, As: as, Uploads: uploads, Text: d.Body}
	if as.Grant.Mode == store.SendOnBehalf {
		m.Sender = strings.ToLower(sess.Email)
	}
	if d.Attach != "" {
		src, err := s.openSource(r, d.Attach)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.Error("compose: reading carried attachments failed", "err", err)
				fail(http.StatusInternalServerError, "", "Could not read the attachments carried from the original message; try again.")
				return
			}
			d.Attach = ""
			fail(http.StatusConflict, "", "The message whose attachments were carried here is gone (moved or deleted, maybe from another device), so they are no longer attached. Check the message and try again.")
			return
		}
		defer src.Close()
		// Not one box ticked is no "keep" field at all: still a list,
		// an empty one (nil would keep everything).
		d.Carried = carried(src.st, append([]string{}, r.PostForm["keep"]...))
		m.Carried = src
		for _, c := range d.Carried {
			if p := findPart(src.st, c.Path); c.Keep && p != nil {
				m.Parts = append(m.Parts, p)
			}
		}
	}
	if d.Draft != "" {
		f, uid, err := s.parseRef(r, d.Draft)
		if err != nil || !ownDrafts(f) {
			// The draft is replaced or removed later: never let the
			// field name a message elsewhere.
			d.Draft = ""
			fail(http.StatusBadRequest, "", "The draft being edited is not in your Drafts folder any more; this will be saved or sent as a new message.")
			return
		}
		m.Replaces, m.ReplacesUID = f, uid
	}
	if d.Answered != "" && !validRefSyntax(d.Answered) {
		d.Answered = ""
		fail(http.StatusBadRequest, "", "The link to the message being answered was damaged; it was dropped. Check the message and try again.")
		return
	}
	m.Answered = d.Answered
	if m.InReplyTo, ok = validIDList(d.InReplyTo); !ok || len(m.InReplyTo) > maxReferences {
		d.InReplyTo, d.References = "", ""
		fail(http.StatusBadRequest, "", "The reply's reference to the original message was damaged; it was dropped. Check the message and try again.")
		return
	}
	if m.References, ok = validIDList(d.References); !ok || len(m.References) > maxReferences+1 {
		d.References = ""
		fail(http.StatusBadRequest, "", "The reply's references to the conversation were damaged; they were dropped. Check the message and try again.")
		return
	}
	// A subject is one line: a browser sends none with a line end, a
	// crafted form could.
	m.Subject = strings.Join(strings.Fields(d.Subject), " ")
	for _, f := range []struct {
		name, label, value string
		list               *[]*netmail.Address
	}{{"to", "To", d.To, &m.To}, {"cc", "Cc", d.Cc, &m.Cc}, {"bcc", "Bcc", d.Bcc, &m.Bcc}} {
		if *f.list, err = parseAddresses(f.value); err != nil {
			fail(http.StatusBadRequest, f.name, "The "+f.label+" field "+addressProblem(f.value, err)+
				". Write addresses as name@example.com or Name <name@example.com>, separated by commas.")
			return
		}
	}

	if action == "draft" {
		s.saveDraft(w, r, m, fail)
		return
	}
	s.send(w, r, m, fail)
}

// saveDraft stores m in Drafts (\Draft, \Seen), replacing the draft it
// was edited from, and goes on editing the new one.
func (s *Server) saveDraft(w http.ResponseWriter, r *http.Request, m *outgoing, fail composeFail) {
	ctx := r.Context()
	drafts, ok := s.specialMailbox(ctx, sessionOf(r).AccountID, store.SpecialDrafts)
	if !ok {
		fail(http.StatusConflict, "", "Your account has no Drafts folder to save into.")
		return
	}
	staged, status, msg := s.stageOutgoing(ctx, m, true)
	if staged == nil {
		fail(status, "", msg)
		return
	}
	defer staged.Discard()
	dl, err := s.opts.Mailboxes.Append(ctx, staged, []store.Target{{MailboxID: drafts.ID, Flags: store.FlagDraft | store.FlagSeen}})
	if msg, over := overQuotaMessage(err, sessionOf(r).Email); over {
		fail(http.StatusInsufficientStorage, "", "The draft was not saved: "+msg)
		return
	}
	if err != nil {
		s.log.Error("compose: saving a draft failed", "err", err)
		fail(http.StatusInternalServerError, "", "Could not save the draft; try again.")
		return
	}
	// Only now that the new version is stored does the old one go.
	if m.ReplacesUID != 0 {
		s.expungeOne(r, m.Replaces, m.ReplacesUID)
	}
	back(w, r, "/compose?draft="+messageRef(dl[0].MailboxID, dl[0].UID), "Draft saved.")
}

// send sends m as SMTP submission would, keeps a copy in Sent, marks the
// message answered and removes the draft sent.
func (s *Server) send(w http.ResponseWriter, r *http.Request, m *outgoing, fail composeFail) {
	ctx := r.Context()
	sess := sessionOf(r)
	// The path SMTP submission takes: the account must be allowed to
	// send, every recipient must resolve, then the delivery agent stores
	// local copies and queues remote ones.
	settings, err := s.opts.Store.Settings(ctx, sess.AccountID)
	if err != nil {
		s.log.Error("compose: reading settings failed", "err", err)
		fail(http.StatusServiceUnavailable, "", "Could not read your account settings; try again shortly.")
		return
	}
	if !settings.Bool("submission.enabled") {
		fail(http.StatusForbidden, "", "Sending mail is switched off for this account (setting submission.enabled), so nothing was sent. You can save the message as a draft; ask your administrator to allow sending.")
		return
	}
	from := m.As.envelopeFrom(sess.Email)
	env := delivery.Envelope{From: from, UTF8: !isASCII(from), SenderAccount: sess.AccountID}
	field := map[string]string{}
	for _, f := range []struct {
		name string
		list []*netmail.Address
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}} {
		for _, a := range f.list {
			addr := strings.ToLower(a.Address)
			if _, dup := field[addr]; !dup {
				field[addr] = f.name
				env.Recipients = append(env.Recipients, delivery.Recipient{Address: addr})
				env.UTF8 = env.UTF8 || !isASCII(addr)
			}
		}
	}
	if len(env.Recipients) == 0 {
		fail(http.StatusBadRequest, "to", "Add at least one recipient.")
		return
	}
	if limit := s.opts.Config.SMTP.MaxRecipients; limit > 0 && len(env.Recipients) > limit {
		fail(http.StatusBadRequest, "to", fmt.Sprintf("A message can go to at most %d addresses here; this one has %d.", limit, len(env.Recipients)))
		return
	}
	var problems []string
	status, invalid := http.StatusBadRequest, ""
	for i, rc := range env.Recipients {
		res, err := s.opts.Delivery.Resolve(ctx, rc.Address, true)
		if err != nil {
			var de *delivery.Error
			if !errors.As(err, &de) {
				s.log.Error("compose: resolving a recipient failed", "rcpt", rc.Address, "err", err)
				de = &delivery.Error{Code: 451, Msg: "<" + rc.Address + ">: temporary failure, try again later"}
			}
			if de.Temporary() {
				status = http.StatusServiceUnavailable
			}
			if invalid == "" {
				invalid = field[rc.Address]
			}
			problems = append(problems, de.Msg)
			continue
		}
		env.Recipients[i].Resolved = res
	}
	if len(problems) > 0 {
		fail(status, invalid, "Nothing was sent: "+strings.Join(problems, "; ")+".")
		return
	}
	// Bcc recipients are in the envelope only: writeMessage leaves the
	// field out of everything but drafts.
	staged, status, msg := s.stageOutgoing(ctx, m, false)
	if staged == nil {
		fail(status, "", msg)
		return
	}
	defer staged.Discard()
	if err := s.opts.Delivery.Deliver(ctx, staged, env); err != nil {
		s.log.Error("compose: delivery failed", "from", env.From, "err", err)
		msg := "Could not send the message; try again later."
		var de *delivery.Error
		if errors.As(err, &de) {
			msg = "Could not send the message: " + de.Msg + "."
		}
		fail(http.StatusServiceUnavailable, "", msg)
		return
	}
	s.log.Info("message sent from the web", "from", env.From, "rcpts", len(env.Recipients), "size", staged.Size())

	// The message is on its way: what follows is bookkeeping, and a
	// failure there must not make the user send it twice.
	flash := s.keepSent(ctx, sess, m.As, staged)
	// Back to where the user came from: the folder of the message
	// answered or forwarded (Drafts for a draft), else INBOX.
	to := "/mail/INBOX"
	if m.Carried != nil {
		to = mailboxURL(m.Carried.f.Name())
	}
	if m.Answered != "" {
		if f, uid, err := s.parseRef(r, m.Answered); err == nil {
			s.markAnswered(r, f, uid)
			to = mailboxURL(f.Name())
		}
	}
	if m.ReplacesUID != 0 {
		s.expungeOne(r, m.Replaces, m.ReplacesUID)
	}
	back(w, r, to, flash)
}

// stageOutgoing writes m into the store's staging area. On failure it
// returns a nil Staged with the status and message for the form.
func (s *Server) stageOutgoing(ctx context.Context, m *outgoing, draft bool) (store.Staged, int, string) {
	// The message streams from the writer into the store: attachments
	// are not held in memory twice.
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer s.containPanic("web: writing a composed message", func() { pw.CloseWithError(errors.New("writing the message failed")) })
		pw.CloseWithError(s.writeMessage(pw, m, draft))
	}()
	staged, err := s.opts.Store.Stage(ctx, pr)
	pr.CloseWithError(errors.New("staging ended")) // stops the writer if Stage gave up early
	<-done
	if errors.Is(err, store.ErrInsufficientStorage) {
		s.log.Error("compose: staging the message failed: disk full", "err", err)
		return nil, http.StatusInsufficientStorage, "The server is out of disk space, so nothing was sent. Try again later."
	}
	if err != nil {
		s.log.Error("compose: staging the message failed", "err", err)
		return nil, http.StatusInternalServerError, "Could not write the message; try again."
	}
	if limit := int64(s.opts.Config.SMTP.MaxMessageSize); staged.Size() > limit {
		// Attachments grow by a third when encoded for mail, so a form
		// under the limit can make a message over it.
		staged.Discard()
		size := funcs["size"].(func(int64) string)
		return nil, http.StatusRequestEntityTooLarge, "The message is too large: encoded for mail it is " + size(staged.Size()) +
			", and this server accepts at most " + size(limit) + ". Attach less."
	}
	return staged, 0, ""
}

// writeMessage writes m as a MIME message: text/plain in UTF-8 (quoted-
// printable), inside multipart/mixed when it has attachments. From is
// the session's own address or one a delegation allows (with Sender:
// when on behalf, except in drafts). Bcc is written into drafts only.
func (s *Server) writeMessage(w io.Writer, m *outgoing, draft bool) error {
	var h mail.Header
	if draft && m.Answered != "" {
		h.Set(answeredHeader, m.Answered)
	}
	if len(m.References) > 0 {
		h.SetMsgIDList("References", m.References)
	}
	if len(m.InReplyTo) > 0 {
		h.SetMsgIDList("In-Reply-To", m.InReplyTo)
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	h.SetMessageID(hex.EncodeToString(rnd[:]) + "@" + s.opts.Config.Hostname)
	h.SetSubject(m.Subject)
	if draft {
		setAddresses(&h, "Bcc", m.Bcc)
	}
	setAddresses(&h, "Cc", m.Cc)
	setAddresses(&h, "To", m.To)
	if m.Sender != "" && !draft {
		// Before From in the code, so after it in the message.
		setAddresses(&h, "Sender", []*netmail.Address{{Address: m.Sender}})
	}
	setAddresses(&h, "From", []*netmail.Address{{Address: m.From}})
	h.SetDate(time.Now())
	// go-message writes fields in the reverse order of setting them: the
	// above comes out as Date, From, To, Cc, Subject, Message-ID, ….

	text := strings.ReplaceAll(m.Text, "\r\n", "\n")
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if len(m.Uploads) == 0 && len(m.Parts) == 0 {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		tw, err := mail.CreateSingleInlineWriter(w, h)
		if err != nil {
			return fmt.Errorf("web: write message header: %w", err)
		}
		if _, err := io.WriteString(tw, text); err != nil {
			return fmt.Errorf("web: write message text: %w", err)
		}
		return tw.Close()
	}
	mw, err := mail.CreateWriter(w, h)
	if err != nil {
		return fmt.Errorf("web: write message header: %w", err)
	}
	var th mail.InlineHeader
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	tw, err := mw.CreateSingleInline(th)
	if err != nil {
		return fmt.Errorf("web: write message text: %w", err)
	}
	if _, err := io.WriteString(tw, text); err != nil {
		return fmt.Errorf("web: write message text: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("web: write message text: %w", err)
	}
	for _, p := range m.Parts {
		if err := writeCarried(mw, m.Carried.body, p); err != nil {
			return err
		}
	}
	for _, fh := range m.Uploads {
		if err := writeUpload(mw, fh); err != nil {
			return err
		}
	}
	return mw.Close()
}

// setAddresses sets an address field; a bare address is written without
// the angle brackets net/mail puts around it.
func setAddresses(h *mail.Header, key string, list []*netmail.Address) {
	if len(list) == 0 {
		return
	}
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = a.String()
		if a.Name == "" {
			parts[i] = strings.TrimSuffix(strings.TrimPrefix(parts[i], "<"), ">")
		}
	}
	h.Set(key, strings.Join(parts, ", "))
}

// writeUpload attaches an uploaded file with the type the browser gave
// (without parameters), or application/octet-stream.
func writeUpload(mw *mail.Writer, fh *multipart.FileHeader) error {
	ctype := "application/octet-stream"
	if t, _, err := mime.ParseMediaType(fh.Header.Get("Content-Type")); err == nil && strings.Count(t, "/") == 1 &&
		!strings.HasPrefix(t, "multipart/") && !strings.HasPrefix(t, "message/") {
		// multipart and message types would need a structure the upload
		// may not have: sent as bytes, they stay bytes.
		ctype = t
	}
	var ah mail.AttachmentHeader
	ah.SetContentType(ctype, nil)
	ah.SetFilename(cleanFilename(fh.Filename))
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("web: read upload %q: %w", fh.Filename, err)
	}
	defer f.Close()
	pw, err := mw.CreateAttachment(ah)
	if err != nil {
		return fmt.Errorf("web: attach %q: %w", fh.Filename, err)
	}
	if _, err := io.Copy(pw, f); err != nil {
		return fmt.Errorf("web: attach %q: %w", fh.Filename, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("web: attach %q: %w", fh.Filename, err)
	}
	return nil
}

// writeCarried copies an attachment of a stored message, decoded and
// encoded again. Text is converted to UTF-8 (go-message writes no other
// charset); a message/rfc822 part keeps its 7bit/8bit form, since RFC 2046
// forbids encoding it.
func writeCarried(mw *mail.Writer, body store.Body, p *mrmime.Part) error {
	var ah mail.AttachmentHeader
	var params map[string]string
	r := partReader(body, p)
	switch {
	case p.Type == "text":
		params = map[string]string{"charset": "utf-8"}
		if cs := param(p.Params, "charset"); mrmime.KnownCharset(cs) {
			r = mrmime.CharsetReader(cs, r)
		} else {
			// Bytes in a charset nobody here can read stay bytes:
			// labelled UTF-8 they would be garbled.
			p = &mrmime.Part{Type: "application", Subtype: "octet-stream", Filename: p.Filename, ID: p.ID}
			params = nil
		}
	case p.Type == "message" && (p.Encoding == "7bit" || p.Encoding == "8bit"):
		ah.Set("Content-Transfer-Encoding", p.Encoding)
	case p.Type == "message" || p.Type == "multipart":
		p = &mrmime.Part{Type: "application", Subtype: "octet-stream", Filename: p.Filename, ID: p.ID}
	}
	ah.SetContentType(p.Type+"/"+p.Subtype, params)
	name := p.Filename
	if name == "" {
		name = "attachment." + p.Subtype
	}
	ah.SetFilename(cleanFilename(name))
	if cid := strings.Trim(p.ID, "<> "); cid != "" && validIDSyntax(cid) {
		ah.Set("Content-ID", "<"+cid+">")
	}
	pw, err := mw.CreateAttachment(ah)
	if err != nil {
		return fmt.Errorf("web: attach %q: %w", name, err)
	}
	if _, err := io.Copy(pw, r); err != nil {
		return fmt.Errorf("web: copy attachment %q: %w", name, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("web: copy attachment %q: %w", name, err)
	}
	return nil
}

// cleanFilename keeps a file name to one line of printable characters.
func cleanFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "attachment"
	}
	return name
}

// parseAddresses parses an address field as typed: empty is no address,
// and separators at the ends are forgiven.
func parseAddresses(s string) ([]*netmail.Address, error) {
	s = strings.Trim(s, " \t\r\n,")
	if s == "" {
		return nil, nil
	}
	list, err := netmail.ParseAddressList(s)
	if err != nil {
		return nil, fmt.Errorf("web: address list: %w", err)
	}
	return list, nil
}

// addressProblem says which entry of a list that does not parse is not
// an address: net/mail's own errors ("no angle-addr") name none.
func addressProblem(list string, err error) string {
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" || strings.ContainsRune(item, '"') {
			continue // a quoted name may hold the comma split at
		}
		if _, err := netmail.ParseAddress(item); err != nil {
			return "has " + strconv.Quote(item) + ", which is not a mail address"
		}
	}
	return "is not a list of mail addresses (" + strings.TrimPrefix(errors.Unwrap(err).Error(), "mail: ") + ")"
}

// formatAddresses writes address lists for a form field, in a syntax
// net/mail reads back, skipping group markers, addresses without a
// domain and those in seen (which it adds to).
func formatAddresses(seen map[string]bool, lists ...[]mrmime.Address) string {
	var out []string
	for _, list := range lists {
		for _, a := range list {
			if a.GroupStart || a.GroupEnd || a.Host == "" || a.Mailbox == "" {
				continue
			}
			local := a.Mailbox
			if !isDotAtom(local) {
				local = quoteString(local)
			}
			addr := local + "@" + a.Host
			key := strings.ToLower(a.Mailbox + "@" + a.Host)
			if seen[key] {
				continue
			}
			seen[key] = true
			name := strings.Join(strings.Fields(a.DecodedName), " ")
			if name == "" {
				out = append(out, addr)
				continue
			}
			if !isPhrase(name) {
				name = quoteString(name)
			}
			out = append(out, name+" <"+addr+">")
		}
	}
	return strings.Join(out, ", ")
}

func isAtext(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r) || r >= utf8.RuneSelf
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r != '.' && !isAtext(r) {
			return false
		}
	}
	return true
}

// isPhrase reports whether a display name can go unquoted: atoms
// separated by spaces.
func isPhrase(s string) bool {
	for _, r := range s {
		if r != ' ' && !isAtext(r) {
			return false
		}
	}
	return true
}

func quoteString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// prefixSubject adds "Re: " or "Fwd: " unless the subject already starts
// with one of the given prefixes (any case).
func prefixSubject(prefix, subject string, already ...string) string {
	subject = strings.Join(strings.Fields(subject), " ")
	lower := strings.ToLower(subject)
	for _, p := range already {
		if strings.HasPrefix(lower, p) {
			return subject
		}
	}
	return prefix + subject
}

// quote prefixes every line with "> " (">" before a line already quoted
// or empty, so nested quotes read ">>").
func quote(text string) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		switch {
		case l == "" || strings.HasPrefix(l, ">"):
			lines[i] = ">" + l
		default:
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// msgIDs extracts the message IDs ("<…>") of a header value, without
// their brackets, skipping what is not one (comments, broken IDs).
func msgIDs(v string) []string {
	var ids []string
	for {
		start := strings.IndexByte(v, '<')
		if start < 0 {
			return ids
		}
		end := strings.IndexByte(v[start:], '>')
		if end < 0 {
			return ids
		}
		if id := v[start+1 : start+end]; validIDSyntax(id) {
			ids = append(ids, id)
		}
		v = v[start+end+1:]
	}
}

// validIDList checks a posted In-Reply-To or References value: only
// "<id>" tokens separated by spaces, as this form wrote them.
func validIDList(v string) ([]string, bool) {
	var ids []string
	for _, tok := range strings.Fields(v) {
		if len(tok) < 3 || tok[0] != '<' || tok[len(tok)-1] != '>' || !validIDSyntax(tok[1:len(tok)-1]) {
			return nil, false
		}
		ids = append(ids, tok[1:len(tok)-1])
	}
	return ids, true
}

// validIDSyntax accepts a message ID's inside: printable ASCII without
// spaces or brackets, short enough for one header line.
func validIDSyntax(id string) bool {
	if id == "" || len(id) > 250 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "<" + strings.Join(ids, "> <") + ">"
}

// trimReferences keeps the first ID and the newest ones.
func trimReferences(ids []string) []string {
	if len(ids) <= maxReferences {
		return ids
	}
	return append([]string{ids[0]}, ids[len(ids)-maxReferences+1:]...)
}

// validRefSyntax checks a "MAILBOXID/UID" reference's form (its owner is
// checked when it is used).
func validRefSyntax(ref string) bool {
	id, uid, ok := strings.Cut(ref, "/")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseInt(id, 10, 64)
	_, err2 := strconv.ParseUint(uid, 10, 32)
	return err1 == nil && err2 == nil
}

// htmlToText turns an HTML body into plain text for quoting: text kept,
// blocks on their own lines, scripts and styles dropped.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip := 0
	space := false // white space seen since the last word
	newline := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		space = false
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			text := b.String()
			for strings.Contains(text, "\n\n\n") {
				text = strings.ReplaceAll(text, "\n\n\n", "\n\n")
			}
			return strings.TrimSpace(text)
		case html.TextToken:
			if skip == 0 {
				raw := string(z.Text())
				words := strings.Fields(raw)
				if len(words) == 0 {
					space = space || raw != ""
					break
				}
				// Words split by tags ("<b>Bob</b>,") stay together;
				// white space between them becomes one space.
				if (space || strings.TrimLeft(raw, " \t\r\n\f") != raw) && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
					b.WriteByte(' ')
				}
				b.WriteString(strings.Join(words, " "))
				space = strings.TrimRight(raw, " \t\r\n\f") != raw
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case atom.Br:
				b.WriteByte('\n')
				space = false
			case atom.P, atom.Div, atom.Blockquote, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Table, atom.Ul, atom.Ol:
				newline()
				if tt == html.EndTagToken && (atom.Lookup(name) == atom.P || atom.Lookup(name) == atom.Blockquote) {
					b.WriteByte('\n')
				}
			case atom.Li, atom.Tr, atom.Hr, atom.Pre:
				newline()
			}
		}
	}
}
