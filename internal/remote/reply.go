package remote

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Reply limits. RFC 5321 section 4.5.3.1.5 allows 512 octets a line; we
// take more, as servers exceed it, but not without bound, so that a hostile
// server cannot make us buffer without end.
const (
	maxReplyLine  = 4096
	maxReplyLines = 128
)

// reply is one SMTP reply, possibly of several lines.
type reply struct {
	code     int
	enhanced string   // RFC 3463 status as the server gave it, "" if none
	lines    []string // each line's text, as sent
	text     string   // the lines joined by spaces, enhanced codes removed
}

func (r *reply) Error() string {
	if r.enhanced != "" {
		return fmt.Sprintf("%d %s %s", r.code, r.enhanced, r.text)
	}
	return fmt.Sprintf("%d %s", r.code, r.text)
}

// positive reports a 2yz reply.
func (r *reply) positive() bool { return r.code/100 == 2 }

// status is the reply's enhanced status code: the server's, or one that
// fits the reply code (RFC 3463) when it gave none.
func (r *reply) status() string {
	if r.enhanced != "" {
		return r.enhanced
	}
	return statusFor(r.code)
}

// statusFor maps a basic reply code to the RFC 3463 status whose meaning
// matches the code's in RFC 5321 section 4.2; codes without a clear match
// get the class's "other or undefined" X.0.0.
func statusFor(code int) string {
	switch code {
	case 421:
		return "4.3.2" // service not available: system not accepting network messages
	case 450:
		return "4.2.0" // mailbox unavailable
	case 451:
		return "4.3.0" // local error in processing
	case 452:
		return "4.3.1" // insufficient system storage
	case 454:
		return "4.7.0" // TLS or authentication temporarily unavailable (RFC 3207, 4954)
	case 455:
		return "4.5.4" // unable to accommodate parameters
	case 500:
		return "5.5.2" // syntax error, command unrecognized
	case 501, 504, 555:
		return "5.5.4" // syntax error in parameters; parameter not implemented
	case 502, 503:
		return "5.5.1" // command not implemented; bad sequence
	case 551:
		return "5.1.6" // user not local: mailbox has moved
	case 552:
		return "5.2.2" // exceeded storage allocation
	case 553:
		return "5.1.3" // mailbox name not allowed
	case 530:
		return "5.7.0" // authentication or TLS required (RFC 4954, 3207)
	case 534:
		return "5.7.9" // authentication mechanism too weak (RFC 4954)
	case 535:
		return "5.7.8" // authentication credentials invalid (RFC 4954)
	case 538:
		return "5.7.11" // encryption required for the mechanism (RFC 4954)
	case 556:
		return "5.1.10" // domain does not accept mail (RFC 7505)
	}
	switch code / 100 {
	case 2:
		return "2.0.0"
	case 4:
		return "4.0.0"
	}
	return "5.0.0"
}

// errProtocol marks replies that do not follow RFC 5321's syntax.
var errProtocol = errors.New("malformed reply")

// readReply reads one reply. Lines may end in a bare LF, which some
// servers send.
func readReply(br *bufio.Reader) (*reply, error) {
	r := &reply{}
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if len(line) < 3 || n >= maxReplyLines {
			return nil, fmt.Errorf("%w: %q", errProtocol, truncate(line))
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 100 || code > 599 || (n > 0 && code != r.code) {
			return nil, fmt.Errorf("%w: %q", errProtocol, truncate(line))
		}
		r.code = code
		more := false
		text := ""
		if len(line) > 3 {
			switch line[3] {
			case '-':
				more = true
			case ' ':
			default:
				return nil, fmt.Errorf("%w: %q", errProtocol, truncate(line))
			}
			text = line[4:]
		}
		r.lines = append(r.lines, text)
		if !more {
			break
		}
	}
	r.enhanced, r.text = splitEnhanced(r.code, r.lines)
	return r, nil
}

// readLine reads a line without its line ending.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxReplyLine {
			return "", fmt.Errorf("%w: line longer than %d octets", errProtocol, maxReplyLine)
		}
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return strings.ToValidUTF8(s, "\uFFFD"), nil
}

// splitEnhanced takes the RFC 2034 enhanced status code from the start of
// the reply's lines (servers repeat it on every line) and returns it with
// the text that remains. A code whose class differs from the reply's is
// not one: it is left in the text.
func splitEnhanced(code int, lines []string) (enhanced, text string) {
	parts := make([]string, 0, len(lines))
	for i, l := range lines {
		st, rest, ok := cutStatus(l)
		if ok && st[0] == byte('0'+code/100) {
			if i == 0 {
				enhanced = st
			}
			if st == enhanced {
				l = rest
			}
		}
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return enhanced, strings.Join(parts, " ")
}

// cutStatus splits "5.1.1 text" into "5.1.1" and "text".
func cutStatus(s string) (status, rest string, ok bool) {
	st, rest, _ := strings.Cut(s, " ")
	if !validStatus(st) {
		return "", s, false
	}
	return st, rest, true
}

// validStatus reports whether s is class "." subject "." detail with
// class 2, 4 or 5 and one to three digits in the others (RFC 3463).
func validStatus(s string) bool {
	f := strings.Split(s, ".")
	if len(f) != 3 || (f[0] != "2" && f[0] != "4" && f[0] != "5") {
		return false
	}
	for _, n := range f[1:] {
		if len(n) < 1 || len(n) > 3 {
			return false
		}
		for i := 0; i < len(n); i++ {
			if n[i] < '0' || n[i] > '9' {
				return false
			}
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
