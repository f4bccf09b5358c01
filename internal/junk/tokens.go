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
	// maxTokens caps the distinct tokens of one message, and
	// maxTokenBytes the length of one (without its prefix): header values
	// such as a charset label are the sender's to make long.
	maxTokens     = 3000
	maxTokenBytes = 256
	// Words shorter than minWordLen are too common to tell anything;
	// longer than maxWordLen are encoded junk, ids or run-together text
	// and become one "skip:" token of their first letter and length.
	minWordLen = 3
	maxWordLen = 40
)

// Tokens returns the distinct features of one RFC 5322 message (raw
// bytes): words of the decoded text parts (transfer encodings undone,
// charsets converted to UTF-8, unlabelled 8-bit text read as Windows-1252,
// HTML reduced to its text), lower-cased, and pairs of adjacent words;
// header tokens prefixed by their field name ("subject:free",
// "from:dom:example.com"); the hosts of URLs ("url:example.com"); and the
// types and file name extensions of attachments. Work and memory are
// bounded whatever the message (see the constants above).
func Tokens(msg []byte) []string {
	t := tokenizer{seen: make(map[uint64]struct{}, 512), arena: make([]byte, 0, 8<<10), ends: make([]int, 0, 512)}
	t.message(msg)
	return t.strings()
}

// tokenizer collects distinct tokens. To keep allocation per token near
// zero (tokenizing is most of the cost of classifying), tokens are
// appended to one byte arena and recognised as seen by their Hash, the
// key the model stores them under anyway: two tokens whose hashes collide
// are one token to a Model, so keeping only the first loses nothing.
type tokenizer struct {
	seen  map[uint64]struct{}
	arena []byte
	ends  []int // end offset in arena of each token
}

// strings returns the tokens, all sharing one string's memory.
func (t *tokenizer) strings() []string {
	all := string(t.arena)
	out := make([]string, len(t.ends))
	start := 0
	for i, end := range t.ends {
		out[i] = all[start:end]
		start = end
	}
	return out
}

// add records one token unless seen or the cap is reached.
func (t *tokenizer) add(tok string) {
	t.addPrefixed(tok, nil)
}

// addPrefixed adds prefix+word, copying it only when it is new.
func (t *tokenizer) addPrefixed(prefix string, word []byte) {
	if t.full() {
		return
	}
	if len(prefix) > maxTokenBytes { // add passes whole tokens as prefix
		prefix = prefix[:runeCut(prefix, maxTokenBytes)]
	}
	if len(word) > maxTokenBytes {
		word = word[:runeCut(word, maxTokenBytes)]
	}
	h := hashBytes(hashString(fnvOffset, prefix), word)
	if _, ok := t.seen[h]; ok {
		return
	}
	t.seen[h] = struct{}{}
	t.arena = append(append(t.arena, prefix...), word...)
	t.ends = append(t.ends, len(t.arena))
}

func (t *tokenizer) full() bool { return len(t.ends) >= maxTokens }

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
	switch enc, known := mime.LookupCharset(cs); {
	case enc != nil:
		if dec, err := enc.NewDecoder().Bytes(body); err == nil {
			body = dec
		}
	case (!known || cs == "" || cs == "us-ascii") && !utf8.Valid(body):
		// 8-bit text without a (usable) charset label is, in mail that
		// old or careless, Latin-1 or Windows-1252 far more often than
		// anything else; read as UTF-8 its accented letters would split
		// words.
		body = fromLegacy(body)
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

// fromLegacy reads b as Windows-1252 (the superset of Latin-1 that
// internal/mime reads ISO-8859-1 as), giving UTF-8.
func fromLegacy(b []byte) []byte {
	enc, _ := mime.LookupCharset("windows-1252")
	if enc == nil {
		return b
	}
	dec, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return dec
}

// runeCut returns where to cut s (longer than n bytes) to at most n bytes
// without splitting a UTF-8 sequence.
func runeCut[T string | []byte](s T, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
