package junk

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"mailroom/internal/mime"
)

// Bounds of Tokens: a message of any size costs at most about
// maxMessageBytes of scanning, maxPartBytes of decoding per part and
// maxTokens strings.
const (
	// maxMessageBytes: only the start of a message is looked at. Spam is
	// short; a big message is big for its attachments, which are not read
	// beyond their type and name anyway.
	maxMessageBytes = 1 << 20
	// maxHeaderBytes bounds the header block that is tokenized.
	maxHeaderBytes = 64 << 10
	// maxPartBytes: raw (encoded) bytes read of each text part.
	maxPartBytes = 64 << 10
	// maxTextParts: text parts tokenized per message.
	maxTextParts = 16
	// maxTokens caps the distinct tokens of one message.
	maxTokens = 3000
	// Words shorter than minWordLen are too common to tell anything;
	// longer than maxWordLen are encoded junk, ids or run-together text
	// and become one "skip:" token of their first letter and length.
	minWordLen = 3
	maxWordLen = 40
)

// Tokens returns the distinct features of one RFC 5322 message (raw
// bytes): words of the decoded text parts (transfer encodings undone,
// charsets converted to UTF-8, HTML reduced to its text), lower-cased;
// header tokens prefixed by their field name ("subject:free",
// "from:dom:example.com"); the hosts of URLs ("url:example.com"); and the
// types and file name extensions of attachments. Work and memory are
// bounded whatever the message (see the constants above).
func Tokens(msg []byte) []string {
	t := tokenizer{seen: make(map[string]struct{}, 256)}
	t.message(msg)
	return t.out
}

type tokenizer struct {
	seen map[string]struct{}
	out  []string
	buf  []byte // scratch for building prefixed tokens
}

// add records one token unless seen or the cap is reached.
func (t *tokenizer) add(tok string) {
	if len(t.out) >= maxTokens {
		return
	}
	if _, ok := t.seen[tok]; ok {
		return
	}
	t.seen[tok] = struct{}{}
	t.out = append(t.out, tok)
}

// addPrefixed adds prefix+word, building the string only when it is new.
func (t *tokenizer) addPrefixed(prefix string, word []byte) {
	if len(t.out) >= maxTokens {
		return
	}
	t.buf = append(append(t.buf[:0], prefix...), word...)
	if _, ok := t.seen[string(t.buf)]; ok { // no allocation for the lookup
		return
	}
	t.add(string(t.buf))
}

func (t *tokenizer) full() bool { return len(t.out) >= maxTokens }

func (t *tokenizer) message(msg []byte) {
	// An mbox "From " line (as corpora keep) is not part of the message.
	if bytes.HasPrefix(msg, []byte("From ")) {
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
	}
	if len(msg) > maxMessageBytes {
		msg = msg[:maxMessageBytes]
	}
	m, err := mime.Scan(bytes.NewReader(msg), mime.Limits{MaxDepth: 8, MaxParts: 64, MaxHeaderBytes: maxHeaderBytes})
	if err != nil || m.Root == nil {
		return
	}
	t.headers(msg[m.Root.HeaderStart:m.Root.BodyStart])
	textParts := 0
	m.Root.Walk(func(p *mime.Part) bool {
		if t.full() {
			return false
		}
		if p.IsMultipart() {
			if p != m.Root {
				t.addPrefixed("mime:", []byte(p.Type+"/"+p.Subtype))
			}
			return true
		}
		if p.IsMessage() {
			t.add("mime:message/" + p.Subtype)
			return true
		}
		if p != m.Root {
			t.addPrefixed("mime:", []byte(p.Type+"/"+p.Subtype))
		}
		if p.Filename != "" {
			if i := strings.LastIndexByte(p.Filename, '.'); i >= 0 && len(p.Filename)-i <= 10 {
				t.add("filename:" + strings.ToLower(p.Filename[i:]))
			}
		}
		if p.Type != "text" || p.Disposition == "attachment" || textParts >= maxTextParts {
			return true
		}
		textParts++
		t.textPart(msg, p)
		return true
	})
}

// textPart tokenizes the start of one text part's body.
func (t *tokenizer) textPart(msg []byte, p *mime.Part) {
	end := min(p.End, p.BodyStart+maxPartBytes, int64(len(msg)))
	if p.BodyStart >= end {
		return
	}
	raw := msg[p.BodyStart:end]
	if p.Encoding != "7bit" && p.Encoding != "8bit" && p.Encoding != "binary" {
		t.add("encoding:" + p.Encoding)
	}
	body := mime.AppendDecoded(nil, raw, p.Encoding)
	cs, _ := p.Param("charset")
	cs = strings.ToLower(strings.TrimSpace(cs))
	if cs != "" && cs != "us-ascii" && cs != "utf-8" {
		t.addPrefixed("charset:", []byte(cs))
	}
	if enc, _ := mime.LookupCharset(cs); enc != nil {
		if dec, err := enc.NewDecoder().Bytes(body); err == nil {
			body = dec
		}
	}
	if p.Subtype == "html" {
		body = t.html(body)
	}
	t.text("", body)
}

// text adds the words of s (prefixed by prefix) and the hosts of its URLs.
func (t *tokenizer) text(prefix string, s []byte) {
	t.urls(s)
	var lower, prev []byte
	for i := 0; i < len(s) && !t.full(); {
		// Skip to the start of a word.
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(s[i:])
		}
		if !isWordStart(r) {
			i += n
			continue
		}
		j := i
		for j < len(s) {
			r, n := rune(s[j]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRune(s[j:])
			}
			if !isWordRune(r) {
				break
			}
			j += n
		}
		w := bytes.TrimRight(s[i:j], ".-'_,")
		if j < len(s) && s[j] == '!' && len(w) == j-i {
			w = s[i : j+1] // "free!" is spammier than "free"
		}
		i = j
		if isNumber(w) {
			continue
		}
		lower = appendLower(lower[:0], w)
		switch n := utf8.RuneCount(lower); {
		case n < minWordLen:
		case n > maxWordLen:
			r, _ := utf8.DecodeRune(lower)
			t.addPrefixed(prefix+"skip:", append(utf8.AppendRune(nil, r), byte('0'+min(n/10, 9))))
		default:
			t.addPrefixed(prefix, lower)
			if useBigrams && prefix == "" {
				if len(prev) > 0 {
					prev = append(append(prev, ' '), lower...)
					t.addPrefixed("", prev)
				}
				prev = append(prev[:0], lower...)
			}
		}
	}
}

// useBigrams adds pairs of adjacent body words ("click here") as tokens.
const useBigrams = true

func isWordStart(r rune) bool {
	return r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isWordRune(r rune) bool {
	switch r {
	case '$', '\'', '-', '_', '.', ',':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// isNumber: all digits and separators. Numbers are mostly dates, prices
// and ids, unique to a message and so worthless as clues; "$100" is kept.
func isNumber(w []byte) bool {
	for _, c := range w {
		if (c < '0' || c > '9') && c != '.' && c != ',' && c != '-' {
			return false
		}
	}
	return true
}

func appendLower(dst, w []byte) []byte {
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(w[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// urls adds "url:" tokens for the hosts of http(s) URLs and www. names in
// s: the host itself and its parent domains down to two labels, since
// spam rotates subdomains of a few domains.
func (t *tokenizer) urls(s []byte) {
	for len(s) > 0 && !t.full() {
		i := indexURL(s)
		if i < 0 {
			return
		}
		s = s[i:]
		if j := bytes.Index(s[:min(len(s), 9)], []byte("://")); j >= 0 {
			s = s[j+3:]
		}
		end := 0
		for end < len(s) && end < 255 && isHostByte(s[end]) {
			end++
		}
		host := s[:end]
		s = s[end:]
		// user@host in a URL hides the real host after the "@".
		if k := bytes.LastIndexByte(host, '@'); k >= 0 {
			host = host[k+1:]
		}
		host = bytes.Trim(host, ".-")
		if len(host) == 0 {
			continue
		}
		t.host("url:", appendLower(nil, host))
	}
}

// host adds prefix+host and prefix+each parent domain of at least two
// labels; an IP address literal becomes prefix+"ip".
func (t *tokenizer) host(prefix string, host []byte) {
	if isNumber(host) {
		t.add(prefix + "ip")
		return
	}
	labels := 0
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == '.' {
			labels++
			if labels >= 2 {
				t.addPrefixed(prefix, host[i+1:])
			}
		}
	}
	t.addPrefixed(prefix, host)
}

// indexURL finds the next "http://", "https://" or "www." in s
// (case-insensitive).
func indexURL(s []byte) int {
	for i := 0; i+4 <= len(s); i++ {
		c := s[i] | 0x20
		if c != 'h' && c != 'w' {
			continue
		}
		rest := s[i:]
		if hasPrefixFold(rest, "http://") || hasPrefixFold(rest, "https://") {
			return i
		}
		if hasPrefixFold(rest, "www.") && (i == 0 || !isHostByte(s[i-1])) {
			return i
		}
	}
	return -1
}

func hasPrefixFold(s []byte, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(string(s[:len(prefix)]), prefix)
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '@' || c == '_'
}
