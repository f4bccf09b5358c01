package store

import (
	"slices"
	"unicode/utf8"
)

// Short grams: how the full-text index answers needles of one or two
// characters, which a trigram index cannot. Two-character words are the
// commonest words of Chinese and Japanese (会議, 東京, 明天), written
// without spaces, so for the CJK scripts the index also keeps, per
// content and field, the set of distinct characters and of distinct
// pairs of adjacent characters ("grams"). A 1–2 character needle made
// only of such characters is then one gram lookup, exact by
// construction: a pair is in a field's set exactly when it is a
// substring of the field's text (pairs are taken within a unit, never
// across the '\n' between units, and each set belongs to one field).
//
// Latin, Cyrillic and the other scripts get no grams: a 1–2 letter needle
// there is not a word anyone searches for in practice, and keeping the
// pairs of every text would cost every delivery (a 10 KB English message
// has ~600 distinct pairs); such needles are answered by scanning the
// stored text, correctly, as before.
//
// A gram is a token: one ASCII letter naming the field, then the one or
// two characters, so that one token set per content serves every field
// and a pair from one field never answers a needle in another.

// ShortGramRune reports whether the index keeps grams of r: the CJK
// ideographs (with extensions and compatibility forms), kana, Hangul,
// Bopomofo, CJK symbols and punctuation, and the full-width forms.
func ShortGramRune(r rune) bool {
	switch {
	case r >= 0x2E80 && r <= 0x9FFF: // radicals, CJK symbols, kana, Bopomofo, Hangul jamo, CJK Ext A, CJK
		return true
	case r >= 0xAC00 && r <= 0xD7AF: // Hangul syllables
		return true
	case r >= 0xF900 && r <= 0xFAFF: // CJK compatibility ideographs
		return true
	case r >= 0xFF00 && r <= 0xFFEF: // half- and full-width forms
		return true
	case r >= 0x20000 && r <= 0x3FFFF: // CJK Ext B and later
		return true
	}
	return false
}

// ShortGramNeedle reports whether needle is answered by a gram lookup:
// one or two characters, all of them ShortGramRune.
func ShortGramNeedle(needle string) bool {
	n := 0
	for _, r := range needle {
		if n++; n > 2 || !ShortGramRune(r) {
			return false
		}
	}
	return n > 0
}

// gramMarker is the letter of a field's grams.
var gramMarker = [...]byte{
	TextFrom:    'f',
	TextTo:      't',
	TextCc:      'c',
	TextBcc:     'd',
	TextSubject: 's',
	TextHeader:  'h',
	TextBody:    'b',
}

// GramTokens returns the tokens a ShortGramNeedle in field f is found by:
// a content has the needle in f if it has any of them (TextAll: in the
// header or the body).
func GramTokens(f TextField, needle string) []string {
	if f == TextAll {
		return []string{"h" + needle, "b" + needle}
	}
	if int(f) >= len(gramMarker) {
		return nil
	}
	return []string{string(gramMarker[f]) + needle}
}

// ShortGrams returns the distinct grams of doc, in a fixed order: for
// every field, its marker followed by each CJK character, and by each pair
// of adjacent CJK characters, of its text. A doc without CJK text has
// none, and costs one pass over its bytes.
func ShortGrams(doc *TextDoc) []string {
	var out []string
	for f := TextFrom; f <= TextBody; f++ {
		out = appendGrams(out, gramMarker[f], doc.Field(f))
	}
	return out
}

// appendGrams adds the distinct grams of one field's text.
func appendGrams(out []string, marker byte, text string) []string {
	// Every ShortGramRune (U+2E80 and above) is encoded with a first byte
	// of 0xE2 or more: a text without such a byte has none (the common
	// case, at the cost of one byte scan).
	if !hasHighByte(text) {
		return out
	}
	// A gram is collected as its two characters packed in an integer (the
	// first 0 for a single character: 0 is never a ShortGramRune), which
	// spares a string per occurrence; strings are made once per distinct
	// gram.
	seen := map[uint64]struct{}{}
	prev := rune(0) // the previous character when it is ShortGramRune
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if !ShortGramRune(r) {
			prev = 0
			continue
		}
		seen[uint64(r)] = struct{}{}
		if prev != 0 {
			seen[uint64(prev)<<21|uint64(r)] = struct{}{}
		}
		prev = r
	}
	keys := make([]uint64, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf []byte
	for _, k := range keys {
		buf = append(buf[:0], marker)
		if first := rune(k >> 21); first != 0 {
			buf = utf8.AppendRune(buf, first)
		}
		buf = utf8.AppendRune(buf, rune(k&(1<<21-1)))
		out = append(out, string(buf))
	}
	return out
}

func hasHighByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xE2 {
			return true
		}
	}
	return false
}
