package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// quitTimeout bounds the wait for the reply to QUIT: the outcome is
// settled by then, and a server that lingers must not hold up the queue.
const quitTimeout = 10 * time.Second

// conn is a client connection to one SMTP server.
type conn struct {
	ctx  context.Context
	nc   net.Conn // TCP, or TLS over it
	br   *bufio.Reader
	t    Timeouts
	log  *slog.Logger
	stop func() bool // undoes the context.AfterFunc

	ext    map[string]string // EHLO keywords (upper case) and their parameters
	tls    bool
	broken bool // an I/O error left the protocol state unknown: no QUIT
}

// dial connects to addr. The context bounds the dial and, for as long as
// the connection lives, every read and write.
func dial(ctx context.Context, addr netip.AddrPort, t Timeouts, log *slog.Logger) (*conn, error) {
	d := net.Dialer{Timeout: t.Connect}
	nc, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	c := &conn{ctx: ctx, nc: nc, br: bufio.NewReaderSize(nc, 4096), t: t, log: log}
	// Cancelling ctx must interrupt a blocked read or write; a deadline in
	// the past does that. The per-operation deadlines set later check
	// ctx after setting theirs, so they cannot undo this one.
	c.stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

// close ends the session politely when the protocol state allows, then
// closes the connection.
func (c *conn) close() {
	if !c.broken {
		if _, err := c.cmd(min(c.t.Mail, quitTimeout), "QUIT"); err != nil {
			c.log.Debug("QUIT failed", "err", err)
		}
	}
	c.stop()
	c.nc.Close()
}

// ioError records that the connection is unusable and returns err, or the
// context's error if cancellation caused it.
func (c *conn) ioError(err error) error {
	c.broken = true
	if cerr := c.ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timeout: %w", err)
	}
	return err
}

func (c *conn) setReadDeadline(d time.Duration) error {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.ctx.Err()
}

func (c *conn) setWriteDeadline(d time.Duration) error {
	c.nc.SetWriteDeadline(time.Now().Add(d))
	return c.ctx.Err()
}

// errBroken refuses I/O on a connection whose protocol state is unknown:
// a late reply to an earlier command could be taken for the next one's.
var errBroken = errors.New("connection unusable after an earlier error")

// read reads one reply, waiting at most timeout.
func (c *conn) read(timeout time.Duration) (*reply, error) {
	if c.broken {
		return nil, errBroken
	}
	if err := c.setReadDeadline(timeout); err != nil {
		return nil, c.ioError(err)
	}
	r, err := readReply(c.br)
	if err != nil {
		return nil, c.ioError(err)
	}
	return r, nil
}

// write writes p, taking at most timeout.
func (c *conn) write(timeout time.Duration, p []byte) error {
	if c.broken {
		return errBroken
	}
	if err := c.setWriteDeadline(timeout); err != nil {
		return c.ioError(err)
	}
	if _, err := c.nc.Write(p); err != nil {
		return c.ioError(err)
	}
	return nil
}

// cmd sends one command and reads its reply; timeout applies to each.
func (c *conn) cmd(timeout time.Duration, line string) (*reply, error) {
	if err := c.write(timeout, []byte(line+"\r\n")); err != nil {
		return nil, err
	}
	return c.read(timeout)
}

// command is a command line and how long its reply may take.
type command struct {
	line    string
	timeout time.Duration
}

// pipeline sends cmds in one write and reads their replies in order (RFC
// 2920). It writes from another goroutine while reading: a long group can
// fill the server's receive window while the server waits for us to read
// its replies, and RFC 2920 section 3 warns of that deadlock. It returns
// the replies read before any error.
func (c *conn) pipeline(cmds []command) ([]*reply, error) {
	var buf []byte
	var total time.Duration
	for _, cmd := range cmds {
		buf = append(buf, cmd.line...)
		buf = append(buf, "\r\n"...)
		// The server works through the group one command at a time.
		total += cmd.timeout
	}
	if c.broken {
		return nil, errBroken
	}
	if err := c.setWriteDeadline(total); err != nil {
		return nil, c.ioError(err)
	}
	// The writer touches nothing but the connection; the conn's state
	// stays with this goroutine.
	werr := make(chan error, 1)
	go func() {
		_, err := c.nc.Write(buf)
		werr <- err
	}()
	replies := make([]*reply, 0, len(cmds))
	var err error
	for _, cmd := range cmds {
		r, rerr := c.read(cmd.timeout)
		if rerr != nil {
			err = rerr
			// Unblock the writer: the session is over anyway.
			c.nc.SetWriteDeadline(time.Unix(1, 0))
			break
		}
		replies = append(replies, r)
	}
	if e := <-werr; e != nil && err == nil {
		err = c.ioError(e)
	}
	return replies, err
}

// hello sends EHLO and records the extensions, falling back to HELO when
// the server rejects EHLO with 5xx (RFC 5321 section 3.2). It returns the
// reply that ended the exchange.
func (c *conn) hello(name string) (*reply, error) {
	c.ext = map[string]string{}
	r, err := c.cmd(c.t.Mail, "EHLO "+name)
	if err != nil {
		return nil, err
	}
	if r.positive() {
		for _, l := range r.lines[1:] {
			kw, param, _ := strings.Cut(strings.TrimSpace(l), " ")
			if kw != "" {
				c.ext[strings.ToUpper(kw)] = strings.TrimSpace(param)
			}
		}
		return r, nil
	}
	if r.code/100 != 5 {
		return r, nil
	}
	return c.cmd(c.t.Mail, "HELO "+name)
}

// has reports whether the server announced the extension.
func (c *conn) has(ext string) bool {
	_, ok := c.ext[ext]
	return ok
}

// maxSize is the SIZE limit the server announced, 0 if none (RFC 1870:
// no parameter or 0 both mean no fixed limit).
func (c *conn) maxSize() int64 {
	n, err := strconv.ParseInt(c.ext["SIZE"], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// rcptMax is the RCPTMAX of the LIMITS extension (RFC 9422), 0 if none.
func (c *conn) rcptMax() int {
	for _, f := range strings.Fields(c.ext["LIMITS"]) {
		k, v, _ := strings.Cut(f, "=")
		if strings.EqualFold(k, "RCPTMAX") {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// authMechs lists the SASL mechanisms the server announced.
func (c *conn) authMechs() []string {
	return strings.Fields(strings.ToUpper(c.ext["AUTH"]))
}

// startTLS runs the TLS handshake over the connection. After STARTTLS the
// caller must say EHLO again: RFC 3207 section 4.2 has the client forget
// everything learned before TLS.
func (c *conn) startTLS(cfg *tls.Config) error {
	// Anything already buffered was sent before the handshake, in the
	// clear, and must not be taken as a reply over TLS (the STARTTLS
	// command injection of CVE-2011-0411, seen from the client side).
	if c.br.Buffered() > 0 {
		c.broken = true
		return errors.New("server sent data after its STARTTLS reply")
	}
	c.nc.SetDeadline(time.Now().Add(c.t.Connect))
	tc := tls.Client(c.nc, cfg)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return c.ioError(err)
	}
	c.nc = tc
	c.br = bufio.NewReaderSize(tc, 4096)
	c.tls = true
	c.ext = nil
	return nil
}

// verifyPeer checks the server's certificate chain against roots (nil:
// the system's) for name, as a handshake that verifies would have.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	if name == "" {
		return errors.New("no host name to verify the certificate for")
	}
	inter := x509.NewCertPool()
	for _, cert := range cs.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         roots,
		Intermediates: inter,
	})
	return err
}

// tlsState returns the connection's TLS state.
func (c *conn) tlsState() (tls.ConnectionState, bool) {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

// auth runs a SASL exchange (RFC 4954) and returns the final reply.
func (c *conn) auth(cl sasl.Client) (*reply, error) {
	mech, ir, err := cl.Start()
	if err != nil {
		return nil, err
	}
	line := "AUTH " + mech
	if ir != nil {
		enc := base64.StdEncoding.EncodeToString(ir)
		if enc == "" {
			enc = "=" // an empty initial response, RFC 4954 section 4
		}
		line += " " + enc
	}
	r, err := c.cmd(c.t.Mail, line)
	for err == nil && r.code == 334 {
		var chal, resp []byte
		if len(r.lines) > 0 {
			chal, err = base64.StdEncoding.DecodeString(strings.TrimSpace(r.lines[0]))
		}
		if err == nil {
			resp, err = cl.Next(chal)
		}
		if err != nil {
			// Cancel the exchange (RFC 4954 section 4) and report
			// why, whatever the server answers.
			if _, cerr := c.cmd(c.t.Mail, "*"); cerr != nil {
				return nil, cerr
			}
			return nil, fmt.Errorf("AUTH %s: %w", mech, err)
		}
		r, err = c.cmd(c.t.Mail, base64.StdEncoding.EncodeToString(resp))
	}
	return r, err
}

// loginClient is the LOGIN mechanism. go-sasl's sends the user name as an
// initial response, which the mechanism's draft does not provide for and
// servers reject; this one answers the two prompts in order.
type loginClient struct {
	user, pass string
	step       int
}

func (l *loginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (l *loginClient) Next([]byte) ([]byte, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte(l.user), nil
	case 2:
		return []byte(l.pass), nil
	}
	return nil, errors.New("unexpected LOGIN challenge")
}

// dataWriter writes message data to the connection, each write within the
// data block timeout (RFC 5321 section 4.5.3.2.5).
type dataWriter struct{ c *conn }

func (w dataWriter) Write(p []byte) (int, error) {
	if err := w.c.setWriteDeadline(w.c.t.DataBlock); err != nil {
		return 0, w.c.ioError(err)
	}
	n, err := w.c.nc.Write(p)
	if err != nil {
		return n, w.c.ioError(err)
	}
	return n, nil
}

// sendData streams the message after a 354 reply, dot-stuffed and
// terminated. A failure to read the message is returned as readErr: the
// caller must then not let the server take what was sent as complete.
func (c *conn) sendData(body io.Reader) (readErr, writeErr error) {
	bw := bufio.NewWriterSize(dataWriter{c}, 64<<10)
	dw := &dotWriter{w: bw, bol: true}
	src := &recordingReader{r: body}
	if _, err := io.Copy(dw, src); err != nil {
		if src.err != nil {
			c.broken = true
			return src.err, nil
		}
		return nil, err
	}
	if err := dw.Close(); err != nil {
		return nil, err
	}
	return nil, bw.Flush()
}

// recordingReader remembers its reader's error, to tell it from the
// writer's after io.Copy.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
