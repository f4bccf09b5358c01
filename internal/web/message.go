package web

import (
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailroom/internal/htmlmail"
	"mailroom/internal/mailbox"
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
	// Owner is the owner of a folder shared with the user ("": the
	// user's own); Can what the user's rights on it allow.
	Owner string
	Can   can
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := s.user(r)
	uid, err := strconv.ParseUint(r.PathValue("uid"), 10, 32)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "There is no such message.")
		return
	}
	// The folder list is needed for "Move to" anyway: the folder is
	// looked up in it, not read again.
	list, err := s.listFolders(ctx, u, "")
	if err != nil {
		s.log.Error("web: listing folders failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not list your folders.")
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("mailbox"), 10, 64)
	f, ok := list.byID(id)
	if !ok {
		if f, err = u.FolderByID(ctx, id); err != nil {
			s.fail(w, r, storeStatus(err), "There is no such message.")
			return
		}
	}
	mb := f.Mailbox()
	box, err := u.Open(ctx, f)
	if err != nil {
		s.failOp(w, r, err, f, "read messages")
		return
	}
	defer s.opts.Mailboxes.Release(box)
	meta, ok := box.Message(uint32(uid))
	if !ok {
		s.fail(w, r, http.StatusNotFound, "This message is gone: it was moved or deleted, maybe from another device.")
		return
	}
	if v, err := readerView(ctx, u, f); err != nil {
		s.failOp(w, r, err, f, "read messages")
		return
	} else if v != nil {
		metas := []store.MessageMeta{meta}
		asSeenBy(v, metas)
		v.Close()
		meta = metas[0]
	}
	st, err := box.Structure(ctx, uint32(uid))
	if err != nil {
		s.fail(w, r, storeStatus(err), "Could not read the message.")
		return
	}
	body, err := box.Body(ctx, uint32(uid))
	if err != nil {
		s.fail(w, r, storeStatus(err), "Could not read the message.")
		return
	}
	defer body.Close()

	// Opening a message reads it, as a non-PEEK IMAP FETCH does (not
	// without the "s" right: MarkSeen does nothing then).
	if meta.Flags&store.FlagSeen == 0 {
		if res, err := u.MarkSeen(ctx, f, []uint32{uint32(uid)}); err == nil && len(res.Updated) > 0 {
			meta.Flags |= store.FlagSeen
		}
	}
	d := messageData{Mailbox: mb, UID: uint32(uid), Date: meta.InternalDate, Seen: meta.Flags&store.FlagSeen != 0, Flagged: meta.Flags&store.FlagFlagged != 0,
		Owner: f.Owner(), Can: canOf(f.Rights()), MoveTo: list.moveTargets(mb.ID)}
	if env := st.Root.Envelope; env != nil {
		d.Subject = env.DecodedSubject
		d.From = joinAddresses(env.From)
		d.To = joinAddresses(env.To)
		d.Cc = joinAddresses(env.Cc)
		if len(env.ReplyTo) > 0 {
			d.ReplyTo = joinAddresses(env.ReplyTo)
		}
	}
	if f.Owner() == "" {
		// Junk is the user's own business: another account's Junk is
		// just a folder here.
		d.Junk = junkInfoOf(mb, body)
	}
	d.Attachments = attachments(st)
	base := "/msg/" + strconv.FormatInt(mb.ID, 10) + "/" + strconv.FormatUint(uid, 10)
	for i := range d.Attachments {
		d.Attachments[i].Download = base + "/part/" + d.Attachments[i].Path
	}
	d.ImagesShown = r.URL.Query().Get("images") == "1"
	htmlPart, plainPart := displayParts(st)
	if htmlPart != nil {
		res, err := s.html.Sanitize(partReader(body, htmlPart), param(htmlPart.Params, "charset"), htmlmail.Options{
			AllowRemoteImages: d.ImagesShown,
			Styles:            true,
			CIDURL: func(cid string) string {
				return base + "/cid/" + url.PathEscape(cid)
			},
		})
		if err == nil {
			// The sheets are scoped to the wrapper; the frame is a
			// document of its own, so they reach nothing else anyway.
			// res.CSS holds no '<': it cannot end its element.
			if res.HTML != "" {
				d.HTML = `<style>` + res.CSS + `</style><div id="` + htmlmail.ScopeID + `" dir="auto">` + res.HTML + `</div>`
			}
			d.Blocked = res.RemoteBlocked
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
	f, uid, err := s.messageRef(r)
	if err != nil {
		http.NotFound(w, r)
		return nil, nil, false
	}
	box, err := s.user(r).Open(r.Context(), f)
	if err != nil {
		http.Error(w, "you may not read this folder", accessStatus(err))
		return nil, nil, false
	}
	defer s.opts.Mailboxes.Release(box)
	st, err := box.Structure(r.Context(), uid) // cached: the page just showed it
	if err != nil {
		http.Error(w, "no such message", storeStatus(err))
		return nil, nil, false
	}
	body, err := box.Body(r.Context(), uid)
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
	f, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	upd := store.FlagUpdate{UIDs: []uint32{uid}}
	doing := "mark messages read or unread"
	switch r.PostFormValue("action") {
	case "read":
		upd.Op, upd.Flags = store.FlagsAdd, store.FlagSeen
	case "unread":
		upd.Op, upd.Flags = store.FlagsRemove, store.FlagSeen
	case "flag":
		upd.Op, upd.Flags, doing = store.FlagsAdd, store.FlagFlagged, "flag messages"
	case "unflag":
		upd.Op, upd.Flags, doing = store.FlagsRemove, store.FlagFlagged, "flag messages"
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if _, err := s.user(r).UpdateFlags(r.Context(), f, upd); err != nil {
		s.failOp(w, r, err, f, doing)
		return
	}
	back(w, r, r.PostFormValue("back"), "")
}

// messageRef reads /msg/{mailbox}/{uid}: a folder the user can see (any
// other is "not found") and a UID.
func (s *Server) messageRef(r *http.Request) (mailbox.Folder, uint32, error) {
	f, err := s.folderByID(r, r.PathValue("mailbox"))
	if err != nil {
		return f, 0, err
	}
	uid, err := strconv.ParseUint(r.PathValue("uid"), 10, 32)
	if err != nil {
		return f, 0, fmt.Errorf("web: uid %q: %w", r.PathValue("uid"), store.ErrNotFound)
	}
	return f, uint32(uid), nil
}

// messageTarget is messageRef for pages: a failure shows an error page.
func (s *Server) messageTarget(w http.ResponseWriter, r *http.Request) (mailbox.Folder, uint32, bool) {
	f, uid, err := s.messageRef(r)
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such message.")
		return f, 0, false
	}
	return f, uid, true
}

func (s *Server) moveMessage(w http.ResponseWriter, r *http.Request) {
	src, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	dst, err := s.user(r).Folder(r.Context(), r.PostFormValue("to"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder to move to.")
		return
	}
	if err := s.move(r, src, uid, dst); err != nil {
		s.failMove(w, r, err, src, dst)
		return
	}
	back(w, r, mailboxURL(src.Name()), "Moved to "+dst.Name()+".")
}

// move moves a message through the user's rights: out of src needs
// "r", "t" and "e", into dst "i" (mailbox.User.Move). Between the user's
// own folders every flag goes along.
func (s *Server) move(r *http.Request, src mailbox.Folder, uid uint32, dst mailbox.Folder) error {
	_, err := s.user(r).Move(r.Context(), src, []uint32{uid}, dst)
	return err
}

// failMove says which end of a refused move the user's rights stop.
func (s *Server) failMove(w http.ResponseWriter, r *http.Request, err error, src, dst mailbox.Folder) {
	if !canOf(src.Rights()).Move {
		s.failOp(w, r, err, src, "move messages out of %s")
		return
	}
	s.failOp(w, r, err, dst, "move messages into %s")
}

// deleteMessage moves a message of the user's own to Trash, or deletes
// it for good when it is in Trash already (or there is no Trash). In a
// folder another account shares it is deleted for good, with the rights
// that takes there ("t" and "e"): moving it to the user's Trash would
// take it from everyone who shares the folder and count it against the
// user.
func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	f, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	u := s.user(r)
	if f.Owner() == "" {
		trash, hasTrash := s.specialMailbox(ctx, sessionOf(r).AccountID, store.SpecialTrash)
		if hasTrash && trash.ID != f.ID() {
			dst, err := u.FolderByID(ctx, trash.ID)
			if err == nil {
				err = s.move(r, f, uid, dst)
			}
			if err != nil {
				s.failOp(w, r, err, f, "delete the message from %s")
				return
			}
			back(w, r, mailboxURL(f.Name()), "Moved to Trash.")
			return
		}
	}
	// In a shared folder as an IMAP client deletes, with the rights
	// that takes: \Deleted ("t"), then expunge ("e").
	var err error
	if f.Owner() != "" {
		_, err = u.UpdateFlags(ctx, f, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Flags: store.FlagDeleted})
	}
	if err == nil {
		_, err = u.Expunge(ctx, f, []uint32{uid})
	}
	if err != nil {
		s.failOp(w, r, err, f, "delete messages")
		return
	}
	back(w, r, mailboxURL(f.Name()), "Deleted.")
}
