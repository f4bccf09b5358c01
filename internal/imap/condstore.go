package imap

import (
	"slices"
	"strconv"

	"mailroom/internal/imap/wire"
)

// enableCondstore records a CONDSTORE enabling command (RFC 7162 3.1: a
// FETCH or SEARCH with MODSEQ, FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE,
// STATUS HIGHESTMODSEQ …). From then on every untagged FETCH carries UID
// and MODSEQ; the first such command issued with a mailbox selected also
// reports the mailbox's HIGHESTMODSEQ in an untagged OK (RFC 7162 3.1).
func (s *session) enableCondstore() {
	if s.condstore {
		return
	}
	s.condstore = true
	if s.sel != nil {
		s.untagged("OK [HIGHESTMODSEQ " + strconv.FormatUint(s.sel.view.HighestModSeq(), 10) + "] highest modseq")
	}
}

// qresyncSelect reports what changed since the client's modseq: VANISHED
// (EARLIER) for expunged UIDs and FETCH for changed messages (RFC 7162
// 3.2.5.1).
func (s *session) qresyncSelect(qr *wire.QResync) error {
	ch, err := s.srv.opts.Store.ChangesSince(s.ctx, s.sel.mb.ID, qr.ModSeq)
	if err != nil {
		return err
	}
	var maxUID uint32
	if uids := s.sel.view.UIDs(); len(uids) > 0 {
		maxUID = uids[len(uids)-1]
	}
	var vanished []uint32
	for _, u := range ch.Vanished {
		if qr.KnownUIDs == nil || qr.KnownUIDs.Contains(u, max(maxUID, u)) {
			vanished = append(vanished, u)
		}
	}
	if len(vanished) > 0 {
		s.untagged("VANISHED (EARLIER) " + uidSet(vanished))
	}
	for _, m := range ch.Changed {
		seq := s.sel.view.Seq(m.UID)
		if seq == 0 {
			continue
		}
		if cur, ok := s.sel.view.Message(m.UID); ok {
			m = cur
		}
		s.writeFlags(seq, m, true)
	}
	return nil
}

// vanishedSince answers UID FETCH ... (CHANGEDSINCE n VANISHED): the UIDs of
// set expunged after modseq.
func (s *session) vanishedSince(set wire.SeqSet, modseq uint64) error {
	ch, err := s.srv.opts.Store.ChangesSince(s.ctx, s.sel.mb.ID, modseq)
	if err != nil {
		return err
	}
	var maxUID uint32
	if uids := s.sel.view.UIDs(); len(uids) > 0 {
		maxUID = uids[len(uids)-1]
	}
	var out []uint32
	for _, u := range ch.Vanished {
		if set.Contains(u, max(maxUID, u)) && s.sel.view.Seq(u) == 0 {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	if len(out) > 0 {
		s.untagged("VANISHED (EARLIER) " + uidSet(out))
	}
	return nil
}

// modseqOf returns the highest modseq among uids, for SEARCH ... MODSEQ.
func (s *session) modseqOf(uids []uint32) uint64 {
	var m uint64
	for _, u := range uids {
		if meta, ok := s.sel.view.Message(u); ok && meta.ModSeq > m {
			m = meta.ModSeq
		}
	}
	return m
}

// usesModSeq reports whether a search key tree has a MODSEQ criterion.
func usesModSeq(k *wire.SearchKey) bool {
	if k == nil {
		return false
	}
	if k.Op == "MODSEQ" {
		return true
	}
	for _, c := range k.Children {
		if usesModSeq(c) {
			return true
		}
	}
	return false
}
