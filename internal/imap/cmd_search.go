package imap

import (
	"context"
	"errors"
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
	return m.s.sel.box.Structure(ctx, m.meta.UID)
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
	view := s.sel.view
	uids := view.UIDs()
	var maxUID uint32
	if n := len(uids); n > 0 {
		maxUID = uids[n-1]
	}
	m, err := search.Compile(searchKey(key), search.Context{MaxSeq: uint32(len(uids)), MaxUID: maxUID, Saved: s.sel.saved, Now: time.Now(), Charset: charset})
	switch {
	case errors.Is(err, search.ErrBadCharset):
		return nil, no("BADCHARSET", "unsupported charset; use UTF-8")
	case err != nil:
		return nil, bad("%v", err)
	}
	// The mailbox service answers the text keys from the full-text index
	// and evaluates the rest; the view supplies sequence numbers, $ and
	// \Recent through searchMessage.
	msgs := make([]search.Message, 0, len(uids))
	all := make([]searchMessage, len(uids))
	for i, u := range uids {
		meta, ok := s.sel.box.Message(u)
		if !ok {
			continue
		}
		all[i] = searchMessage{s: s, meta: meta, seq: uint32(i + 1)}
		msgs = append(msgs, &all[i])
	}
	return s.srv.opts.Mailboxes.Search(s.ctx, s.sel.box.ID(), m, msgs)
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
	if err := s.sendUpdates(uid); err != nil {
		return err
	}
	view := s.sel.view
	hitUIDs, err := s.searchUIDs(q.Key, q.Charset)
	if err != nil {
		return err
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
	r := q.Return
	if r.Save {
		// SEARCHRES (RFC 5182): keep the matches as UIDs for "$".
		s.sel.saved = s.sel.saved[:0]
		toSave := hits
		if (r.Min || r.Max) && !r.All && !r.Count && len(hits) > 0 {
			// With only MIN and/or MAX, just those are saved (RFC 5182 2.4).
			toSave = nil
			if r.Min {
				toSave = append(toSave, hits[0])
			}
			if r.Max && (!r.Min || len(hits) > 1) {
				toSave = append(toSave, hits[len(hits)-1])
			}
		}
		for _, h := range toSave {
			if uid {
				s.sel.saved = append(s.sel.saved, h)
			} else {
				s.sel.saved = append(s.sel.saved, view.UID(int(h)))
			}
		}
		if !r.Min && !r.Max && !r.All && !r.Count {
			// SAVE alone: no ESEARCH response (RFC 5182 2.4).
			return s.ok(tag, "", "SEARCH completed, result saved")
		}
	}
	if modseq > 0 && !r.All && !r.Count && len(hits) > 0 {
		// Only MIN and/or MAX are returned: MODSEQ is the highest of those
		// messages' (RFC 4731 3.2).
		var returned []uint32
		for _, h := range []uint32{hits[0], hits[len(hits)-1]} {
			if (h == hits[0] && r.Min) || (h == hits[len(hits)-1] && r.Max) {
				if !uid {
					h = view.UID(int(h))
				}
				returned = append(returned, h)
			}
		}
		modseq = s.modseqOf(returned)
	}
	var b strings.Builder
	b.WriteString(`ESEARCH (TAG "` + tag + `")`)
	if uid {
		b.WriteString(" UID")
	}
	if len(hits) > 0 {
		if r.Min {
			b.WriteString(" MIN " + strconv.FormatUint(uint64(hits[0]), 10))
		}
		if r.Max {
			b.WriteString(" MAX " + strconv.FormatUint(uint64(hits[len(hits)-1]), 10))
		}
		if r.All {
			b.WriteString(" ALL " + uidSet(hits))
		}
	}
	if r.Count {
		b.WriteString(" COUNT " + strconv.Itoa(len(hits)))
	}
	if modseq > 0 {
		b.WriteString(" MODSEQ " + strconv.FormatUint(modseq, 10))
	}
	s.untagged(b.String())
	return s.ok(tag, "", "SEARCH completed")
}
