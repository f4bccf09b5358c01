package mailfetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// A small POP3 client (RFC 1939, CAPA and the UIDL listing of RFC 2449,
// STLS of RFC 2595, AUTH PLAIN of RFC 5034): what collecting mail needs
// and nothing more. Every line read is bounded (maxLine), and so is a
// listing (maxListing entries); a message is streamed, never held whole.

const (
	// maxLine bounds a response line. RFC 2449 allows 512 octets; some
	// servers' greetings and UIDLs run longer, so there is room.
	maxLine = 8 << 10
	// maxListing bounds the entries of a UIDL or LIST answer: a maildrop
	// bigger than this is refused rather than held in memory.
	maxListing = 500_000
	// maxCapa bounds the lines of a CAPA answer.
	maxCapa = 200
)

// RemoteError is a -ERR answer: the remote server refused a command.
type RemoteError struct {
	Command string // the command, without its arguments
	Text    string // what the server said
}

func (e *RemoteError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("the server refused %s", e.Command)
	}
	return fmt.Sprintf("the server refused %s: %q", e.Command, e.Text)
}

// errLineTooLong is a response line over maxLine.
var errLineTooLong = errors.New("the server sent a line longer than 8 KiB")

// pop3Client is one POP3 connection.
type pop3Client struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	capa    map[string]string // CAPA: name (upper case) → its arguments
}

// dialPOP3 connects, reads the greeting and, for STARTTLS, switches to
// TLS with STLS. ctx bounds the whole connection: when it ends, the
// connection is closed.
func dialPOP3(ctx context.Context, addr string, security string, tlsCfg *tls.Config, timeout time.Duration) (*pop3Client, error) {
	conn, err := dial(ctx, addr, security, tlsCfg, timeout)
	if err != nil {
		return nil, err
	}
	c := &pop3Client{conn: conn, r: bufio.NewReaderSize(conn, 32<<10), timeout: timeout}
	context.AfterFunc(ctx, func() { conn.Close() })
	if _, err := c.status("greeting"); err != nil {
		conn.Close()
		return nil, err
	}
	c.readCapa() // a server without CAPA is RFC 1939's: no STLS, no SASL
	if security == "starttls" {
		if _, ok := c.capa["STLS"]; !ok && c.capa != nil {
			conn.Close()
			return nil, errors.New("the server does not offer STLS (STARTTLS); choose TLS or another port")
		}
		if _, err := c.cmd("STLS", "STLS"); err != nil {
			conn.Close()
			return nil, err
		}
		tc := tls.Client(conn, tlsCfg)
		tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c.conn, c.r = tc, bufio.NewReaderSize(tc, 32<<10)
		context.AfterFunc(ctx, func() { tc.Close() })
		c.readCapa() // RFC 2595 4: the capabilities may differ now
	}
	return c, nil
}

// dial opens a TCP connection, with a TLS handshake first for implicit TLS.
func dial(ctx context.Context, addr, security string, tlsCfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if security != "tls" {
		return conn, nil
	}
	tc := tls.Client(conn, tlsCfg)
	tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

func (c *pop3Client) Close() error { return c.conn.Close() }

// readLine reads one line without its line ending, at most maxLine octets.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return "", errLineTooLong
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(bytes.TrimRight(line, "\r\n")), nil
}

// parseStatus splits a status line: "+OK text" or "-ERR text".
func parseStatus(line string) (ok bool, text string, err error) {
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		return true, strings.TrimPrefix(strings.TrimPrefix(line, "+OK"), " "), nil
	case line == "-ERR" || strings.HasPrefix(line, "-ERR "):
		return false, strings.TrimPrefix(strings.TrimPrefix(line, "-ERR"), " "), nil
	}
	return false, "", fmt.Errorf("the server answered %.60q, not +OK or -ERR: is this a POP3 server?", line)
}

// status reads a status line; -ERR is a *RemoteError for command.
func (c *pop3Client) status(command string) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	line, err := readLine(c.r)
	if err != nil {
		return "", fmt.Errorf("reading the answer to %s: %w", command, err)
	}
	ok, text, err := parseStatus(line)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &RemoteError{Command: command, Text: text}
	}
	return text, nil
}

// cmd sends a command line and reads its status. name is what errors
// call it (never the line: it may carry the password).
func (c *pop3Client) cmd(name, line string) (string, error) {
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		return "", fmt.Errorf("sending %s: %w", name, err)
	}
	return c.status(name)
}

// readCapa asks CAPA; a server that refuses it leaves c.capa nil.
func (c *pop3Client) readCapa() {
	c.capa = nil
	if _, err := c.cmd("CAPA", "CAPA"); err != nil {
		return
	}
	capa := map[string]string{}
	err := readMultiline(c.r, maxCapa, func(line string) error {
		name, args, _ := strings.Cut(line, " ")
		capa[strings.ToUpper(name)] = args
		return nil
	})
	if err == nil {
		c.capa = capa
	}
}

// readMultiline reads the lines of a multi-line answer up to the "."
// line, dot-unstuffed, handing each to fn; more than max lines is an
// error.
func readMultiline(r *bufio.Reader, max int, fn func(string) error) error {
	for n := 0; ; n++ {
		line, err := readLine(r)
		if err != nil {
			return err
		}
		if line == "." {
			return nil
		}
		if n >= max {
			return fmt.Errorf("the server's listing has more than %d lines", max)
		}
		line = strings.TrimPrefix(line, ".")
		if err := fn(line); err != nil {
			return err
		}
	}
}

// login authenticates with AUTH PLAIN where the server offers it, with
// USER and PASS otherwise.
func (c *pop3Client) login(user, pass string) error {
	if c.capa != nil && hasWord(c.capa["SASL"], "PLAIN") {
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
		_, err := c.cmd("AUTH PLAIN", "AUTH PLAIN "+ir)
		return err
	}
	if _, err := c.cmd("USER", "USER "+user); err != nil {
		return err
	}
	_, err := c.cmd("PASS", "PASS "+pass)
	return err
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// popMessage is one message of the maildrop.
type popMessage struct {
	Num  int
	UID  string
	Size int64
}

// parseListingLine parses "n value", a line of UIDL or LIST.
func parseListingLine(line string) (int, string, error) {
	num, val, ok := strings.Cut(strings.TrimSpace(line), " ")
	n, err := strconv.Atoi(num)
	val = strings.TrimSpace(val)
	if !ok || err != nil || n < 1 || val == "" || strings.ContainsAny(val, " \t") {
		return 0, "", fmt.Errorf("the server sent a malformed listing line %.60q", line)
	}
	return n, val, nil
}

// list returns the maildrop's messages with their unique ids and sizes
// (UIDL and LIST), in message-number order.
func (c *pop3Client) list() ([]popMessage, error) {
	if _, err := c.cmd("UIDL", "UIDL"); err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("the server does not give unique ids (UIDL), without which mail cannot be left on it safely: %w", err)
		}
		return nil, err
	}
	var msgs []popMessage
	index := map[int]int{}
	err := readMultiline(c.r, maxListing, func(line string) error {
		n, uid, err := parseListingLine(line)
		if err != nil {
			return err
		}
		if _, dup := index[n]; dup {
			return fmt.Errorf("the server listed message %d twice", n)
		}
		index[n] = len(msgs)
		msgs = append(msgs, popMessage{Num: n, UID: uid, Size: -1})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("UIDL: %w", err)
	}
	if _, err := c.cmd("LIST", "LIST"); err != nil {
		return nil, err
	}
	err = readMultiline(c.r, maxListing, func(line string) error {
		n, size, err := parseListingLine(line)
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(size, 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("the server sent a malformed size %.30q", size)
		}
		if i, ok := index[n]; ok {
			msgs[i].Size = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	return msgs, nil
}

// retr asks for message n and hands its body, dot-unstuffed and with CRLF
// line endings, to fn as a stream. fn must read it to the end, or return
// an error (the connection is then unusable).
func (c *pop3Client) retr(n int, fn func(io.Reader) error) error {
	if _, err := c.cmd("RETR", "RETR "+strconv.Itoa(n)); err != nil {
		return err
	}
	dr := &dotReader{r: c.r, conn: c.conn, timeout: c.timeout, bol: true}
	if err := fn(dr); err != nil {
		return err
	}
	if !dr.done {
		// fn stopped early: read the rest so the session stays in step.
		if _, err := io.Copy(io.Discard, dr); err != nil {
			return err
		}
	}
	return nil
}

// dele marks message n for deletion at QUIT.
func (c *pop3Client) dele(n int) error {
	_, err := c.cmd("DELE", "DELE "+strconv.Itoa(n))
	return err
}

// quit ends the session; the server deletes the DELE'd messages now
// (RFC 1939 6), and only now.
func (c *pop3Client) quit() error {
	_, err := c.cmd("QUIT", "QUIT")
	c.conn.Close()
	return err
}

// dotReader reads a multi-line answer as a stream: it removes the
// byte-stuffing dot, writes line endings as CRLF (a bare LF from a sloppy
// server too), and ends at the "." line. Long lines pass through in
// pieces, so memory stays at the bufio.Reader's buffer.
type dotReader struct {
	r       *bufio.Reader
	conn    net.Conn // deadlines move on with each read
	timeout time.Duration
	bol     bool   // at the beginning of a line
	pending []byte // output not yet returned
	heldCR  bool   // a CR ended the last piece of a long line
	done    bool
}

func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	// Many lines per call while they are buffered already: a reader
	// writing each Read to a file should not pay a write per line.
	for n < len(p) {
		if len(d.pending) == 0 {
			if d.done || (n > 0 && d.r.Buffered() == 0) {
				break
			}
			if err := d.step(); err != nil {
				if n > 0 {
					return n, nil // the error comes again on the next call
				}
				return 0, err
			}
			continue
		}
		c := copy(p[n:], d.pending)
		d.pending = d.pending[c:]
		n += c
	}
	if n == 0 && d.done {
		return 0, io.EOF
	}
	return n, nil
}

// step reads the next piece of a line into pending.
func (d *dotReader) step() error {
	if d.conn != nil {
		d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	}
	chunk, err := d.r.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("the connection ended in the middle of a message: %w", err)
	}
	full := err == nil // chunk ends the line
	if d.bol {
		if full && (string(chunk) == ".\r\n" || string(chunk) == ".\n") {
			d.done = true
			return nil
		}
		if len(chunk) > 0 && chunk[0] == '.' {
			chunk = chunk[1:]
		}
	}
	// Copy: the bufio.Reader's buffer is reused on the next read.
	out := d.pending[:0]
	if d.heldCR && !(full && string(chunk) == "\n") {
		out = append(out, '\r') // it was not the line's end after all
	}
	d.heldCR = false
	out = append(out, chunk...)
	switch {
	case full:
		out = bytes.TrimSuffix(bytes.TrimSuffix(out, []byte("\n")), []byte("\r"))
		out = append(out, '\r', '\n')
	case len(out) > 0 && out[len(out)-1] == '\r':
		// Maybe the first half of the line's CRLF: wait for the rest.
		out, d.heldCR = out[:len(out)-1], true
	}
	d.pending, d.bol = out, full
	return nil
}
