package wire

// Character classes of the RFC 9051 section 9 grammar. They are switch
// functions rather than lookup tables so that the package has no mutable
// package-level state.

// isAtomChar reports whether c is an ATOM-CHAR: any 7-bit CHAR except
// atom-specials ( "(" / ")" / "{" / SP / CTL / "%" / "*" / DQUOTE / "\" /
// "]" ).
func isAtomChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// isAStringChar reports whether c is an ASTRING-CHAR (ATOM-CHAR or "]").
func isAStringChar(c byte) bool { return c == ']' || isAtomChar(c) }

// isTagChar reports whether c may appear in a tag: any ASTRING-CHAR except
// "+".
func isTagChar(c byte) bool { return c != '+' && isAStringChar(c) }

// isListChar reports whether c is a list-char (ATOM-CHAR, list-wildcards or
// resp-specials), used by LIST and LSUB patterns.
func isListChar(c byte) bool { return c == '%' || c == '*' || isAStringChar(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// upper returns c upper-cased if it is an ASCII letter.
func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 0x20
	}
	return c
}

// upperInto copies b upper-cased into buf and returns the used part; ok is
// false when b does not fit, which callers treat as "not a known keyword".
// Keyword dispatch uses it so that case-insensitive matching needs no
// allocation.
func upperInto(buf []byte, b []byte) ([]byte, bool) {
	if len(b) > len(buf) {
		return nil, false
	}
	for i, c := range b {
		buf[i] = upper(c)
	}
	return buf[:len(b)], true
}

// equalFoldASCII compares b to the upper-case ASCII word w ignoring case.
func equalFoldASCII[T string | []byte](b T, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if upper(b[i]) != w[i] {
			return false
		}
	}
	return true
}
