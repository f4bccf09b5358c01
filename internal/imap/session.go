package imap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/connbuf"
	"mailroom/internal/imap/wire"
	"mailroom/internal/listener"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

type state int

const (
	notAuthenticated state = iota
	authenticated
	selected
	loggedOut
)

// session is one IMAP connection.
type session struct {
	srv  *Server
	conn net.Conn
	br   *connbuf.Reader
	bw   *connbuf.Writer
	dec  *wire.Decoder
	enc  *wire.Encoder

	id     string
	remote netip.Addr
	ctx    context.Context
	tls    bool
	// compressed: COMPRESS DEFLATE is on (compress.go); br and bw read
	// and write the DEFLATE streams over conn.
	compressed bool
	track      *listener.Session // for graceful shutdown

	state     state
	principal auth.Principal
	user      *mailbox.User // the principal's access to mailboxes, checked by the mailbox service
	rev2      bool          // ENABLE IMAP4rev2
	utf8      bool          // ENABLE UTF8=ACCEPT (or IMAP4rev2)
	condstore bool          // CONDSTORE enabled (ENABLE, SELECT (CONDSTORE), or a command using it)
	qresync   bool          // ENABLE QRESYNC: VANISHED instead of EXPUNGE

	sel *selection

	notify *notifier // NOTIFY SET; nil for NOTIFY NONE (notify.go)

	// idle is the state shared with idlePush while the session is in IDLE,
	// and with notifyPush while a NOTIFY session waits for a command; at
	// other times only the session's goroutine uses the session.
	idle struct {
		sync.Mutex
		on      bool        // in IDLE: pushes may write
		gone    bool        // a push failed (or said BYE) and closed the connection
		pending atomic.Bool // a push has been started and has not looked yet
	}
}

// selection is the selected mailbox.
type selection struct {
	folder   mailbox.Folder // as looked up by SELECT, with the rights of then
	mb       store.Mailbox  // folder.Mailbox(): the record, named as the user knows it
	box      *mailbox.Mailbox
	view     *mailbox.View
	readOnly bool
	saved    []uint32     // SEARCHRES result, UIDs; nil: none saved
	live     liveSearches // SEARCH RETURN (UPDATE) contexts (context.go)
}

// errBye ends the session after the reply was written.
var errBye = errors.New("session over")

// taggedError is a command's failure: "tag NO/BAD [code] text".
type taggedError struct {
	kind string // "NO" or "BAD"
	code string // response code without brackets, "" for none
	text string
}

func (e *taggedError) Error() string { return e.kind + " " + e.text }

func no(code, format string, args ...any) error {
	return &taggedError{kind: "NO", code: code, text: fmt.Sprintf(format, args...)}
}

func bad(format string, args ...any) error {
	return &taggedError{kind: "BAD", text: fmt.Sprintf(format, args...)}
}

func (s *session) logger(args ...any) []any {
	base := []any{"session", s.id, "remote", s.remote.String()}
	if s.state >= authenticated {
		base = append(base, "user", s.principal.Email)
	}
	return append(base, args...)
}

func (s *session) newCodec() {
	s.dec = wire.NewDecoder(s.br, wire.Limits{MaxLiteral: s.srv.opts.AppendLimit, LiteralPlus: true}, s.continuation)
	s.enc = wire.NewEncoder(s.bw)
	s.enc.SetUTF8(s.utf8)
}

// continuation answers a synchronizing literal: the client waits for it.
func (s *session) continuation(n int64) error {
	s.bw.WriteString("+ Ready for literal data\r\n")
	return s.bw.Flush()
}

func (s *session) serve() {
	// The last reply (an error, a BYE) must reach the client even when
	// it has sent more than was read: see listener.CloseGracefully. A
	// closure, for s.conn changes at STLS/STARTTLS.
	defer func() { listener.CloseGracefully(s.conn) }()
	var cancel context.CancelFunc
	s.ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	defer s.unselect()
	defer s.notifyStop()
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
	s.newCodec()
	s.bw.WriteString("* OK [CAPABILITY " + s.capabilities() + "] Mailroom IMAP ready\r\n")
	for s.state != loggedOut {
		if err := s.command(); err != nil {
			if !errors.Is(err, errBye) {
				s.srv.log.Debug("session ended", s.logger("err", err)...)
			}
			s.bw.Flush()
			return
		}
	}
	s.bw.Flush()
}

// waitCommand flushes and reads the next tag, marking the session idle so
// a shutdown can end it.
func (s *session) readTag() (string, error) {
	if s.br.Buffered() == 0 {
		if err := s.bw.Flush(); err != nil {
			return "", err
		}
	}
	if !s.track.Idle(s.srv.opts.IdleTimeout) {
		s.bw.WriteString("* BYE [UNAVAILABLE] server shutting down\r\n")
		return "", errBye
	}
	if err := s.notifyBetween(); err != nil {
		return "", err
	}
	tag, err := s.dec.ReadTag()
	if s.notifyEndBetween() {
		return "", errBye // a NOTIFY push failed and closed the connection
	}
	s.track.Busy()
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout() && s.srv.sessions.Closing():
			s.bw.WriteString("* BYE [UNAVAILABLE] server shutting down\r\n")
			return "", errBye
		case errors.As(err, &ne) && ne.Timeout():
			s.bw.WriteString("* BYE autologout: idle too long\r\n")
			return "", errBye
		}
	}
	return tag, err
}

// command reads and runs one command.
func (s *session) command() error {
	tag, err := s.readTag()
	if err != nil {
		var se *wire.SyntaxError
		if errors.As(err, &se) {
			s.bw.WriteString("* BAD " + se.Msg + "\r\n")
			return s.discard()
		}
		return s.corruptStream(err)
	}
	err = s.dispatch(tag)
	var te *taggedError
	var se *wire.SyntaxError
	var tooBig *wire.LiteralTooLargeError
	var refused *wire.RefusedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errBye):
		return err
	case errors.As(err, &te):
		s.tagged(tag, te.kind, te.code, te.text)
		return nil
	case errors.Is(err, mailbox.ErrNoPermission):
		// Whatever command met it: the user's rights on the mailbox do
		// not allow it (RFC 5530 NOPERM). A literal still to come (an
		// APPEND's) is skipped.
		s.tagged(tag, "NO", "NOPERM", err.Error())
		return s.discard()
	case errors.As(err, &se):
		s.tagged(tag, "BAD", "", se.Msg)
		return s.discard()
	case errors.As(err, &tooBig):
		s.tagged(tag, "NO", "TOOBIG", tooBig.Error())
		return s.discard()
	case errors.As(err, &refused):
		return nil
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		return err
	case errors.Is(s.corruptStream(err), errBye):
		return errBye
	case errors.Is(err, store.ErrOverQuota):
		// RFC 9208 / RFC 5530: APPEND, COPY, MOVE (or anything else that
		// adds mail) would take the account over its quota (cmd_quota.go).
		s.tagged(tag, "NO", "OVERQUOTA", s.overQuotaText(err))
		return s.discard()
	case errors.Is(err, store.ErrInsufficientStorage):
		// RFC 5530 has no code for a full disk. UNAVAILABLE ("temporary
		// failure because a subsystem is down") says what the client needs
		// to know: not its fault, try again later. SERVERBUG would call it
		// a bug, LIMIT an implementation limit that retrying cannot pass,
		// OVERQUOTA the user's own quota, which deleting mail would free.
		// The rest of the command (an APPEND's literal) is skipped, so the
		// session goes on.
		s.srv.log.Error("command failed: disk full", s.logger("err", err)...)
		s.tagged(tag, "NO", "UNAVAILABLE", "the server is out of disk space, try again later")
		return s.discard()
	}
	if store.IsUnavailable(err) {
		// The database is away (restarting, failing over): RFC 5530's
		// UNAVAILABLE, temporary, and the session goes on, so the client
		// retries rather than reconnecting. Tested before *net.OpError:
		// a database's refused connection is one too, and is not the
		// client's connection failing.
		s.srv.log.Warn("command failed: store unavailable", s.logger("err", err)...)
		s.tagged(tag, "NO", "UNAVAILABLE", "the mail store is temporarily unavailable, try again later")
		return s.discard()
	}
	// A failed read or write of the connection ends the session. Only a
	// *net.OpError says so: net.Error alone would also match a bare
	// syscall.Errno, e.g. the ENOSPC or EIO of a body file, and a full disk
	// would drop the session without a reply instead of answering NO.
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	s.srv.log.Error("command failed", s.logger("err", err)...)
	s.tagged(tag, "NO", "SERVERBUG", "internal error, try again later")
	return s.discard()
}

func (s *session) discard() error {
	if err := s.dec.DiscardLine(); err != nil {
		if errors.Is(err, wire.ErrResync) {
			s.bw.WriteString("* BYE protocol error, closing\r\n")
			return errBye
		}
		var se *wire.SyntaxError
		if errors.As(err, &se) {
			return nil
		}
		return err
	}
	return nil
}

// tagged writes the command's completion.
func (s *session) tagged(tag, kind, code, text string) {
	s.bw.WriteString(tag)
	s.bw.WriteByte(' ')
	s.bw.WriteString(kind)
	s.bw.WriteByte(' ')
	if code != "" {
		s.bw.WriteString("[" + code + "] ")
	}
	s.bw.WriteString(text)
	s.bw.WriteString("\r\n")
}

func (s *session) ok(tag, code, text string) error {
	s.tagged(tag, "OK", code, text)
	return nil
}

// untagged writes "* " + text + CRLF.
func (s *session) untagged(text string) {
	s.bw.WriteString("* ")
	s.bw.WriteString(text)
	s.bw.WriteString("\r\n")
}

type handler func(s *session, tag string, uid bool) error

type command struct {
	fn     handler
	states []state
}

var (
	anyState    = []state{notAuthenticated, authenticated, selected}
	authOnly    = []state{notAuthenticated}
	authedState = []state{authenticated, selected}
	selState    = []state{selected}
)

// commandTable lists every command this server implements, with the
// states it is valid in. It is never modified.
var commandTable = map[string]command{
	"CAPABILITY":   {cmdCapability, anyState},
	"NOOP":         {cmdNoop, anyState},
	"LOGOUT":       {cmdLogout, anyState},
	"ID":           {cmdID, anyState},
	"ENABLE":       {cmdEnable, authedState},
	"COMPRESS":     {cmdCompress, authedState},
	"STARTTLS":     {cmdStartTLS, authOnly},
	"LOGIN":        {cmdLogin, authOnly},
	"AUTHENTICATE": {cmdAuthenticate, authOnly},
	"SELECT":       {cmdSelect, authedState},
	"EXAMINE":      {cmdExamine, authedState},
	"CREATE":       {cmdCreate, authedState},
	"DELETE":       {cmdDelete, authedState},
	"RENAME":       {cmdRename, authedState},
	"SUBSCRIBE":    {cmdSubscribe, authedState},
	"UNSUBSCRIBE":  {cmdUnsubscribe, authedState},
	"LIST":         {cmdList, authedState},
	"LSUB":         {cmdLsub, authedState},
	"NAMESPACE":    {cmdNamespace, authedState},
	"SETACL":       {cmdSetACL, authedState},
	"DELETEACL":    {cmdDeleteACL, authedState},
	"GETACL":       {cmdGetACL, authedState},
	"LISTRIGHTS":   {cmdListRights, authedState},
	"MYRIGHTS":     {cmdMyRights, authedState},
	"GETMETADATA":  {cmdGetMetadata, authedState},
	"SETMETADATA":  {cmdSetMetadata, authedState},
	"STATUS":       {cmdStatus, authedState},
	"APPEND":       {cmdAppend, authedState},
	"IDLE":         {cmdIdle, authedState},
	"CHECK":        {cmdCheck, selState},
	"CLOSE":        {cmdClose, selState},
	"UNSELECT":     {cmdUnselect, selState},
	"EXPUNGE":      {cmdExpunge, selState},
	"STORE":        {cmdStore, selState},
	"COPY":         {cmdCopy, selState},
	"MOVE":         {cmdMove, selState},
	"FETCH":        {cmdFetch, selState},
	"SEARCH":       {cmdSearch, selState},
	"GENURLAUTH":   {cmdGenURLAuth, authedState}, // RFC 4467
	"URLFETCH":     {cmdURLFetch, authedState},
	"RESETKEY":     {cmdResetKey, authedState},
	"CANCELUPDATE": {cmdCancelUpdate, selState},
	"NOTIFY":       {cmdNotify, authedState},
	"SORT":         {cmdSort, selState},
	"THREAD":       {cmdThread, selState},
	"GETQUOTA":     {cmdGetQuota, authedState}, // RFC 9208 (cmd_quota.go)
	"GETQUOTAROOT": {cmdGetQuotaRoot, authedState},
	"SETQUOTA":     {cmdSetQuota, authedState},
}

// CommandNames are the commands the server knows: the metrics time each
// (a UID command as its base command), the others together.
func CommandNames() []string {
	names := make([]string, 0, len(commandTable))
	for name := range commandTable {
		names = append(names, name)
	}
	return names
}

func (s *session) dispatch(tag string) error {
	cn, err := s.dec.ReadCommandName()
	if err != nil {
		return err
	}
	start := time.Now()
	err = s.dispatchCommand(tag, cn.Name, cn.UID)
	s.srv.opts.Metrics.Command(cn.Name, time.Since(start))
	return err
}

func (s *session) dispatchCommand(tag, name string, uid bool) error {
	if h := s.srv.opts.Hooks; h != nil {
		h.BeforeCommand("imap", s.conn.RemoteAddr().String(), name)
	}
	c, ok := commandTable[name]
	if !ok {
		return bad("unknown command %s", truncate(name))
	}
	allowed := false
	for _, st := range c.states {
		if st == s.state {
			allowed = true
		}
	}
	if !allowed {
		switch s.state {
		case notAuthenticated:
			return bad("%s needs you to log in first", name)
		default:
			return bad("%s is not allowed now (select a mailbox first?)", name)
		}
	}
	return c.fn(s, tag, uid)
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
