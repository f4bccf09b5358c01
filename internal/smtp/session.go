package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/address"
	"mailroom/internal/auth"
	"mailroom/internal/delivery"
	"mailroom/internal/sasl"
	"mailroom/internal/store"
)

// session is one SMTP connection's state.
type session struct {
	// reason overrides the refusal reason the reply implies, for the
	// metrics (a Sieve reject looks like any 5.7.1); see observe.
	reason string
	srv    *Server
	conn   *gosmtp.Conn
	id     string
	remote netip.Addr
	ctx    context.Context
	cancel context.CancelFunc

	principal *auth.Principal // set after AUTH
	env       delivery.Envelope
	hasFrom   bool
	errors    int
	// senders are the sender addresses checked this session, grants
	// what the account may send as (delegate.go; nil: not read yet).
	senders map[string]sender
	grants  []store.Delegation
}

func newSession(srv *Server, c *gosmtp.Conn) *session {
	var rnd [10]byte
	rand.Read(rnd[:])
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		srv:     srv,
		conn:    c,
		id:      strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:])),
		remote:  remoteAddr(c.Conn()),
		ctx:     ctx,
		cancel:  cancel,
		senders: map[string]sender{},
	}
	return s
}

func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (s *session) logger() []any {
	args := []any{"session", s.id, "remote", s.remote.String()}
	if s.principal != nil {
		args = append(args, "user", s.principal.Email)
	}
	return args
}

// smtpError builds a reply.
func smtpError(code int, enhanced [3]int, msg string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.EnhancedCode(enhanced), Message: msg}
}

// fail counts a failed command; past the limit the client is disconnected
// after this reply (RFC 5321 allows closing with 421 on abuse).
func (s *session) fail(err *gosmtp.SMTPError) error {
	s.errors++
	if s.errors >= s.srv.opts.Config.MaxErrors {
		s.srv.log.Warn("too many errors, disconnecting", s.logger()...)
		closeAfterReply(s.conn.Conn())
		return smtpError(421, [3]int{4, 7, 0}, err.Message+"; too many errors, closing connection")
	}
	return err
}

// closeAfterReply makes the connection end once the pending reply is
// written: go-smtp's next read sees EOF, and the close is graceful
// (trackedConn.Close). Shutting the socket's reading side instead left
// unread input behind, and closing then sent a reset.
func closeAfterReply(c net.Conn) {
	if tc := tracked(c); tc != nil {
		tc.eof.Store(true)
		return
	}
	c.SetReadDeadline(time.Now())
}

// closing reports whether the session said 421 and is ending: commands
// go-smtp had already buffered must not start a transaction.
func (s *session) closing() bool {
	tc := tracked(s.conn.Conn())
	return tc != nil && tc.eof.Load()
}

var errClosing = smtpError(421, [3]int{4, 7, 0}, "closing connection")

// AuthMechanisms implements gosmtp.AuthSession. Only submission offers
// AUTH; go-smtp offers it only after TLS unless insecure auth is allowed.
func (s *session) AuthMechanisms() []string {
	if s.srv.opts.Mode != Submission {
		return nil
	}
	return []string{sasl.PLAIN, sasl.LOGIN, sasl.SCRAMSHA256}
}

// Auth implements gosmtp.AuthSession.
func (s *session) Auth(mech string) (gosasl.Server, error) {
	if s.srv.opts.Mode != Submission {
		return nil, gosmtp.ErrAuthUnsupported
	}
	// "submission": the only mode with AUTH, and the login's protocol in
	// the log and the metrics.
	v := sasl.NewVerifier(s.srv.opts.Auth, s.srv.opts.Store, s.remote, s.srv.opts.Mode.String())
	srv, err := sasl.NewServer(s.ctx, mech, v, func(p auth.Principal) error {
		settings, err := s.srv.opts.Store.Settings(s.ctx, p.AccountID)
		if err != nil {
			return smtpError(454, [3]int{4, 7, 0}, "temporary authentication failure, try again later")
		}
		if !settings.Bool("submission.enabled") {
			s.srv.log.Info("auth refused: submission disabled", append(s.logger(), "account", p.Email)...)
			return smtpError(525, [3]int{5, 7, 13}, "sending mail is switched off in this account's settings")
		}
		s.principal = &p
		s.srv.log.Info("authenticated", s.logger()...)
		return nil
	})
	if err != nil {
		return nil, gosmtp.ErrAuthUnknownMechanism
	}
	return saslErrors{srv}, nil
}

// saslErrors maps mechanism errors to SMTP replies.
type saslErrors struct{ gosasl.Server }

func (m saslErrors) Next(resp []byte) ([]byte, bool, error) {
	c, done, err := m.Server.Next(resp)
	if err == nil {
		return c, done, nil
	}
	var se *gosmtp.SMTPError
	switch {
	case errors.As(err, &se):
		return nil, false, se
	case errors.Is(err, sasl.ErrAuthFailed):
		return nil, false, gosmtp.ErrAuthFailed
	case errors.Is(err, auth.ErrThrottled):
		// RFC 4954: 454 is a temporary failure; the client may retry.
		return nil, false, smtpError(454, [3]int{4, 7, 0}, "too many failed logins, try again later")
	case errors.Is(err, context.Canceled):
		return nil, false, smtpError(454, [3]int{4, 7, 0}, "temporary authentication failure")
	}
	return nil, false, smtpError(501, [3]int{5, 5, 2}, "malformed authentication exchange")
}

// Mail implements gosmtp.Session.
func (s *session) Mail(from string, opts *gosmtp.MailOptions) error {
	start := time.Now()
	err := s.mail(from, opts)
	s.observe("MAIL", start, err)
	return err
}

func (s *session) mail(from string, opts *gosmtp.MailOptions) error {
	if s.closing() {
		return errClosing
	}
	if h := s.srv.opts.Hooks; h != nil {
		h.BeforeCommand(s.srv.opts.Mode.String(), s.conn.Conn().RemoteAddr().String(), "MAIL")
	}
	cfg := s.srv.opts.Config
	if s.srv.opts.Mode == Submission {
		if s.principal == nil {
			return s.fail(smtpError(530, [3]int{5, 7, 0}, "authentication required: log in with AUTH first"))
		}
		if from == "" {
			return s.fail(smtpError(553, [3]int{5, 7, 1}, "the null sender is not allowed on submission"))
		}
		r, err := s.senderOf(from)
		if err != nil {
			return err
		}
		if !r.allowed() {
			s.srv.log.Info("sender refused", append(s.logger(), "from", from)...)
			return s.fail(smtpError(553, [3]int{5, 7, 1}, "<"+from+"> is not an address of your account, and you may not send as it"))
		}
	} else if from != "" {
		if _, err := address.Parse(from); err != nil {
			return s.fail(smtpError(553, [3]int{5, 1, 7}, "<"+from+"> is not a valid sender address"))
		}
	}
	if opts != nil && opts.Size > int64(cfg.MaxMessageSize) {
		return s.fail(smtpError(552, [3]int{5, 3, 4}, "message too big for this server"))
	}
	s.env = delivery.Envelope{From: strings.ToLower(from)}
	if s.principal != nil {
		s.env.AuthUser = s.principal.Email
		s.env.SenderAccount = s.principal.AccountID
	}
	if opts != nil {
		s.env.UTF8 = opts.UTF8
		s.env.DSNRet = string(opts.Return)
		s.env.DSNEnvID = opts.EnvelopeID
	}
	s.hasFrom = true
	return nil
}

// Rcpt implements gosmtp.Session.
func (s *session) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	start := time.Now()
	err := s.rcpt(to, opts)
	s.observe("RCPT", start, err)
	return err
}

func (s *session) rcpt(to string, opts *gosmtp.RcptOptions) error {
	if s.closing() {
		return errClosing
	}
	if !s.hasFrom {
		return s.fail(smtpError(503, [3]int{5, 5, 1}, "MAIL first"))
	}
	res, err := s.srv.opts.Delivery.Resolve(s.ctx, to, s.principal != nil)
	if err != nil {
		var de *delivery.Error
		if errors.As(err, &de) {
			s.srv.log.Info("recipient refused", append(s.logger(), "rcpt", to, "reply", de.Error())...)
			return s.fail(smtpError(de.Code, de.Enhanced, de.Msg))
		}
		return smtpError(451, [3]int{4, 3, 0}, "temporary failure, try again later")
	}
	// A full mailbox is refused now (452 4.2.2, or 552 5.2.2 if so
	// configured), before the message is sent; one that fills at DATA
	// is refused there.
	if err := s.srv.opts.Delivery.CheckQuota(s.ctx, res); err != nil {
		var de *delivery.Error
		if errors.As(err, &de) {
			s.srv.log.Info("recipient refused", append(s.logger(), "rcpt", to, "reply", de.Error())...)
			return s.fail(smtpError(de.Code, de.Enhanced, de.Msg))
		}
		return smtpError(451, [3]int{4, 3, 0}, "temporary failure, try again later")
	}
	r := delivery.Recipient{Address: strings.ToLower(to), Resolved: res}
	if opts != nil {
		for _, n := range opts.Notify {
			r.DSNNotify = append(r.DSNNotify, string(n))
		}
		if opts.OriginalRecipient != "" {
			r.DSNORcpt = string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
		}
	}
	s.env.Recipients = append(s.env.Recipients, r)
	return nil
}

// Data implements gosmtp.Session: the message is stored durably for every
// recipient before this returns nil and go-smtp answers 250.
func (s *session) Data(r io.Reader) error {
	start := time.Now()
	err := s.data(r)
	s.observe("DATA", start, err)
	return err
}

func (s *session) data(r io.Reader) error {
	if s.closing() {
		return errClosing
	}
	// The whole DATA must arrive before the deadline: a per-read timeout
	// alone would let a client trickle one byte a minute forever. (Under
	// the server's lock, so a shutdown in progress does not cut it short.)
	if tc := tracked(s.conn.Conn()); tc != nil {
		s.srv.mu.Lock()
		tc.inData.Store(true)
		s.conn.Conn().SetReadDeadline(time.Now().Add(s.srv.opts.Config.DataTimeout.Std()))
		s.srv.mu.Unlock()
		defer tc.inData.Store(false)
	} else {
		s.conn.Conn().SetReadDeadline(time.Now().Add(s.srv.opts.Config.DataTimeout.Std()))
	}
	start := time.Now()

	body := io.Reader(&crlfOnly{r: r, maxLine: s.srv.opts.Config.MaxLineLength})
	var extra []byte
	var grants []store.Delegation // the delegations it is sent under
	if s.srv.opts.Mode == Submission {
		hdr, rest, err := readHeader(body, headerLimit)
		if err != nil {
			return s.dataError(err)
		}
		if extra, grants, err = s.checkSubmissionHeader(hdr); err != nil {
			return err
		}
		extra = append(s.submissionResults(), extra...)
		body = io.MultiReader(bytes.NewReader(s.stripOwnResults(hdr)), rest)
	} else if s.srv.senders != nil {
		// authcheck.go: SPF, DKIM, DMARC… may refuse the message here.
		results, raw, err := s.checkInbound(body)
		if err != nil {
			return err
		}
		defer raw.Discard()
		rc, err := raw.Open()
		if err != nil {
			return s.dataError(err)
		}
		defer rc.Close()
		extra, body = results, rc
	}
	trace := s.receivedHeader()
	msg, err := s.srv.opts.Store.Stage(s.ctx, io.MultiReader(strings.NewReader(trace), bytes.NewReader(extra), body))
	if err != nil {
		return s.dataError(err)
	}
	defer msg.Discard() // removes the body unless it was delivered
	// The junk filter scores mail from other servers only.
	s.env.Inbound = s.srv.opts.Mode == Inbound
	if err := s.srv.opts.Delivery.Deliver(s.ctx, msg, s.env); err != nil {
		var de *delivery.Error
		s.srv.log.Error("delivery failed", append(s.logger(), "err", err)...)
		if errors.Is(err, delivery.ErrSieveReject) {
			s.reason = reasonSieve
		}
		if errors.As(err, &de) {
			return smtpError(de.Code, de.Enhanced, de.Msg)
		}
		return smtpError(451, [3]int{4, 3, 0}, "could not store the message, try again later")
	}
	if len(grants) > 0 {
		s.keepSentCopies(msg, grants)
	}
	s.srv.log.Info("message accepted", append(s.logger(), "from", s.env.From, "rcpts", len(s.env.Recipients),
		"size", msg.Size(), "ms", time.Since(start).Milliseconds())...)
	return nil
}

// dataError turns a failure while reading or staging DATA into a reply.
func (s *session) dataError(err error) error {
	var se *gosmtp.SMTPError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se // e.g. 552 5.3.4 from go-smtp's size limit
	case errors.Is(err, errBareLineEnd):
		s.srv.log.Warn("message refused: bare CR or LF", s.logger()...)
		return smtpError(550, [3]int{5, 6, 0}, "message refused: a line ends with a bare CR or LF; only CRLF is allowed (SMTP smuggling protection)")
	case errors.Is(err, errLineTooLong):
		// RFC 5321 4.5.3.1.10: "500 Line too long"; permanent, once (the
		// rest of the data is read, so the session goes on).
		s.srv.log.Warn("message refused: line too long", s.logger()...)
		return smtpError(500, [3]int{5, 6, 0}, fmt.Sprintf("message refused: a line is longer than %d bytes", s.srv.opts.Config.MaxLineLength))
	case errors.Is(err, errHeaderTooLarge):
		return smtpError(552, [3]int{5, 3, 4}, "message header too large")
	case store.IsUnavailable(err):
		// The database is away (restarting, failing over); tested before
		// the timeout case, which a timed-out connection to it would
		// match: the client's DATA did arrive.
		s.srv.log.Error("storing message failed: store unavailable", append(s.logger(), "err", err)...)
		return smtpError(451, [3]int{4, 3, 0}, "the mail store is temporarily unavailable, try again later")
	case errors.As(err, &ne) && ne.Timeout():
		s.srv.log.Warn("DATA deadline passed, dropping the connection", s.logger()...)
		closeAfterReply(s.conn.Conn())
		return smtpError(421, [3]int{4, 4, 2}, "DATA took too long, closing connection")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gosmtp.ErrDataReset):
		return smtpError(451, [3]int{4, 3, 0}, "message transfer aborted")
	case errors.Is(err, store.ErrInsufficientStorage):
		// RFC 5321 4.2.2 / RFC 3463 4.3.1: temporary, the sender retries.
		// go-smtp reads the rest of the DATA before replying, so the
		// session goes on.
		s.srv.log.Error("storing message failed: disk full", append(s.logger(), "err", err)...)
		return smtpError(452, [3]int{4, 3, 1}, "insufficient system storage, try again later")
	}
	s.srv.log.Error("storing message failed", append(s.logger(), "err", err)...)
	return smtpError(451, [3]int{4, 3, 0}, "could not store the message, try again later")
}

// Reset implements gosmtp.Session.
func (s *session) Reset() {
	s.env = delivery.Envelope{}
	s.hasFrom = false
}

// Logout implements gosmtp.Session.
func (s *session) Logout() error {
	s.cancel()
	return nil
}
