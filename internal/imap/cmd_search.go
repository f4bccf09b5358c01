package imap

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// searchMessage adapts one message of the selected mailbox to the
// evaluator: cheap fields from the shared index, content from the store
// only if a key needs it.
type searchMessage struct {
	s    *session
	meta store.MessageMeta
	seq  uint32
}

func (m *searchMessage) Meta() store.MessageMeta { return m.meta }
func (m *searchMessage) Seq() uint32             { return m.seq }
func (m *searchMessage) Recent() bool            { return m.s.sel.view.Recent(m.meta.UID) }

func (m *searchMessage) Structure(ctx context.Context) (*mime.Message, error) {
	return m.s.sel.box.ScanStructure(ctx, m.meta.UID)
}

func (m *searchMessage) Body(ctx context.Context) (store.Body, error) {
	return m.s.sel.box.ScanBody(ctx, m.meta.UID)
}

// searchUIDs evaluates criteria against the selected mailbox as the
// client's view has it (sequence numbers, $, RECENT) and returns the UIDs
// that match, ascending. SEARCH, SORT, THREAD and context updates all
// search through it. Errors are protocol answers (BADCHARSET, BAD) or
// the store's.
func (s *session) searchUIDs(key *wire.SearchKey, charset string) ([]uint32, error) {
	return s.searchKeyUIDs(searchKey(key), charset, nil)
}

// searchKeyUIDs is searchUIDs for criteria already taken out of the
// decoder's arena (kept by live searches), evaluated for the messages of
// among (UIDs of the view, ascending), or all of the view's if among is
// nil.
func (s *session) searchKeyUIDs(key *search.Key, charset string, among []uint32) ([]uint32, error) {
	view := s.sel.view
	uids := view.UIDs()
	var maxUID uint32
	if n := len(uids); n > 0 {
		maxUID = uids[n-1]
	}
	m, err := search.Compile(key, search.Context{MaxSeq: uint32(len(uids)), MaxUID: maxUID, Saved: s.sel.saved, Now: time.Now(), Charset: charset})
	switch {
	case errors.Is(err, search.ErrBadCharset):
		return nil, no("BADCHARSET", "unsupported charset; use UTF-8")
	case err != nil:
		return nil, bad("%v", err)
	}
	all := among == nil
	if all {
		among = uids
	}
	// The mailbox service answers the text keys from the full-text index
	// and evaluates the rest; the view supplies sequence numbers, $ and
	// \Recent through searchMessage, made only for the messages the
	// service asks about.
	return s.srv.opts.Mailboxes.SearchList(s.ctx, s.sel.box.ID(), m, &searchList{s: s, uids: among, all: all})
}

// searchList is the messages of a search (search.List): the UIDs of the
// view, or some of them (all false: their sequence numbers are looked
// up), ascending.
type searchList struct {
	s    *session
	uids []uint32
	all  bool
}

func (l *searchList) Len() int         { return len(l.uids) }
func (l *searchList) UID(i int) uint32 { return l.uids[i] }

// seq is the sequence number of the i-th UID, 0 if the view lacks it.
func (l *searchList) seq(i int, uid uint32) uint32 {
	if l.all {
		return uint32(i + 1)
	}
	return uint32(l.s.sel.view.Seq(uid))
}

func (l *searchList) At(i int) search.Message {
	meta, ok := l.s.sel.view.Message(l.uids[i])
	if !ok {
		return nil
	}
	seq := l.seq(i, meta.UID)
	if seq == 0 {
		return nil
	}
	return &searchMessage{s: l.s, meta: meta, seq: seq}
}

// All makes every message still there at once, under one lock of the
// mailbox, in one allocation.
func (l *searchList) All() []search.Message {
	msgs := make([]search.Message, 0, len(l.uids))
	adapters := make([]searchMessage, len(l.uids))
	l.s.sel.view.Messages(l.uids, func(i int, meta store.MessageMeta) {
		seq := l.seq(i, meta.UID)
		if seq == 0 {
			return
		}
		adapters[i] = searchMessage{s: l.s, meta: meta, seq: seq}
		msgs = append(msgs, &adapters[i])
	})
	return msgs
}

func cmdSearch(s *session, tag string, uid bool) error {
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	q, err := s.dec.ReadSearch()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if q.Update && s.sel.live.has(tag) {
		// RFC 5267 4.3: the tag names the updates, so it may not be reused.
		return bad("tag %s already names an updating search", tag)
	}
	if err := s.sendUpdates(uid); err != nil {
		return err
	}
	view := s.sel.view
	hitUIDs, err := s.searchUIDs(q.Key, q.Charset)
	if err != nil {
		return err
	}
	if q.Update && !s.startLive(&liveSearch{tag: tag, uid: uid, key: searchKey(q.Key), charset: q.Charset,
		result: slices.Clone(hitUIDs)}, q.UpdateFetch) {
		s.untagged(`NO [NOUPDATE "` + tag + `"] too many updating searches; CANCELUPDATE one first`)
	}
	hits := hitUIDs // sequence numbers or UIDs, ascending
	if !uid {
		hits = make([]uint32, len(hitUIDs))
		for i, u := range hitUIDs {
			hits[i] = uint32(view.Seq(u))
		}
	}
	// With a MODSEQ criterion, the highest modseq of the matches goes along
	// (RFC 7162 3.1.5).
	var modseq uint64
	if usesModSeq(q.Key) {
		s.enableCondstore()
		modseq = s.modseqOf(hitUIDs)
	}
	if q.Return == nil {
		var b strings.Builder
		b.WriteString("SEARCH")
		for _, h := range hits {
			b.WriteByte(' ')
			b.WriteString(strconv.FormatUint(uint64(h), 10))
		}
		if modseq > 0 {
			b.WriteString(" (MODSEQ " + strconv.FormatUint(modseq, 10) + ")")
		}
		s.untagged(b.String())
		return s.ok(tag, "", "SEARCH completed")
	}
	// ESEARCH (RFC 4731).
	return s.esearch(tag, uid, q.Return, hits, modseq, "SEARCH completed")
}
