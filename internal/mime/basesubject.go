package mime

import "strings"

// BaseSubject extracts the base subject of a decoded Subject (RFC 5256
// section 2.1): reply and forward markers ("Re:", "Fwd:", "[list] Re:",
// trailing "(fwd)", "[fwd: ...]" wrappers) and leading [blobs] removed,
// whitespace runs collapsed to one space. It reports whether any reply or
// forward marker was removed, which THREAD=REFERENCES and conversation
// grouping need (RFC 5256 section 2.1 step 1 of the REFERENCES subject
// merge and JMAP's subject rule).
//
// The result keeps its case: callers compare it with the collation they
// need (i;unicode-casemap for SORT, as RFC 5255 asks).
func BaseSubject(decoded string) (base string, replyOrForward bool) {
	// (1) whitespace runs, tabs and line ends become one space.
	s := strings.Join(strings.FieldsFunc(decoded, isSubjectSpace), " ")
	for {
		// (2) trailing "(fwd)" and whitespace.
		for {
			t := strings.TrimRight(s, " ")
			if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
				t = t[:len(t)-5]
				replyOrForward = true
			} else if t == s {
				break
			}
			s = t
		}
		// (3)-(5): subj-leaders and subj-blobs, until none is left.
		for {
			n, marker := stripLeader(s)
			if marker {
				replyOrForward = true
			}
			if n == 0 {
				if b := blobLen(s); b > 0 && b < len(s) {
					n = b
				}
			}
			if n == 0 {
				break
			}
			s = s[n:]
		}
		// (6) "[fwd: ... ]" wrapper.
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = strings.TrimLeft(s[5:len(s)-1], " ")
			replyOrForward = true
			continue
		}
		return s, replyOrForward
	}
}

func isSubjectSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }

// stripLeader returns the length of a subj-leader at the start of s,
//
//	subj-leader = (*subj-blob subj-refwd) / WSP
//	subj-refwd  = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//
// and whether it was a subj-refwd (a reply or forward marker).
func stripLeader(s string) (int, bool) {
	if strings.HasPrefix(s, " ") {
		return 1, false
	}
	i := 0
	for {
		b := blobLen(s[i:])
		if b == 0 {
			break
		}
		i += b
	}
	rest := s[i:]
	var w int
	switch {
	case len(rest) >= 3 && strings.EqualFold(rest[:3], "fwd"):
		w = 3
	case len(rest) >= 2 && (strings.EqualFold(rest[:2], "re") || strings.EqualFold(rest[:2], "fw")):
		w = 2
	default:
		return 0, false
	}
	j := i + w
	for j < len(s) && s[j] == ' ' {
		j++
	}
	j += blobLen(s[j:])
	if j < len(s) && s[j] == ':' {
		return j + 1, true
	}
	return 0, false
}

// blobLen returns the length of a subj-blob at the start of s, 0 if none:
//
//	subj-blob = "[" *BLOBCHAR "]" *WSP    ; BLOBCHAR: any CHAR but "[" and "]"
func blobLen(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	n := end + 2
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}
