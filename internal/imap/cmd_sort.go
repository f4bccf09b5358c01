package imap

import (
	"strconv"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox/thread"
)

// sortKeys maps the parser's sort-key names to package thread's keys.
var sortKeys = map[string]thread.Key{
	"ARRIVAL": thread.Arrival, "CC": thread.Cc, "DATE": thread.Date, "FROM": thread.From,
	"SIZE": thread.Size, "SUBJECT": thread.Subject, "TO": thread.To,
	"DISPLAYFROM": thread.DisplayFrom, "DISPLAYTO": thread.DisplayTo,
}

// threadInputs describes the messages uids (ascending, as searchUIDs
// returns them) for sorting and threading, from the mailbox service's
// cache of their envelopes. Each Message's Num is its UID.
func (s *session) threadInputs(uids []uint32) ([]*thread.Message, error) {
	return s.sel.box.ThreadInputs(s.ctx, uids)
}

// number is what a SORT or THREAD answer names message m by.
func (s *session) number(m *thread.Message, uid bool) uint32 {
	if uid {
		return m.Num
	}
	return uint32(s.sel.view.Seq(m.Num))
}

// cmdSort is SORT and UID SORT (RFC 5256 section 3, RFC 5957 display
// keys), answered with SORT, or with ESEARCH when RETURN options are
// given (RFC 5267 ESORT, RFC 9394 PARTIAL).
func cmdSort(s *session, tag string, uid bool) error {
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	q, err := s.dec.ReadSort()
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
	uids, err := s.searchUIDs(q.Key, q.Charset)
	if err != nil {
		return err
	}
	msgs, err := s.threadInputs(uids)
	if err != nil {
		return err
	}
	crit := make([]thread.Criterion, len(q.Criteria))
	for i, c := range q.Criteria {
		crit[i] = thread.Criterion{Key: sortKeys[c.Name], Reverse: c.Reverse}
	}
	order := thread.Sort(msgs, crit)
	hits := make([]uint32, len(order))
	for i, k := range order {
		hits[i] = s.number(msgs[k], uid)
	}
	if q.Update && !s.startLiveSort(tag, uid, q, crit, msgs, order) {
		s.untagged(`NO [NOUPDATE "` + tag + `"] too many updating searches; CANCELUPDATE one first`)
	}
	var modseq uint64
	if usesModSeq(q.Key) {
		s.enableCondstore()
		modseq = s.modseqOf(uids)
	}
	if q.Return != nil {
		return s.esearch(tag, uid, q.Return, hits, modseq, "SORT completed")
	}
	// AppendUint: a number per message, without a string for each.
	b := make([]byte, 0, 32+8*len(hits))
	b = append(b, "SORT"...)
	for _, h := range hits {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(h), 10)
	}
	if modseq > 0 {
		b = append(b, " (MODSEQ "...)
		b = strconv.AppendUint(b, modseq, 10)
		b = append(b, ')')
	}
	s.untagged(string(b))
	return s.ok(tag, "", "SORT completed")
}

// startLiveSort keeps a SORT RETURN (UPDATE) live (CONTEXT=SORT, RFC 5267
// section 4): its result in sort order (msgs in the order order gives),
// with each member's sort keys. It reports false as startLive does.
func (s *session) startLiveSort(tag string, uid bool, q *wire.Sort, crit []thread.Criterion, msgs []*thread.Message, order []int) bool {
	ls := &liveSearch{tag: tag, uid: uid, key: searchKey(q.Key), charset: q.Charset,
		crit: crit, keys: make(map[uint32]*thread.Message, len(order)), result: make([]uint32, len(order))}
	for i, k := range order {
		ls.result[i] = msgs[k].Num
		ls.keys[msgs[k].Num] = msgs[k]
	}
	return s.startLive(ls, q.UpdateFetch)
}
