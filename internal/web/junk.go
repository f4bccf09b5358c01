package web

import (
	"errors"
	"io"
	"net/http"

	"mailroom/internal/junkfilter"
	"mailroom/internal/store"
)

// junkInfo is what a message page shows about junk: why a message is in
// Junk, and which of the "Junk" and "Not junk" buttons it offers.
type junkInfo struct {
	InJunk bool
	// Record is the verdict recorded at delivery (nil if none: the
	// message was never scored, or a user or client put it in Junk).
	Record *junkfilter.Record
}

// junkInfoOf reads the verdict from the start of the stored message:
// only our own field counts (junkfilter.Find), so a sender cannot write
// what the page says.
func junkInfoOf(mb store.Mailbox, body store.Body) junkInfo {
	info := junkInfo{InJunk: mb.SpecialUse == store.SpecialJunk}
	head := make([]byte, min(body.Size(), 16<<10))
	n, err := body.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return info
	}
	if rec, ok := junkfilter.Find(head[:n]); ok {
		info.Record = &rec
	}
	return info
}

// markJunk is the "Junk" and "Not junk" buttons: the message moves to
// Junk, or from Junk to INBOX, through the mailbox service like an IMAP
// MOVE, so the junk filter learns from it the same way. Only in the
// user's own folders: the filter is theirs, and another account's mail
// moved into their Junk would be taken from everyone sharing it.
func (s *Server) markJunk(w http.ResponseWriter, r *http.Request) {
	src, uid, ok := s.messageTarget(w, r)
	if !ok {
		return
	}
	if src.Owner() != "" {
		s.fail(w, r, http.StatusBadRequest, "Junk and Not junk work in your own folders only: this folder is "+src.Owner()+"'s.")
		return
	}
	ctx := r.Context()
	accountID := sessionOf(r).AccountID
	var dst store.Mailbox
	var done string
	switch r.PostFormValue("as") {
	case "junk":
		junk, found := s.specialMailbox(ctx, accountID, store.SpecialJunk)
		if !found {
			s.fail(w, r, http.StatusConflict, "There is no Junk folder: create a folder named Junk first.")
			return
		}
		dst, done = junk, "Moved to "+junk.Name+": the junk filter learns from it."
	case "notjunk":
		inbox, err := s.opts.Store.Mailbox(ctx, accountID, "INBOX")
		if err != nil {
			s.fail(w, r, storeStatus(err), "Could not find the inbox.")
			return
		}
		dst, done = inbox, "Moved to INBOX: the junk filter learns it is not junk."
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if dst.ID == src.ID() {
		back(w, r, mailboxURL(src.Name()), "")
		return
	}
	to, err := s.user(r).FolderByID(ctx, dst.ID)
	if err == nil {
		err = s.move(r, src, uid, to)
	}
	if err != nil {
		s.failOp(w, r, err, src, "move the message out of %s")
		return
	}
	back(w, r, mailboxURL(src.Name()), done)
}
