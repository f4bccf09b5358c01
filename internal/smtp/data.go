package smtp

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mailroom/internal/store"
)

// errBareLineEnd: the message has a CR not followed by LF, or an LF not
// preceded by CR.
var errBareLineEnd = errors.New("bare CR or LF in message data")

// crlfOnly passes message data through and fails on a bare CR or LF.
//
// SMTP smuggling (CVE-2023-51766 and friends) hides a second message behind
// an end-of-data sequence that one server honours and another does not, such
// as "\n.\n" or "\r.\r". go-smtp only ends DATA at CRLF.CRLF; refusing bare
// line ends outright also keeps such messages from being relayed onwards
// to servers that would read them differently. Mailroom rejects rather than
// normalises: a message with bare line ends is either broken or an attack.
//
// It also bounds the length of a line (maxLine bytes, CRLF included; 0
// for no bound): go-smtp's own line limit is for commands only (see
// third_party/go-smtp/MAILROOM.md), so an over-long line is refused once,
// at the end of the data, and the session goes on.
type crlfOnly struct {
	r       io.Reader
	lastCR  bool // the previous byte was CR
	maxLine int
	line    int // bytes of the current line so far
}

// errLineTooLong: a line of the message is longer than smtp.max_line_length.
var errLineTooLong = errors.New("message line too long")

func (c *crlfOnly) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if c.line++; c.maxLine > 0 && c.line > c.maxLine {
			return i, errLineTooLong
		}
		switch p[i] {
		case '\n':
			if !c.lastCR {
				return i, errBareLineEnd
			}
			c.lastCR = false
			c.line = 0
		case '\r':
			if c.lastCR {
				return i, errBareLineEnd
			}
			c.lastCR = true
		default:
			if c.lastCR {
				return i, errBareLineEnd
			}
		}
	}
	if errors.Is(err, io.EOF) && c.lastCR {
		return n, errBareLineEnd
	}
	return n, err
}

// headerLimit bounds the header block read into memory on submission.
const headerLimit = 1 << 20

var errHeaderTooLarge = errors.New("message header too large")

// readHeader reads the header block (through the empty line, or all of a
// message without one) and returns it with a reader for the rest.
func readHeader(r io.Reader, limit int) (hdr []byte, rest io.Reader, err error) {
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	for {
		if i := bytes.Index(buf.Bytes(), []byte("\r\n\r\n")); i >= 0 {
			all := buf.Bytes()
			return all[:i+4], io.MultiReader(bytes.NewReader(all[i+4:]), r), nil
		}
		if bytes.HasPrefix(buf.Bytes(), []byte("\r\n")) { // no header at all
			all := buf.Bytes()
			return nil, io.MultiReader(bytes.NewReader(all), r), nil
		}
		if buf.Len() > limit {
			return nil, nil, errHeaderTooLarge
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), bytes.NewReader(nil), nil
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

// headerField returns the unfolded value of the first field called name.
func headerField(hdr []byte, name string) (string, bool) {
	lines := strings.Split(string(hdr), "\r\n")
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += " " + strings.TrimSpace(lines[i])
		}
		return strings.TrimSpace(v), true
	}
	return "", false
}

// checkSubmissionHeader enforces that From: and Sender: hold only
// addresses the authenticated account may use (its own, or those a
// delegation lets it send as: delegate.go), and returns the fields to
// add: Message-ID and Date when the client left them out (RFC 6409 8.2,
// 8.3), Sender: for a message sent on someone's behalf without one. It
// also returns the delegations the message is sent under.
func (s *session) checkSubmissionHeader(hdr []byte) ([]byte, []store.Delegation, error) {
	orig, err := checkOriginator(hdr)
	if err != nil {
		s.srv.log.Info("message refused: ambiguous originator", append(s.logger(), "err", err)...)
		// RFC 6409 5.1 and 6.3: 554 for syntactic problems in the data.
		return nil, nil, smtpError(554, [3]int{5, 6, 0}, "message refused: "+strings.TrimPrefix(err.Error(), errAmbiguous.Error()+": "))
	}
	senderField, grants, err := s.checkOriginatorRights(orig)
	if err != nil {
		return nil, nil, err
	}
	var extra bytes.Buffer
	extra.Write(senderField)
	if _, ok := headerField(hdr, "Message-ID"); !ok {
		var rnd [12]byte
		rand.Read(rnd[:])
		fmt.Fprintf(&extra, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(rnd[:]), s.srv.opts.Hostname)
	}
	if _, ok := headerField(hdr, "Date"); !ok {
		fmt.Fprintf(&extra, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	return extra.Bytes(), grants, nil
}

// receivedHeader is the trace field this server adds (RFC 5321 4.4), with
// the protocol names of RFC 3848/6531 and the TLS parameters in a comment.
func (s *session) receivedHeader() string {
	proto := "ESMTP"
	if s.env.UTF8 {
		proto = "UTF8SMTP"
	}
	var tlsInfo string
	if st, ok := s.conn.TLSConnectionState(); ok {
		proto += "S"
		tlsInfo = fmt.Sprintf("\r\n\t(using %s with cipher %s)", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	if s.principal != nil {
		proto += "A"
	}
	helo := s.conn.Hostname()
	if helo == "" {
		helo = "unknown"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (Mailroom) with %s id %s%s",
		sanitizeHelo(helo), s.remote, s.srv.opts.Hostname, proto, s.id, tlsInfo)
	if len(s.env.Recipients) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", s.env.Recipients[0].Address)
	}
	fmt.Fprintf(&b, "; %s\r\n", time.Now().Format(time.RFC1123Z))
	return b.String()
}

// sanitizeHelo keeps a client-chosen HELO name from breaking the header.
func sanitizeHelo(h string) string {
	h = strings.Map(func(r rune) rune {
		if r <= ' ' || r == '(' || r == ')' || r == ';' || r == 0x7f {
			return -1
		}
		return r
	}, h)
	if len(h) > 255 {
		h = h[:255]
	}
	if h == "" {
		return "unknown"
	}
	return h
}
