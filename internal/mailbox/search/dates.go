package search

import (
	"net/mail"
	"strings"
	"time"
)

// civilDay is a calendar day, comparable as an integer: y*512 + m*32 + d.
type civilDay int32

func dayOf(t time.Time) civilDay {
	y, m, d := t.Date()
	return civilDay(y*512 + int(m)*32 + d)
}

// inRel compares a message's day with a key's.
func inRel(r rel, msg, key civilDay) bool {
	switch r {
	case relBefore:
		return msg < key
	case relOn:
		return msg == key
	}
	return msg >= key
}

// internalIn compares an INTERNALDATE (Unix seconds) with the key day
// [lo, hi) precomputed in the server's zone.
func internalIn(r rel, t, lo, hi int64) bool {
	switch r {
	case relBefore:
		return t < lo
	case relOn:
		return lo <= t && t < hi
	}
	return t >= lo
}

// sentDay parses a Date: header value and returns its calendar day in
// the zone it was written in. net/mail handles RFC 5322 and the obsolete
// forms (two-digit years, zone names); a trailing comment such as
// "(CET)" is tolerated there too.
func sentDay(v string) (civilDay, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 256 {
		return 0, false
	}
	t, err := mail.ParseDate(v)
	if err != nil {
		return 0, false
	}
	return dayOf(t), true
}
