package mime

import (
	"bytes"
	"io"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
)

// This file is the server's one charset table: message bodies, header
// encoded words, RFC 2231 parameters, the preview, SEARCH strings and the
// webmail's HTML all name charsets through LookupCharset, so a label means
// the same everywhere.
//
// Labels are looked up as browsers and mail clients do (the WHATWG
// Encoding Standard) first, then in the IANA registry for what the web
// never adopted (IBM code pages and the like). WHATWG reads ISO-8859-1
// and US-ASCII-labelled 8-bit text as Windows-1252, which is what such
// text almost always is. Two exceptions: the ASCII labels and every UTF-8
// label leave bytes as they are (8-bit text labelled US-ASCII is UTF-8 far
// more often than not nowadays), and "utf-16" is RFC 2781's (a BOM, else
// big endian) rather than WHATWG's little endian.
//
// An unknown charset is not an error for readers of text: its bytes pass
// through unchanged, so ASCII and UTF-8 content still reads and matches.
// Callers that must refuse one (SEARCH CHARSET, encoded words, re-labelling
// an attachment) ask KnownCharset.

// LookupCharset returns the decoder for a charset label (case and
// surrounding blanks ignored, an RFC 2231 "*language" suffix dropped).
// enc is nil, with known true, for labels whose bytes are used as UTF-8 as
// they are, including the empty label; known is false for labels no
// decoder here reads.
func LookupCharset(label string) (enc encoding.Encoding, known bool) {
	label = strings.ToLower(strings.TrimSpace(label))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "x-utf_8j":
		return nil, true
	case "utf-16":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM), true
	}
	enc, err := htmlindex.Get(label)
	if err != nil || enc == encoding.Replacement {
		// The replacement "encoding" turns a whole text into one U+FFFD:
		// right for a browser fending off ISO-2022-KR, not for mail, where
		// the IANA registry may still know the label (HZ-GB-2312).
		enc = ianaEncoding(label)
	}
	switch enc {
	case nil:
		return nil, false
	case unicode.UTF8:
		return nil, true
	}
	return enc, true
}

// ianaEncoding looks label up in the IANA registry, also with the "cs"
// prefix of its alias names; nil if it is unknown or known without a
// decoder.
func ianaEncoding(label string) encoding.Encoding {
	if enc, err := ianaindex.MIME.Encoding(label); err == nil && enc != nil {
		return enc
	}
	if enc, err := ianaindex.MIME.Encoding("cs" + label); err == nil && enc != nil {
		return enc
	}
	return nil
}

// KnownCharset reports whether text in the charset label can be read.
func KnownCharset(label string) bool {
	_, known := LookupCharset(label)
	return known
}

// CharsetReader returns a reader of r converted from the charset label to
// UTF-8, streaming through a fixed buffer. For a UTF-8 or unknown label it
// returns r itself: the bytes pass through and may hold invalid UTF-8,
// which the caller replaces or tolerates. Conversion never fails; bytes a
// charset does not define become U+FFFD.
func CharsetReader(label string, r io.Reader) io.Reader {
	enc, _ := LookupCharset(label)
	if enc == nil {
		return r
	}
	return enc.NewDecoder().Reader(r)
}

// maxDecodedText bounds the output of a charset conversion of header text
// or a preview; inputs are bounded by the limits already, this is a second
// fence.
const maxDecodedText = 1 << 20

// toUTF8 converts b from charset cs to UTF-8 as CharsetReader does. ok is
// false when the charset is unknown (b is returned unchanged).
func toUTF8(cs string, b []byte) (out []byte, ok bool) {
	enc, known := LookupCharset(cs)
	if enc == nil {
		return b, known
	}
	out, err := io.ReadAll(io.LimitReader(enc.NewDecoder().Reader(bytes.NewReader(b)), maxDecodedText))
	if err != nil && len(out) == 0 {
		return b, false
	}
	return out, true
}
