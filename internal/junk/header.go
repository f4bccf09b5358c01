package junk

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"mailroom/internal/mime"
)

// maxFieldBytes bounds one unfolded header field that is tokenized.
const maxFieldBytes = 4 << 10

// skippedFields are header fields whose values are noise to a classifier
// (dates, signatures, ids that are unique per message) or are added by
// our own server after the fact (Authentication-Results, which the
// classifier must not learn from or a forger could learn to copy it).
var skippedFields = map[string]bool{
	"date":                       true,
	"dkim-signature":             true,
	"domainkey-signature":        true,
	"arc-seal":                   true,
	"arc-message-signature":      true,
	"arc-authentication-results": true,
	"authentication-results":     true,
	"x-google-dkim-signature":    true,
	"content-length":             true,
	"lines":                      true,
	"references":                 true,
	"in-reply-to":                true,
	"thread-index":               true,
	"delivered-to":               true,
	"x-uidl":                     true,
	"status":                     true,
	"x-status":                   true,
	"x-keywords":                 true,
}

// headers tokenizes the top-level header block.
func (t *tokenizer) headers(h []byte) {
	fields := 0
	for len(h) > 0 && !t.full() {
		line, rest := nextField(h)
		h = rest
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		fields++
		if fields > 200 {
			return
		}
		rawName := bytes.TrimSpace(line[:colon])
		if !isFieldName(rawName) {
			continue // not a header field (RFC 5322 2.2: printable ASCII)
		}
		name := strings.ToLower(string(rawName))
		value := line[colon+1:]
		if len(value) > maxFieldBytes {
			value = value[:maxFieldBytes]
		}
		t.field(name, value)
	}
}

// isFieldName reports whether b is an RFC 5322 field name (printable
// US-ASCII but colon) of a sane length.
func isFieldName(b []byte) bool {
	if len(b) == 0 || len(b) > 76 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// nextField returns the next unfolded field of a header block (line ends
// inside it kept; they are word separators anyway).
func nextField(h []byte) (field, rest []byte) {
	end := 0
	for {
		i := bytes.IndexByte(h[end:], '\n')
		if i < 0 {
			return h, nil
		}
		end += i + 1
		if end >= len(h) || (h[end] != ' ' && h[end] != '\t') {
			return h[:end], h[end:]
		}
	}
}

func (t *tokenizer) field(name string, value []byte) {
	// Any "…date" field (Delivery-Date, X-Original-Date, Resent-Date)
	// holds a date, which says when, not what.
	// X-Mailroom-* fields are our own (a stored copy carries its verdict):
	// a model learning them would only confirm its earlier verdicts.
	if skippedFields[name] || strings.HasSuffix(name, "date") || strings.HasPrefix(name, "x-spam") ||
		strings.HasPrefix(name, "x-mailroom-") ||
		strings.HasPrefix(name, "list-") && name != "list-id" && name != "list-unsubscribe" {
		return
	}
	t.add("header:" + name)
	if !utf8.Valid(value) {
		// Raw 8-bit header text (RFC 5322 has none; without SMTPUTF8 it
		// is legacy text): read it as the body's unlabelled text is.
		value = fromLegacy(value)
	}
	switch name {
	case "subject":
		s := []byte(mime.DecodeHeader(string(bytes.TrimSpace(value))))
		t.text("subject:", s)
		t.shape("subject:", s)
	case "from", "to", "cc", "reply-to", "sender", "return-path", "errors-to":
		t.addresses(name, value)
	case "received":
		t.received(value)
	case "message-id":
		if i := bytes.LastIndexByte(value, '@'); i >= 0 {
			host := bytes.TrimRight(bytes.TrimSpace(value[i+1:]), ">")
			if len(host) > 0 && len(host) < 256 {
				t.addPrefixed("message-id:@", appendLower(nil, host))
			}
		} else {
			t.add("message-id:none")
		}
	case "content-type":
		v := appendLower(nil, bytes.TrimSpace(value))
		if i := bytes.IndexByte(v, ';'); i >= 0 {
			v = v[:i]
		}
		t.addPrefixed("content-type:", bytes.TrimSpace(v))
	case "x-mailer", "user-agent", "list-id", "organization", "x-mailing-list", "precedence", "mailing-list":
		t.text(name+":", []byte(mime.DecodeHeader(string(value))))
	default:
		// Other fields count by their presence (above) and, for short
		// values, by their words; long values are mostly encoded ids.
		if len(value) <= 200 {
			t.text(name+":", value)
		}
	}
}

// shape adds tokens for how a subject looks rather than what it says:
// shouting in capitals, runs of punctuation.
func (t *tokenizer) shape(prefix string, s []byte) {
	letters, upper := 0, 0
	for _, c := range s {
		if 'a' <= c && c <= 'z' {
			letters++
		} else if 'A' <= c && c <= 'Z' {
			letters++
			upper++
		}
	}
	if letters >= 8 && upper*10 >= letters*8 {
		t.add(prefix + "shape:caps")
	}
	if bytes.Contains(s, []byte("!!")) {
		t.add(prefix + "shape:!!")
	}
	if bytes.Contains(s, []byte("$")) {
		t.add(prefix + "shape:$")
	}
	if len(s) == 0 {
		t.add(prefix + "shape:empty")
	}
}

// addresses adds, for each address of an address field, the address, its
// domain (and parents) and the words of the display name.
func (t *tokenizer) addresses(name string, value []byte) {
	list := mime.ParseAddressList(string(value))
	found := 0
	defer func() {
		if found == 0 {
			t.add(name + ":none")
		}
	}()
	for i, a := range list {
		if i >= 20 || t.full() {
			return
		}
		if a.GroupStart || a.GroupEnd {
			continue
		}
		found++
		if a.DecodedName != "" {
			t.text(name+":name:", []byte(a.DecodedName))
		} else if name == "from" {
			t.add("from:noname")
		}
		if a.Host == "" {
			continue
		}
		addr := strings.ToLower(a.Mailbox + "@" + a.Host)
		if len(addr) < 256 {
			t.add(name + ":addr:" + addr)
		}
		if len(a.Host) < 256 {
			t.host(name+":dom:", appendLower(nil, []byte(a.Host)))
		}
	}
}

// received adds the host names and the /16 and /24 networks of the
// addresses in a Received field: relays and networks that send spam
// recur, as do the ones a user's correspondents use.
func (t *tokenizer) received(value []byte) {
	for _, w := range bytes.FieldsFunc(value, func(r rune) bool {
		return !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		if t.full() {
			return
		}
		w = bytes.Trim(w, ".-")
		dots := bytes.Count(w, []byte("."))
		if dots == 0 || len(w) > 255 {
			continue
		}
		if isNumber(w) {
			if dots == 3 {
				parts := bytes.Split(w, []byte("."))
				t.addPrefixed("received:ip:", bytes.Join(parts[:2], []byte(".")))
				t.addPrefixed("received:ip:", bytes.Join(parts[:3], []byte(".")))
			}
			continue
		}
		t.host("received:", appendLower(nil, w))
	}
}
