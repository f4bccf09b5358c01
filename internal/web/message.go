package web

import (
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailroom/internal/htmlmail"
	mrmime "mailroom/internal/mime"
	"mailroom/internal/store"
)

type messageData struct {
	Mailbox     store.Mailbox
	UID         uint32
	From        string
	To, Cc      string
	ReplyTo     string
	Subject     string
	Date        int64
	Seen        bool
	Flagged     bool
	HTML        string        // sanitised HTML, shown in a sandboxed frame
	Text        template.HTML // plain text made into safe HTML
	Cut         bool
	Unshowable  bool // HTML that could not be made safe, and no text alternative
	Blocked     int  // remote images held back
	ImagesShown bool
	Attachments []attachment
	MoveTo      []folder
	Junk        junkInfo
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	mb, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	box, err := s.opts.Mailboxes.Open(ctx, mb.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not open the folder.")
		return
	}
	defer s.opts.Mailboxes.Release(box)
	meta, ok := box.Message(uid)
	if !ok {
		s.fail(w, r, http.StatusNotFound, "This message is gone: it was moved or deleted, maybe from another device.")
		return
	}
	st, err := box.Structure(ctx, uid)
	if err != nil {
		s.fail(w, r, storeStatus(err), "Could not read the message.")
		return
	}
	body, err := s.opts.Mailboxes.OpenBody(ctx, mb.ID, uid)
	if err != nil {
		s.fail(w, r, storeStatus(err), "Could not read the message.")
		return
	}
	defer body.Close()

	// Opening a message reads it, as a non-PEEK IMAP FETCH does.
	if meta.Flags&store.FlagSeen == 0 {
		if _, err := s.opts.Mailboxes.MarkSeen(ctx, mb.ID, []uint32{uid}); err == nil {
			meta.Flags |= store.FlagSeen
		}
	}
	d := messageData{Mailbox: mb, UID: uid, Date: meta.InternalDate, Seen: true, Flagged: meta.Flags&store.FlagFlagged != 0}
	if env := st.Root.Envelope; env != nil {
		d.Subject = env.DecodedSubject
		d.From = joinAddresses(env.From)
		d.To = joinAddresses(env.To)
		d.Cc = joinAddresses(env.Cc)
		if len(env.ReplyTo) > 0 {
			d.ReplyTo = joinAddresses(env.ReplyTo)
		}
	}
	d.Junk = junkInfoOf(mb, body)
	d.Attachments = attachments(st)
	base := "/msg/" + strconv.FormatInt(mb.ID, 10) + "/" + strconv.FormatUint(uint64(uid), 10)
	for i := range d.Attachments {
		d.Attachments[i].Download = base + "/part/" + d.Attachments[i].Path
	}
	d.ImagesShown = r.URL.Query().Get("images") == "1"
	htmlPart, plainPart := displayParts(st)
	if htmlPart != nil {
		res, err := s.html.Sanitize(partReader(body, htmlPart), param(htmlPart.Params, "charset"), htmlmail.Options{
			AllowRemoteImages: d.ImagesShown,
			CIDURL: func(cid string) string {
				return base + "/cid/" + url.PathEscape(cid)
			},
		})
		if err == nil {
			d.HTML, d.Blocked = res.HTML, res.RemoteBlocked
		} else {
			// Too deeply nested or otherwise unparseable: show the text
			// alternative, if any, rather than HTML we could not check.
			s.log.Info("HTML part not shown", "err", err)
			d.Unshowable = plainPart == nil
		}
	}
	if d.HTML == "" && plainPart != nil {
		text, cut := partText(body, plainPart)
		d.Cut = cut
		flowed := strings.EqualFold(param(plainPart.Params, "format"), "flowed")
		d.Text = template.HTML(htmlmail.PlainToHTML(text, flowed))
	}
	if folders, err := s.folders(ctx, sessionOf(r).AccountID, mb.Name); err == nil {
		for _, f := range folders {
			if f.ID != mb.ID {
				d.MoveTo = append(d.MoveTo, f)
			}
		}
	}
	if d.HTML != "" {
		// The frame's srcdoc inherits this page's policy. Mail layouts
		// live in style attributes (sanitised, no url()); scripts stay
		// forbidden. Remote images only when the user asked, for this page.
		csp := strings.Replace(defaultCSP, "style-src 'self'", "style-src 'self' 'unsafe-inline'", 1)
		if d.ImagesShown {
			csp = strings.Replace(csp, "img-src 'self' data:", "img-src 'self' data: https: http:", 1)
		}
		w.Header().Set("Content-Security-Policy", csp)
	}
	title := d.Subject
	if title == "" {
		title = "(no subject)"
	}
	s.render(w, r, http.StatusOK, "message", view{Title: title, Data: d})
}

func joinAddresses(list []mrmime.Address) string {
	var parts []string
	for _, a := range list {
		if a.GroupStart || a.GroupEnd {
			continue
		}
		parts = append(parts, addressFull(a))
	}
	return strings.Join(parts, ", ")
}

// messageParts opens a message's structure and body for a part request.
func (s *Server) messageParts(w http.ResponseWriter, r *http.Request) (*mrmime.Message, store.Body, bool) {
	mb, uid, err := s.messageRef(r)
	if err != nil {
		http.NotFound(w, r)
		return nil, nil, false
	}
	box, err := s.opts.Mailboxes.Open(r.Context(), mb.ID)
	if err != nil {
		http.Error(w, "could not open the folder", storeStatus(err))
		return nil, nil, false
	}
	st, err := box.Structure(r.Context(), uid) // cached: the page just showed it
	s.opts.Mailboxes.Release(box)
	if err != nil {
		http.Error(w, "no such message", storeStatus(err))
		return nil, nil, false
	}
	body, err := s.opts.Mailboxes.OpenBody(r.Context(), mb.ID, uid)
	if err != nil {
		http.Error(w, "no such message", storeStatus(err))
		return nil, nil, false
	}
	return st, body, true
}

// partDownload sends one attachment, decoded, as a download: never shown
// inline, never sniffed, whatever type the sender claimed.
func (s *Server) partDownload(w http.ResponseWriter, r *http.Request) {
	st, body, ok := s.messageParts(w, r)
	if !ok {
		return
	}
	defer body.Close()
	p := findPart(st, r.PathValue("part"))
	if p == nil || p.Type == "multipart" {
		http.NotFound(w, r)
		return
	}
	name := p.Filename
	if name == "" {
		name = "part-" + r.PathValue("part") + "." + p.Subtype
	}
	ctype := mime.FormatMediaType(p.Type+"/"+p.Subtype, nil)
	if ctype == "" || p.Type == "text" && p.Subtype == "html" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	io.Copy(w, partReader(body, p))
}

// inlinePart serves an inline image referenced by cid: from the message's
// HTML. Only images: anything else would let a mail serve a page from this
// origin.
func (s *Server) inlinePart(w http.ResponseWriter, r *http.Request) {
	st, body, ok := s.messageParts(w, r)
	if !ok {
		return
	}
	defer body.Close()
	cid := r.PathValue("cid")
	var found *mrmime.Part
	walk(st.Root, "", func(p *mrmime.Part, _ string) {
		if found == nil && strings.Trim(p.ID, "<> ") == cid {
			found = p
		}
	})
	if found == nil || found.Type != "image" {
		http.NotFound(w, r)
		return
	}
	switch found.Subtype {
	case "png", "jpeg", "gif", "webp":
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/"+found.Subtype)
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	io.Copy(w, partReader(body, found))
}

// setFlags marks a message read, unread, flagged or not.
func (s *Server) setFlags(w http.ResponseWriter, r *http.Request) {
	mb, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	upd := store.FlagUpdate{UIDs: []uint32{uid}}
	switch r.PostFormValue("action") {
	case "read":
		upd.Op, upd.Flags = store.FlagsAdd, store.FlagSeen
	case "unread":
		upd.Op, upd.Flags = store.FlagsRemove, store.FlagSeen
	case "flag":
		upd.Op, upd.Flags = store.FlagsAdd, store.FlagFlagged
	case "unflag":
		upd.Op, upd.Flags = store.FlagsRemove, store.FlagFlagged
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if _, err := s.opts.Mailboxes.UpdateFlags(r.Context(), mb.ID, upd); err != nil {
		s.fail(w, r, storeStatus(err), "Could not change the message.")
		return
	}
	back(w, r, r.PostFormValue("back"), "")
}

// messageRef reads /msg/{mailbox}/{uid}: a mailbox of the session's
// account (another account's is "not found") and a UID.
func (s *Server) messageRef(r *http.Request) (store.Mailbox, uint32, error) {
	mb, err := s.accountMailbox(r, r.PathValue("mailbox"))
	if err != nil {
		return mb, 0, err
	}
	uid, err := strconv.ParseUint(r.PathValue("uid"), 10, 32)
	if err != nil {
		return mb, 0, store.ErrNotFound
	}
	return mb, uint32(uid), nil
}

// messageTarget is messageRef for pages: a failure shows an error page.
func (s *Server) messageTarget(w http.ResponseWriter, r *http.Request) (store.Mailbox, uint32, bool) {
	mb, uid, err := s.messageRef(r)
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such message.")
		return mb, 0, false
	}
	return mb, uid, true
}

func (s *Server) moveMessage(w http.ResponseWriter, r *http.Request) {
	mb, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	dst, err := s.opts.Store.Mailbox(r.Context(), sessionOf(r).AccountID, r.PostFormValue("to"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder to move to.")
		return
	}
	if err := s.move(r, mb, uid, dst); err != nil {
		s.fail(w, r, storeStatus(err), "Could not move the message.")
		return
	}
	back(w, r, mailboxURL(mb.Name), "Moved to "+dst.Name+".")
}

func (s *Server) move(r *http.Request, src store.Mailbox, uid uint32, dst store.Mailbox) error {
	_, err := s.opts.Mailboxes.Move(r.Context(), src.ID, []uint32{uid}, dst.ID, store.KeepAll) // the user's own mailboxes: every flag
	return err
}

// deleteMessage moves a message to Trash, or deletes it for good when it
// is in Trash already (or there is no Trash).
func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	mb, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	trash, hasTrash := s.specialMailbox(r.Context(), sessionOf(r).AccountID, store.SpecialTrash)
	if hasTrash && trash.ID != mb.ID {
		if err := s.move(r, mb, uid, trash); err != nil {
			s.fail(w, r, storeStatus(err), "Could not delete the message.")
			return
		}
		back(w, r, mailboxURL(mb.Name), "Moved to Trash.")
		return
	}
	if _, err := s.opts.Mailboxes.Expunge(r.Context(), mb.ID, []uint32{uid}); err != nil {
		s.fail(w, r, storeStatus(err), "Could not delete the message.")
		return
	}
	back(w, r, mailboxURL(mb.Name), "Deleted.")
}
