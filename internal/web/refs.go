package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"

	"mailroom/internal/mailbox"
	mrmime "mailroom/internal/mime"
	"mailroom/internal/store"
)

// Stored messages a compose form names ("MAILBOXID/UID"): the one
// replied to or forwarded, a draft being edited. Each is looked up
// through the session's mailbox.User, so a message in a folder shared
// with the user can be answered and forwarded (reading it needs "r"),
// and a reference to any other account's message is "not found".

// source is a stored message a compose form starts from or takes
// attachments from. Close it.
type source struct {
	ref  string
	f    mailbox.Folder
	uid  uint32
	st   *mrmime.Message
	body store.Body
	hdr  textproto.Header // the root header, for what the envelope lacks
}

func (src *source) Close() error { return src.body.Close() }

func (src *source) envelope() *mrmime.Envelope {
	if src.st.Root == nil || src.st.Root.Envelope == nil {
		return &mrmime.Envelope{}
	}
	return src.st.Root.Envelope
}

// messageRef is how a form names a stored message: "MAILBOXID/UID".
func messageRef(mailboxID int64, uid uint32) string {
	return strconv.FormatInt(mailboxID, 10) + "/" + strconv.FormatUint(uint64(uid), 10)
}

// parseRef resolves a "MAILBOXID/UID" reference to a folder the user can
// see (anything else is ErrNotFound, another account's included).
func (s *Server) parseRef(r *http.Request, ref string) (mailbox.Folder, uint32, error) {
	idText, uidText, ok := strings.Cut(ref, "/")
	if !ok {
		return mailbox.Folder{}, 0, fmt.Errorf("web: reference %q: %w", ref, store.ErrNotFound)
	}
	uid, err := strconv.ParseUint(uidText, 10, 32)
	if err != nil || uid == 0 {
		return mailbox.Folder{}, 0, fmt.Errorf("web: reference %q: %w", ref, store.ErrNotFound)
	}
	f, err := s.folderByID(r, idText)
	if err != nil {
		return mailbox.Folder{}, 0, err
	}
	return f, uint32(uid), nil
}

// ownDrafts reports whether f is the user's own Drafts folder: the only
// place a draft is edited from, since saving replaces (and sending
// removes) it. Another account's Drafts shared with the user is not.
func ownDrafts(f mailbox.Folder) bool {
	return f.Owner() == "" && f.Mailbox().SpecialUse == store.SpecialDrafts
}

// openSource opens a message the user may read, by reference.
func (s *Server) openSource(r *http.Request, ref string) (*source, error) {
	ctx := r.Context()
	f, uid, err := s.parseRef(r, ref)
	if err != nil {
		return nil, fmt.Errorf("web: message %s: %w", ref, err)
	}
	box, err := s.user(r).Open(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("web: message %s: %w", ref, err)
	}
	defer s.opts.Mailboxes.Release(box)
	st, err := box.Structure(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("web: structure of message %s: %w", ref, err)
	}
	body, err := box.Body(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("web: body of message %s: %w", ref, err)
	}
	src := &source{ref: ref, f: f, uid: uid, st: st, body: body}
	if st.Root != nil {
		end := min(st.Root.BodyStart, maxHeaderRead)
		// A header that does not parse only costs the fields read from
		// it (References): the envelope still gives the rest.
		if h, err := textproto.ReadHeader(bufio.NewReader(io.NewSectionReader(body, 0, end))); err == nil {
			src.hdr = h
		}
	}
	return src, nil
}

// markAnswered sets \Answered on the message a reply answered; it may be
// gone meanwhile, which costs only the flag, and in a folder shared
// without the "w" right it stays unset, as an IMAP client's STORE would.
func (s *Server) markAnswered(r *http.Request, f mailbox.Folder, uid uint32) {
	_, err := s.user(r).UpdateFlags(r.Context(), f, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Flags: store.FlagAnswered})
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, mailbox.ErrNoPermission) {
		s.log.Warn("compose: marking the original answered failed", "err", err)
	}
}

// expungeOne removes a replaced or sent draft (of the user's own Drafts:
// see ownDrafts) for good.
func (s *Server) expungeOne(r *http.Request, f mailbox.Folder, uid uint32) {
	if _, err := s.user(r).Expunge(r.Context(), f, []uint32{uid}); err != nil {
		s.log.Warn("compose: removing the old draft failed", "err", err)
	}
}
