package imap

import (
	"slices"
	"strconv"

	"mailroom/internal/imap/wire"
	"mailroom/internal/store"
)

// sendUpdates announces what changed in the selected mailbox since the
// session last looked: EXPUNGE (only where allowExpunge: RFC 9051 7.5.1
// forbids it during FETCH, STORE and SEARCH by sequence number), EXISTS,
// RECENT for rev1 clients, and FETCH FLAGS.
func (s *session) sendUpdates(allowExpunge bool) error {
	return s.sendUpdatesExcept(allowExpunge, nil)
}

// sendUpdatesExcept is sendUpdates without flag updates of skip's UIDs.
func (s *session) sendUpdatesExcept(allowExpunge bool, skip map[uint32]bool) error {
	if s.sel == nil {
		return nil
	}
	u := s.sel.view.Sync(allowExpunge)
	if u.Deleted {
		s.untagged("BYE the selected mailbox was deleted by another client")
		return errBye
	}
	s.liveBeforeExpunge(&u)
	if s.qresync {
		if len(u.Vanished) > 0 {
			s.bw.WriteString("* VANISHED " + uidSet(u.Vanished) + "\r\n") // RFC 7162 3.2.10
		}
	} else {
		for _, e := range u.Expunged {
			s.bw.WriteString("* " + strconv.Itoa(e.Seq) + " EXPUNGE\r\n")
		}
	}
	if u.Exists > 0 {
		s.bw.WriteString("* " + strconv.Itoa(u.Exists) + " EXISTS\r\n")
		if !s.rev2 {
			s.bw.WriteString("* " + strconv.Itoa(u.Recent) + " RECENT\r\n")
		}
	}
	s.announceKeywords()
	for _, m := range u.Flags {
		if !skip[m.UID] {
			s.writeFlags(u.SeqOf(m.UID), m, s.rev2 || s.qresync || s.notifySelected())
		}
	}
	if err := s.liveAfterChanges(&u); err != nil {
		return err
	}
	return s.notifyFetchNew()
}

// writeFlags writes "* n FETCH (FLAGS (...))", with the UID for UID
// commands and unsolicited updates of rev2 clients. Once CONDSTORE is on,
// every flag change a session is told of carries UID and MODSEQ (RFC 7162
// 3.1): such clients key their cache by UID and modseq, not by sequence
// number.
func (s *session) writeFlags(seq int, m store.MessageMeta, withUID bool) {
	s.announceKeywords()
	b := s.bw
	b.WriteString("* ")
	b.WriteString(strconv.Itoa(seq))
	b.WriteString(" FETCH (")
	if withUID || s.condstore {
		b.WriteString("UID ")
		b.WriteString(strconv.FormatUint(uint64(m.UID), 10))
		b.WriteByte(' ')
	}
	b.WriteString("FLAGS ")
	s.enc.Flags(s.flagNames(m))
	if s.condstore {
		b.WriteString(" MODSEQ (" + strconv.FormatUint(m.ModSeq, 10) + ")")
	}
	b.WriteString(")\r\n")
}

// systemFlags are the flags of FLAGS and PERMANENTFLAGS besides keywords.
var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

// announceKeywords tells the session the selected mailbox's flags again if
// a keyword came into use since it was last told: a client may not see a
// keyword in a FETCH response that no FLAGS response listed (RFC 9051
// 7.3.5). Call it before any response that shows a message's flags; the
// list it announces includes every keyword of every message read before.
func (s *session) announceKeywords() {
	if s.sel == nil {
		return
	}
	if kws, grew := s.sel.view.Keywords(); grew {
		s.writeFlagLists(kws)
	}
}

// writeFlagLists writes FLAGS and OK [PERMANENTFLAGS] (RFC 9051 7.3.5,
// 7.1): system flags and the keywords; any keyword may be created in a
// mailbox selected read-write (\*).
func (s *session) writeFlagLists(keywords []string) {
	flags := append(slices.Clip(systemFlags), keywords...)
	s.bw.WriteString("* FLAGS ")
	s.enc.Flags(flags)
	s.bw.WriteString("\r\n")
	if s.sel.readOnly {
		s.untagged(`OK [PERMANENTFLAGS ()] read-only`)
		return
	}
	s.bw.WriteString("* OK [PERMANENTFLAGS ")
	s.enc.Flags(append(flags, `\*`))
	s.bw.WriteString("] flags permitted\r\n")
}

// flagNames lists a message's flags as IMAP names.
func (s *session) flagNames(m store.MessageMeta) []string {
	names := m.Flags.Names()
	names = append(names, m.Keywords...)
	if !s.rev2 && s.sel != nil && s.sel.view.Recent(m.UID) {
		names = append(names, `\Recent`)
	}
	return names
}

// resolve turns a sequence set (of sequence numbers, or of UIDs) into the
// UIDs of the session's view that it names, ascending.
func (s *session) resolve(set wire.SeqSet, saved bool, uid bool) ([]uint32, error) {
	view := s.sel.view
	uids := view.UIDs()
	if saved {
		// "$" names the saved UIDs still in the mailbox, whether the
		// command takes UIDs or sequence numbers (RFC 5182 2.1).
		var out []uint32
		for _, u := range s.sel.saved {
			if view.Seq(u) != 0 {
				out = append(out, u)
			}
		}
		return out, nil
	}
	var out []uint32
	if uid {
		var max uint32
		if n := len(uids); n > 0 {
			max = uids[n-1]
		}
		for _, u := range uids {
			if set.Contains(u, max) {
				out = append(out, u)
			}
		}
		return out, nil
	}
	n := uint32(len(uids))
	if n == 0 && set.HasStar() {
		return nil, bad("the mailbox is empty: there is no message *")
	}
	for _, r := range set {
		start, stop := r.Start, r.Stop
		if start == 0 {
			start = n
		}
		if stop == 0 {
			stop = n
		}
		if start > stop {
			start, stop = stop, start
		}
		if stop > n {
			return nil, bad("no such message: sequence number %d is beyond %d", stop, n)
		}
	}
	for i, u := range uids {
		if set.Contains(uint32(i+1), n) {
			out = append(out, u)
		}
	}
	return out, nil
}
