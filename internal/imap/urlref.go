package imap

import (
	"errors"
	"io"
	"math"
	"strings"

	"mailroom/internal/imap/imapurl"
	"mailroom/internal/imap/msgfmt"
	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// urlRef is a message section an IMAP URL names, resolved and open: what
// CATENATE copies and URLFETCH sends.
type urlRef struct {
	url       *imapurl.URL
	mb        store.Mailbox
	structure *mime.Message
	body      store.Body
	sec       *wire.Section // nil: the whole message
	partial   *wire.Partial
}

func (r *urlRef) close() {
	if r.body != nil {
		r.body.Close()
	}
}

// rangeOf returns the stored bytes the URL designates, partial applied.
func (r *urlRef) rangeOf() (msgfmt.Range, bool) {
	rg, ok := msgfmt.SectionRange(r.structure, r.sec)
	if !ok {
		return msgfmt.Range{}, false
	}
	if r.body.Size() < rg.End {
		rg.End = max(r.body.Size(), rg.Start)
	}
	if p := r.partial; p != nil {
		off := min(int64(p.Offset), rg.Len())
		n := min(int64(p.Count), rg.Len()-off)
		rg = msgfmt.Range{Start: rg.Start + off, End: rg.Start + off + n}
	}
	return rg, true
}

// errBadURL says a URL names nothing this session may read. Why is only
// logged: a client probing other accounts learns nothing from the answer.
var errBadURL = errors.New("bad URL")

// openURL resolves u in account accountID: the mailbox (the selected one
// for a relative ";UID=" URL), UIDVALIDITY, the message (still in the
// mailbox's live index), and the section. It returns errBadURL (wrapped)
// for anything that does not resolve; other errors are the store's.
func (s *session) openURL(u *imapurl.URL, accountID int64) (*urlRef, error) {
	ref := &urlRef{url: u}
	if u.Mailbox == "" {
		if s.sel == nil || s.sel.mb.AccountID != accountID {
			return nil, errBadURL
		}
		ref.mb = s.sel.mb
	} else {
		mb, err := s.srv.opts.Store.Mailbox(s.ctx, accountID, u.Mailbox)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errBadURL
		} else if err != nil {
			return nil, err
		}
		ref.mb = mb
	}
	if u.UIDValidity != 0 && u.UIDValidity != ref.mb.UIDValidity {
		return nil, errBadURL
	}
	if u.Section != "" {
		sec, err := wire.ParseSection(u.Section)
		if err != nil {
			return nil, errBadURL
		}
		ref.sec = sec
	}
	if p := u.Partial; p != nil {
		count := uint64(math.MaxUint32)
		if p.Length != 0 {
			count = p.Length
		}
		ref.partial = &wire.Partial{Offset: uint32(p.Offset), Count: uint32(count)}
	}
	// The live index says whether the message is still there: the caches
	// below would serve an expunged message's bytes.
	box, err := s.srv.opts.Mailboxes.Open(s.ctx, ref.mb.ID)
	if err != nil {
		return nil, err
	}
	_, exists := box.Message(u.UID)
	s.srv.opts.Mailboxes.Release(box)
	if !exists {
		return nil, errBadURL
	}
	st, err := s.srv.opts.Mailboxes.Structure(s.ctx, ref.mb.ID, u.UID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadURL
	} else if err != nil {
		return nil, err
	}
	ref.structure = st
	if _, ok := msgfmt.SectionRange(st, ref.sec); !ok {
		return nil, errBadURL
	}
	body, err := s.srv.opts.Mailboxes.OpenBody(s.ctx, ref.mb.ID, u.UID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadURL
	} else if err != nil {
		return nil, err
	}
	ref.body = body
	return ref, nil
}

// part returns the MIME part the URL names, for BODYPARTSTRUCTURE: the
// whole message or a part number, not HEADER, TEXT or MIME.
func (r *urlRef) part() (*mime.Part, bool) {
	if r.sec == nil {
		return r.structure.Root, r.structure.Root != nil
	}
	if r.sec.Specifier != "" {
		return nil, false
	}
	return r.structure.PartAt(r.sec.Part)
}

// reader reads the bytes the URL designates, with their number.
func (r *urlRef) reader() (io.Reader, int64) {
	rg, _ := r.rangeOf()
	return io.NewSectionReader(r.body, rg.Start, rg.Len()), rg.Len()
}

// badURL is RFC 4469's NO [BADURL url]. The url-resp-text is the URL bare
// (erratum 4046) and may not hold "]" or controls; such a URL gets a plain
// NO rather than a broken response code.
func badURL(raw string) error {
	if strings.ContainsAny(raw, "]\r\n\x00") || len(raw) > 1024 {
		return no("", "bad URL in CATENATE")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return no("", "bad URL in CATENATE")
		}
	}
	return no("BADURL "+raw, "CATENATE: the URL does not name a message part you may read")
}
