package search

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// upperASCII folds ASCII letters to upper case: the smallest member of
// their simple folding orbits, so that the ASCII fast path and foldRune
// agree ("k", "K" and the Kelvin sign all become "K").
var upperASCII = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		c := byte(i)
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		t[i] = c
	}
	return t
}()

// foldRune maps r to the smallest rune of its unicode.SimpleFold orbit, a
// canonical representative for simple case-insensitive comparison. The
// result is never larger than r, so its UTF-8 form is never longer.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(upperASCII[r])
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// appendFold appends the folded form of src to dst and returns it with the
// number of bytes of src consumed. Unless final, an incomplete UTF-8
// sequence at the end of src is left unconsumed, for the caller to prepend
// to the next chunk. Invalid bytes are copied as they are: a valid needle
// can never match across them.
func appendFold(dst, src []byte, final bool) ([]byte, int) {
	// Folding never lengthens text, so one growth up front lets the
	// ASCII loop store by index instead of appending byte by byte.
	dst = slices.Grow(dst, len(src))
	i := 0
	for i < len(src) {
		n := len(dst)
		out := dst[n : n+len(src)-i]
		j := 0
		for j < len(out) {
			c := src[i+j]
			if c >= utf8.RuneSelf {
				break
			}
			out[j] = upperASCII[c]
			j++
		}
		dst = dst[:n+j]
		i += j
		if i == len(src) {
			break
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			if !final && !utf8.FullRune(src[i:]) {
				break
			}
			dst = append(dst, src[i])
			i++
			continue
		}
		dst = utf8.AppendRune(dst, foldRune(r))
		i += size
	}
	return dst, i
}

// foldString folds a whole string (a needle, a header value).
func foldString(dst []byte, s string) []byte {
	dst, _ = appendFold(dst, []byte(s), true)
	return dst
}
