package imap

import (
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/imap/wire"
)

// esearch answers a SEARCH or SORT that has RETURN options with an
// ESEARCH response (RFC 4731, RFC 5267 ESORT, RFC 9394 PARTIAL) and the
// tagged OK. hits are sequence numbers or UIDs (uid) in result order:
// ascending for SEARCH, sort order for SORT, so MIN and MAX are the first
// and last of that order and ALL and PARTIAL list them in it. modseq is
// the highest modseq of all hits when a MODSEQ key was used, else 0.
func (s *session) esearch(tag string, uid bool, r *wire.SearchReturn, hits []uint32, modseq uint64, done string) error {
	view := s.sel.view
	// PARTIAL's window of the results (RFC 9394 section 3.1): MIN, MAX
	// and COUNT still describe the whole result.
	var window []uint32
	if r.Partial != nil {
		from, to := r.Partial.Window(len(hits))
		window = hits[from:to]
	}
	if r.Save {
		// SEARCHRES (RFC 5182): keep the matches as UIDs for "$".
		s.sel.saved = s.sel.saved[:0]
		toSave := hits
		switch {
		case r.Partial != nil && !r.All && !r.Count:
			// Only a window is returned: that is what is saved, as with
			// MIN and MAX alone.
			toSave = window
		case (r.Min || r.Max) && !r.All && !r.Count && len(hits) > 0:
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
		if len(s.sel.saved) > 1 {
			// "$" is a set: SORT results are saved in UID order.
			slices.Sort(s.sel.saved)
		}
		if !r.Min && !r.Max && !r.All && !r.Count && r.Partial == nil {
			// SAVE alone: no ESEARCH response (RFC 5182 2.4).
			return s.ok(tag, "", done+", result saved")
		}
	}
	if modseq > 0 && !r.All && !r.Count && r.Partial == nil && len(hits) > 0 {
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
	if r.Partial != nil {
		b.WriteString(" PARTIAL (" + r.Partial.String() + " ")
		if len(window) == 0 {
			b.WriteString("NIL)")
		} else {
			b.WriteString(uidSet(window) + ")")
		}
	}
	if modseq > 0 {
		b.WriteString(" MODSEQ " + strconv.FormatUint(modseq, 10))
	}
	s.untagged(b.String())
	return s.ok(tag, "", done)
}
