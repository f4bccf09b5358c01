package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/listener"
	"mailroom/internal/sasl"
	"mailroom/internal/store"
)

// maxLine bounds a command line. RFC 2449 allows 255 octets for commands;
// SASL responses (AUTH) are longer, so accept more, but not without bound.
const maxLine = 8 << 10

type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// session is one POP3 connection.
type session struct {
	srv  *Server
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer

	id     string
	remote netip.Addr
	ctx    context.Context
	tls    bool
	track  *listener.Session // for graceful shutdown
	buf    []byte            // RETR/TOP copy buffer, allocated on first use and reused

	state     state
	user      string // from USER
	timestamp string // APOP's greeting timestamp, "" without APOP
	drop      *maildrop
	lock      *maildropLock // the held maildrop lock, nil if none
}

func (s *session) logger(args ...any) []any {
	base := []any{"session", s.id, "remote", s.remote.String()}
	if s.drop != nil {
		base = append(base, "user", s.drop.principal.Email)
	}
	return append(base, args...)
}

func (s *session) serve() {
	// The last reply (an error, a BYE) must reach the client even when
	// it has sent more than was read: see listener.CloseGracefully. A
	// closure, for s.conn changes at STLS/STARTTLS.
	defer func() { listener.CloseGracefully(s.conn) }()
	var cancel context.CancelFunc
	s.ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	defer func() {
		if s.lock != nil {
			s.lock.release()
		}
	}()
	var rnd [10]byte
	rand.Read(rnd[:])
	s.id = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:]))
	if ap, err := netip.ParseAddrPort(s.conn.RemoteAddr().String()); err == nil {
		s.remote = ap.Addr().Unmap()
	}
	if tc, ok := s.conn.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(time.Minute))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.srv.log.Debug("TLS handshake failed", s.logger("err", err)...)
			return
		}
		tc.SetDeadline(time.Time{})
		s.tls = true
	}
	s.srv.log.Debug("session start", s.logger("tls", s.tls)...)
	if s.srv.opts.APOP {
		// RFC 1939 section 7: a timestamp unique to this greeting.
		s.timestamp = fmt.Sprintf("<%d.%s@%s>", time.Now().UnixNano(), s.id, s.srv.opts.Hostname)
		s.ok("Mailroom POP3 server ready %s", s.timestamp)
	} else {
		s.ok("Mailroom POP3 server ready")
	}
	for {
		line, err := s.readCommand()
		if err != nil {
			s.endOnReadError(err)
			return
		}
		cmd, arg, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if h := s.srv.opts.Hooks; h != nil {
			h.BeforeCommand("pop3", s.conn.RemoteAddr().String(), cmd)
		}
		start := time.Now()
		quit := s.dispatch(cmd, arg)
		s.srv.opts.Metrics.Command(cmd, time.Since(start))
		if quit {
			s.w.Flush()
			return
		}
	}
}

// readCommand flushes pending replies unless more pipelined commands are
// already buffered (one write per batch of commands), then reads a line.
func (s *session) readCommand() (string, error) {
	if s.r.Buffered() == 0 {
		if err := s.w.Flush(); err != nil {
			return "", err
		}
	}
	if !s.track.Idle(s.srv.opts.Config.IdleTimeout.Std()) {
		return "", errShutdown
	}
	line, err := s.r.ReadSlice('\n')
	s.track.Busy()
	if errors.Is(err, bufio.ErrBufferFull) || (err == nil && len(line) > maxLine) {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

var (
	errShutdown    = errors.New("server shutting down")
	errLineTooLong = errors.New("line too long")
)

// endOnReadError says goodbye where that still makes sense. A dropped or
// timed-out session commits nothing (RFC 1939: no UPDATE state).
func (s *session) endOnReadError(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		s.err("line too long")
	case errors.Is(err, errShutdown) || (errors.As(err, &ne) && ne.Timeout() && s.srv.sessions.Closing()):
		s.err("[SYS/TEMP] server shutting down, nothing was changed; try again shortly")
	case errors.As(err, &ne) && ne.Timeout():
		s.err("autologout: idle too long, nothing was changed")
	default:
		s.srv.log.Debug("session dropped", s.logger("err", err)...)
		return
	}
	s.w.Flush()
	s.srv.log.Info("session ended", s.logger("reason", err.Error())...)
}

func (s *session) ok(format string, args ...any) {
	s.w.WriteString("+OK ")
	fmt.Fprintf(s.w, format, args...)
	s.w.WriteString("\r\n")
}

func (s *session) err(format string, args ...any) {
	s.w.WriteString("-ERR ")
	fmt.Fprintf(s.w, format, args...)
	s.w.WriteString("\r\n")
}

// CommandNames are the commands dispatch knows, for the metrics.
func CommandNames() []string {
	return []string{"CAPA", "QUIT", "NOOP", "STLS", "USER", "PASS", "AUTH", "APOP",
		"STAT", "LIST", "RETR", "TOP", "DELE", "RSET", "UIDL"}
}

// dispatch runs one command; it returns true when the session must end.
func (s *session) dispatch(cmd, arg string) bool {
	switch cmd {
	case "CAPA":
		s.capa()
		return false
	case "QUIT":
		if s.state == stateTransaction {
			s.update()
		} else {
			s.ok("Mailroom POP3 server signing off")
		}
		return true
	case "NOOP":
		if s.state != stateTransaction {
			s.err("log in first")
			return false
		}
		s.ok("")
		return false
	}
	if s.state == stateAuthorization {
		switch cmd {
		case "STLS":
			return s.stls()
		case "USER":
			s.userCmd(arg)
		case "PASS":
			s.passCmd(arg)
		case "AUTH":
			return s.authCmd(arg)
		case "APOP":
			s.apopCmd(arg)
		case "STAT", "LIST", "RETR", "DELE", "RSET", "TOP", "UIDL":
			s.err("log in first")
		default:
			s.err("unknown command %q", truncate(cmd))
		}
		return false
	}
	switch cmd {
	case "STAT":
		count, size := s.drop.stat()
		s.ok("%d %d", count, size)
	case "LIST":
		s.list(arg)
	case "UIDL":
		s.uidl(arg)
	case "RETR":
		return s.retr(arg)
	case "TOP":
		return s.top(arg)
	case "DELE":
		s.dele(arg)
	case "RSET":
		s.drop.reset()
		count, size := s.drop.stat()
		s.ok("maildrop has %d messages (%d octets)", count, size)
	case "STLS", "USER", "PASS", "AUTH", "APOP":
		s.err("already logged in")
	default:
		s.err("unknown command %q", truncate(cmd))
	}
	return false
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// passwordsAllowed: no password may cross a connection without TLS unless
// the operator allowed it for loopback testing.
func (s *session) passwordsAllowed() bool {
	return s.tls || s.srv.opts.AllowInsecure
}

var mechanisms = []string{sasl.PLAIN, sasl.LOGIN, sasl.SCRAMSHA256}

func (s *session) capa() {
	s.ok("capability list follows")
	w := s.w
	w.WriteString("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n")
	if s.state == stateAuthorization {
		if !s.tls && s.srv.opts.TLS != nil {
			w.WriteString("STLS\r\n")
		}
		if s.passwordsAllowed() {
			w.WriteString("USER\r\nSASL " + strings.Join(mechanisms, " ") + "\r\n")
		}
		if d := s.srv.opts.Auth.ThrottleDelay(s.remote, s.user); d > 0 {
			fmt.Fprintf(w, "LOGIN-DELAY %d\r\n", int(d.Round(time.Second).Seconds()))
		}
	} else if s.drop.mode == "keep" {
		// Nothing this client does can delete mail on the server.
		w.WriteString("EXPIRE NEVER\r\n")
	}
	w.WriteString("IMPLEMENTATION Mailroom\r\n.\r\n")
}

func (s *session) stls() bool {
	switch {
	case s.tls:
		s.err("already using TLS")
		return false
	case s.srv.opts.TLS == nil:
		s.err("TLS is not configured on this server")
		return false
	}
	s.ok("begin TLS negotiation")
	if err := s.w.Flush(); err != nil {
		return true
	}
	if s.r.Buffered() > 0 {
		// Plaintext pipelined after STLS could be injected by an attacker
		// (CVE-2011-0411 style): refuse to go on.
		s.srv.log.Warn("data pipelined after STLS, closing", s.logger()...)
		return true
	}
	tc := tls.Server(s.conn, s.srv.opts.TLS)
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		s.srv.log.Debug("STLS handshake failed", s.logger("err", err)...)
		return true
	}
	tc.SetDeadline(time.Time{})
	s.conn = tc
	s.r.Reset(tc)
	s.w.Reset(tc)
	s.tls = true
	s.user = ""
	return false
}

func (s *session) userCmd(arg string) {
	if !s.passwordsAllowed() {
		s.err("[AUTH] USER/PASS needs TLS: issue STLS first")
		return
	}
	if arg == "" {
		s.err("USER needs a name")
		return
	}
	s.user = arg
	s.ok("send PASS")
}

func (s *session) passCmd(arg string) {
	if !s.passwordsAllowed() {
		s.err("[AUTH] USER/PASS needs TLS: issue STLS first")
		return
	}
	if s.user == "" {
		s.err("USER first")
		return
	}
	user := s.user
	s.user = ""
	p, err := s.srv.opts.Auth.Authenticate(s.ctx, s.remote, "pop3", user, arg)
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrInvalidCredentials):
			s.err("[AUTH] invalid user name or password")
		case errors.Is(err, auth.ErrThrottled):
			// RFC 3206: a temporary condition; the client may retry.
			s.err("[SYS/TEMP] too many failed logins, try again later")
		default:
			s.srv.log.Error("authentication error", s.logger("err", err)...)
			s.err("[SYS/TEMP] temporary failure, try again later")
		}
		return
	}
	s.login(p)
}

// apopCmd logs in with APOP (RFC 1939 section 7): the client proves it
// knows the secret with MD5(timestamp + secret).
func (s *session) apopCmd(arg string) {
	if s.timestamp == "" {
		s.err("APOP is not enabled on this server")
		return
	}
	if !s.passwordsAllowed() {
		s.err("[AUTH] APOP needs TLS: issue STLS first")
		return
	}
	name, digest, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok || name == "" {
		s.err("usage: APOP name digest")
		return
	}
	a := s.srv.opts.Auth
	name = a.Username(name) // the lookup below is not Authenticate's
	tk, err := a.Admit(s.remote, "pop3", name)
	if err != nil {
		s.err("[SYS/TEMP] too many failed logins, try again later")
		return
	}
	secret := ""
	p, _, err := s.srv.opts.Store.LookupCredentials(s.ctx, name)
	if err == nil {
		var cred auth.Credentials
		if cred, err = s.srv.opts.Store.Credentials(s.ctx, p.AccountID); err == nil {
			secret = cred.APOP
		}
	}
	if err != nil && !errors.Is(err, auth.ErrUnknownAccount) {
		tk.Abandon()
		s.srv.log.Error("APOP lookup failed", s.logger("err", err)...)
		s.err("[SYS/TEMP] temporary failure, try again later")
		return
	}
	sum := md5.Sum([]byte(s.timestamp + secret))
	want := hex.EncodeToString(sum[:])
	good := secret != "" && subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(strings.TrimSpace(digest)))) == 1
	a.Record(tk, s.remote, "pop3", name, good)
	if !good {
		s.err("[AUTH] invalid user name or digest")
		return
	}
	s.login(p)
}

// authCmd runs a SASL exchange (RFC 5034). It returns true when the
// session must end (the connection broke mid-exchange).
func (s *session) authCmd(arg string) bool {
	if arg == "" { // list mechanisms, as clients of RFC 1734 expect
		s.ok("")
		if s.passwordsAllowed() {
			for _, m := range mechanisms {
				s.w.WriteString(m + "\r\n")
			}
		}
		s.w.WriteString(".\r\n")
		return false
	}
	if !s.passwordsAllowed() {
		s.err("[AUTH] authentication needs TLS: issue STLS first")
		return false
	}
	mech, ir, hasIR := strings.Cut(arg, " ")
	v := sasl.NewVerifier(s.srv.opts.Auth, s.srv.opts.Store, s.remote, "pop3")
	var principal *auth.Principal
	srv, err := sasl.NewServer(s.ctx, mech, v, func(p auth.Principal) error { principal = &p; return nil })
	if err != nil {
		s.err("unsupported mechanism %q", truncate(mech))
		return false
	}
	var resp []byte
	if hasIR {
		if resp, err = decodeSASL(ir); err != nil {
			s.err("[AUTH] malformed initial response")
			return false
		}
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			if errors.Is(err, sasl.ErrAuthFailed) {
				s.err("[AUTH] authentication failed")
			} else {
				s.srv.log.Error("authentication error", s.logger("err", err)...)
				s.err("[SYS/TEMP] temporary failure, try again later")
			}
			return false
		}
		if done {
			break
		}
		s.w.WriteString("+ " + base64.StdEncoding.EncodeToString(challenge) + "\r\n")
		line, err := s.readCommand()
		if err != nil {
			s.endOnReadError(err)
			return true
		}
		if line == "*" {
			s.err("authentication cancelled")
			return false
		}
		if resp, err = decodeSASL(line); err != nil {
			s.err("[AUTH] malformed response")
			return false
		}
	}
	if principal == nil {
		s.err("[AUTH] authentication failed")
		return false
	}
	s.login(*principal)
	return false
}

func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// login checks the account may use POP3, locks its maildrop and takes the
// snapshot.
func (s *session) login(p auth.Principal) {
	settings, err := s.srv.opts.Store.Settings(s.ctx, p.AccountID)
	if err != nil {
		s.err("[SYS/TEMP] temporary failure, try again later")
		return
	}
	if !settings.Bool("pop3.enabled") {
		s.srv.log.Info("login refused: POP3 disabled", s.logger("account", p.Email)...)
		s.err("[AUTH] POP3 is switched off in this account's settings; switch it on in the webmail settings")
		return
	}
	lock, err := lockMaildrop(s.ctx, s.srv.opts.Store, p.AccountID, s.lockOwner(), s.srv.opts.LockTTL, s.srv.log)
	if err != nil {
		s.srv.log.Error("taking the maildrop lock failed", s.logger("account", p.Email, "err", err)...)
		s.err("[SYS/TEMP] temporary failure, try again later")
		return
	}
	if lock == nil {
		s.srv.log.Info("login refused: maildrop in use", s.logger("account", p.Email)...)
		s.err("[IN-USE] another POP3 session is using this mailbox; try again when it has finished")
		return
	}
	s.lock = lock
	drop, err := openMaildrop(s.ctx, s.srv.opts.Store, p, settings)
	if err != nil {
		s.lock.release()
		s.lock = nil
		s.srv.log.Error("opening maildrop failed", s.logger("account", p.Email, "err", err)...)
		s.err("[SYS/TEMP] could not open the mailbox, try again later")
		return
	}
	s.drop = drop
	s.state = stateTransaction
	count, size := drop.stat()
	s.srv.log.Info("logged in", s.logger("messages", count, "mode", drop.mode)...)
	s.ok("maildrop has %d messages (%d octets)", count, size)
}

// msgArg parses a message number argument.
func (s *session) msgArg(arg string) (*item, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 {
		s.err("invalid message number")
		return nil, false
	}
	it := s.drop.get(n)
	if it == nil {
		s.err("no such message, only %d in maildrop", len(s.drop.items))
		return nil, false
	}
	if it.deleted {
		s.err("message %d already deleted", n)
		return nil, false
	}
	return it, true
}

func (s *session) list(arg string) {
	if arg != "" {
		if it, ok := s.msgArg(arg); ok {
			s.ok("%d %d", it.num, it.size)
		}
		return
	}
	count, size := s.drop.stat()
	s.ok("%d messages (%d octets)", count, size)
	var buf []byte
	for i := range s.drop.items {
		it := &s.drop.items[i]
		if it.deleted {
			continue
		}
		buf = strconv.AppendInt(buf[:0], int64(it.num), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, it.size, 10)
		buf = append(buf, '\r', '\n')
		s.w.Write(buf)
	}
	s.w.WriteString(".\r\n")
}

func (s *session) uidl(arg string) {
	if arg != "" {
		if it, ok := s.msgArg(arg); ok {
			s.ok("%d %s", it.num, s.drop.uidl(it))
		}
		return
	}
	s.ok("unique-id listing follows")
	var buf []byte
	for i := range s.drop.items {
		it := &s.drop.items[i]
		if it.deleted {
			continue
		}
		buf = strconv.AppendInt(buf[:0], int64(it.num), 10)
		buf = append(buf, ' ')
		buf = s.drop.appendUIDL(buf, it)
		buf = append(buf, '\r', '\n')
		s.w.Write(buf)
	}
	s.w.WriteString(".\r\n")
}

func (s *session) dele(arg string) {
	it, ok := s.msgArg(arg)
	if !ok {
		return
	}
	it.deleted = true
	s.ok("message %d deleted", it.num)
}

// retr sends a whole message; it returns true if the connection broke.
func (s *session) retr(arg string) bool {
	it, ok := s.msgArg(arg)
	if !ok {
		return false
	}
	body, err := s.srv.opts.Mailboxes.OpenBody(s.ctx, s.drop.inbox, it.uid)
	if err != nil {
		return s.gone(it, err)
	}
	defer body.Close()
	s.ok("%d octets", it.size)
	if err := sendStuffed(s.w, io.NewSectionReader(body, 0, body.Size()), s.copyBuffer()); err != nil {
		s.srv.log.Warn("RETR failed mid-message", s.logger("err", err)...)
		return true
	}
	it.retrieved = true
	return false
}

// top sends the header and the first n body lines (RFC 1939 TOP), using the
// header size recorded at delivery.
func (s *session) top(arg string) bool {
	num, lines, ok := strings.Cut(strings.TrimSpace(arg), " ")
	n, err := strconv.Atoi(strings.TrimSpace(lines))
	if !ok || err != nil || n < 0 {
		s.err("usage: TOP msg n")
		return false
	}
	it, ok := s.msgArg(num)
	if !ok {
		return false
	}
	structure, err := s.srv.opts.Store.Structure(s.ctx, s.drop.inbox, it.uid)
	if err != nil {
		return s.gone(it, err)
	}
	body, err := s.srv.opts.Mailboxes.OpenBody(s.ctx, s.drop.inbox, it.uid)
	if err != nil {
		return s.gone(it, err)
	}
	defer body.Close()
	headerEnd := structure.Root.BodyStart
	s.ok("top of message follows")
	var src io.Reader = io.NewSectionReader(body, 0, headerEnd)
	if n > 0 {
		src = io.MultiReader(src, &lineLimiter{r: io.NewSectionReader(body, headerEnd, body.Size()-headerEnd), lines: n})
	}
	if err := sendStuffed(s.w, src, s.copyBuffer()); err != nil {
		s.srv.log.Warn("TOP failed mid-message", s.logger("err", err)...)
		return true
	}
	return false
}

// copyBuffer returns the session's reusable copy buffer.
func (s *session) copyBuffer() []byte {
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	return s.buf
}

// gone answers for a message that vanished from the store since the
// snapshot (expunged or moved by IMAP or the web); the session goes on.
func (s *session) gone(it *item, err error) bool {
	if errors.Is(err, store.ErrNotFound) {
		s.err("message %d was removed by another client since this session began", it.num)
		return false
	}
	s.srv.log.Error("reading message failed", s.logger("uid", it.uid, "err", err)...)
	s.err("[SYS/TEMP] could not read message %d, try again later", it.num)
	return false
}

// lockOwner is the session's token as a maildrop lock's owner: unique
// (the session ID is 80 random bits), and naming the node for whoever
// reads the leases table.
func (s *session) lockOwner() string {
	owner := s.id + "@" + s.srv.opts.Hostname
	if len(owner) > store.MaxSharedNameLen {
		owner = owner[:store.MaxSharedNameLen]
	}
	return strings.ToValidUTF8(owner, "")
}

// update is the UPDATE state: commit the session's changes, then sign off.
func (s *session) update() {
	// Commit only under the lock: a session whose lock expired (its
	// renewals failed for longer than the lease) and went to another
	// session must not apply its DELEs over that session's.
	if held, err := s.lock.renew(s.ctx); err != nil || !held {
		s.lock.release()
		s.lock = nil
		s.srv.log.Warn("commit at QUIT refused: maildrop lock not held", s.logger("err", err)...)
		s.err("[SYS/TEMP] the mailbox lock was lost; nothing was deleted, try again")
		return
	}
	deleted, err := s.drop.commit(s.ctx, s.srv.opts.Mailboxes)
	// Unlock before answering: a client that saw +OK may log in again at once.
	s.lock.release()
	s.lock = nil
	if err != nil {
		s.srv.log.Error("commit at QUIT failed", s.logger("err", err)...)
		s.err("[SYS/TEMP] some changes could not be saved; nothing was deleted")
		return
	}
	s.srv.log.Info("session committed", s.logger("deleted", deleted, "mode", s.drop.mode)...)
	s.ok("Mailroom POP3 server signing off (%d messages deleted)", deleted)
}

// lineLimiter passes through the first lines lines of r.
type lineLimiter struct {
	r     io.Reader
	lines int
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.lines <= 0 {
		return 0, io.EOF
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.lines--
			if l.lines == 0 {
				return i + 1, nil
			}
		}
	}
	return n, err
}

// sendStuffed writes src as a POP3 multi-line body: lines starting with "."
// get another "." (byte-stuffing, RFC 1939 section 3), a missing final CRLF
// is added, and ".\r\n" ends it. It streams: memory does not grow with the
// message.
func sendStuffed(w *bufio.Writer, src io.Reader, buf []byte) error {
	atLineStart := true
	var last byte = '\n'
	for {
		n, err := src.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			if atLineStart && chunk[0] == '.' {
				w.WriteByte('.')
			}
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				w.Write(chunk)
				atLineStart = false
				break
			}
			w.Write(chunk[:i+1])
			chunk = chunk[i+1:]
			atLineStart = true
		}
		if n > 0 {
			last = buf[n-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if last != '\n' {
		w.WriteString("\r\n")
	}
	_, err := w.WriteString(".\r\n")
	return err
}
