package junkfilter

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The verdict is recorded with each delivered copy as one header field in
// the copy's own prefix (store.Target.HeaderPrefix), right after the
// Return-Path and Delivered-To lines final delivery writes:
//
//	X-Mailroom-Junk: junk; score=0.987; threshold=0.900;
//		clue="\"viagra\" (spam 99%)"; quarantine="dmarc=fail (p=quarantine)"
//
// A header rather than a store column: it travels with the message (IMAP
// clients, an export, a forward show it, as SpamAssassin's X-Spam-Status
// does), costs no schema change to every store backend, and is written
// once with the copy, never updated.
//
// It cannot be forged by a sender: only the field directly after the
// leading Return-Path/Delivered-To run counts (Find), and every message
// that arrives over SMTP starts with our own Received line, so a field
// the sender wrote can never be in that place. Values are Go-quoted ASCII
// (strconv.QuoteToASCII), so clues taken from the message (any bytes)
// cannot break the header or inject lines.

// FieldName is the header field that records the verdict.
const FieldName = "X-Mailroom-Junk"

// Bounds of what a record carries, so that the field stays within the
// 998-octet line limit of RFC 5322 (one item per folded line) and small.
const (
	maxItems    = 8
	maxItemText = 160
)

// Record is the verdict recorded with one delivered copy.
type Record struct {
	// Junk: the copy was delivered to the Junk mailbox.
	Junk bool
	// Scored: the classifier scored it (Score, Threshold and Clues are set).
	Scored           bool
	Score, Threshold float64
	// Clues are the classifier's strongest clues (junk.Verdict.Reasons).
	Clues []string
	// Quarantine are the reasons checks before delivery gave (DMARC
	// p=quarantine, a blocklist): delivery.Envelope.Quarantine.
	Quarantine []string
}

// Field renders the record as a complete header field, CRLF-terminated.
func (r Record) Field() []byte {
	var b bytes.Buffer
	b.WriteString(FieldName + ": ")
	if r.Junk {
		b.WriteString("junk")
	} else {
		b.WriteString("inbox")
	}
	if r.Scored {
		fmt.Fprintf(&b, "; score=%.3f; threshold=%.3f", clamp01(r.Score), clamp01(r.Threshold))
	}
	item := func(key string, list []string) {
		for i, s := range list {
			if i == maxItems {
				break
			}
			b.WriteString(";\r\n\t" + key + "=" + strconv.QuoteToASCII(truncate(s, maxItemText)))
		}
	}
	item("quarantine", r.Quarantine)
	item("clue", r.Clues)
	b.WriteString("\r\n")
	return b.Bytes()
}

func clamp01(f float64) float64 {
	if !(f >= 0) { // NaN too
		return 0
	}
	return min(f, 1)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxScan bounds how much of a message Find looks at: the prefix is a
// few short lines.
const maxScan = 16 << 10

// Find returns the record of a stored message (its bytes from the start),
// if it has one: the X-Mailroom-Junk field directly after the leading
// Return-Path and Delivered-To fields. Any other X-Mailroom-Junk field
// was written by someone else and is ignored.
func Find(msg []byte) (Record, bool) {
	if len(msg) > maxScan {
		msg = msg[:maxScan]
	}
	for len(msg) > 0 {
		name, value, rest, ok := nextField(msg)
		if !ok {
			return Record{}, false
		}
		switch {
		case strings.EqualFold(name, "Return-Path"), strings.EqualFold(name, "Delivered-To"):
			msg = rest
			continue
		case strings.EqualFold(name, FieldName):
			return Parse(value)
		}
		return Record{}, false
	}
	return Record{}, false
}

// nextField splits the first header field off msg: its name and its
// unfolded value. ok is false at the end of the header or on a malformed
// or unterminated field.
func nextField(msg []byte) (name, value string, rest []byte, ok bool) {
	colon := bytes.IndexByte(msg, ':')
	if colon <= 0 {
		return "", "", nil, false
	}
	if bytes.ContainsAny(msg[:colon], " \t\r\n") {
		return "", "", nil, false
	}
	end := colon
	for {
		nl := bytes.IndexByte(msg[end:], '\n')
		if nl < 0 {
			return "", "", nil, false
		}
		end += nl + 1
		if end >= len(msg) || (msg[end] != ' ' && msg[end] != '\t') {
			break
		}
	}
	v := string(msg[colon+1 : end])
	v = strings.NewReplacer("\r\n", "", "\n", "").Replace(v)
	return string(msg[:colon]), strings.TrimSpace(v), msg[end:], true
}

// Parse reads a record from an X-Mailroom-Junk value (unfolded). It
// accepts only what Field writes; anything else is not a record.
func Parse(value string) (Record, bool) {
	var r Record
	status, rest, _ := strings.Cut(value, ";")
	switch strings.TrimSpace(status) {
	case "junk":
		r.Junk = true
	case "inbox":
	default:
		return Record{}, false
	}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		key, after, found := strings.Cut(rest, "=")
		if !found {
			return Record{}, false
		}
		key = strings.TrimSpace(key)
		var val string
		if after != "" && after[0] == '"' {
			n := quotedLen(after)
			if n < 0 {
				return Record{}, false
			}
			s, err := strconv.Unquote(after[:n])
			if err != nil {
				return Record{}, false
			}
			val, rest = s, after[n:]
		} else {
			val, rest, _ = strings.Cut(after, ";")
			rest = ";" + rest
		}
		rest = strings.TrimSpace(rest)
		if rest != "" && !strings.HasPrefix(rest, ";") {
			return Record{}, false
		}
		rest = strings.TrimPrefix(rest, ";")
		switch key {
		case "score", "threshold":
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil || !(f >= 0 && f <= 1) {
				return Record{}, false
			}
			r.Scored = true
			if key == "score" {
				r.Score = f
			} else {
				r.Threshold = f
			}
		case "clue":
			if len(r.Clues) < maxItems {
				r.Clues = append(r.Clues, val)
			}
		case "quarantine":
			if len(r.Quarantine) < maxItems {
				r.Quarantine = append(r.Quarantine, val)
			}
		default:
			return Record{}, false
		}
	}
	return r, true
}

// quotedLen is the length of the Go-quoted string at the start of s,
// quotes included, or -1.
func quotedLen(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
