package managesieve

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/migadu/go-managesieve/managesieve"
	msrv "github.com/migadu/go-managesieve/managesieveserver"

	"mailroom/internal/auth"
	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// session is one ManageSieve connection: the library calls it for what
// the client asks once the command is parsed (and, but for the login, only
// after login).
type session struct {
	srv       *Server
	id        string
	remote    netip.Addr
	remoteStr string // as net.Conn says it, for the test hooks
	principal auth.Principal
}

func (s *Server) newSession(c *msrv.Conn) (msrv.Session, error) {
	var rnd [10]byte
	rand.Read(rnd[:])
	sess := &session{
		srv:       s,
		id:        strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:])),
		remoteStr: c.NetConn().RemoteAddr().String(),
	}
	if ap, err := netip.ParseAddrPort(sess.remoteStr); err == nil {
		sess.remote = ap.Addr().Unmap()
	}
	s.log.Debug("session start", sess.logger()...)
	return sess, nil
}

func (s *session) logger(args ...any) []any {
	base := []any{"session", s.id, "remote", s.remote.String()}
	if s.principal.AccountID != 0 {
		base = append(base, "user", s.principal.Email)
	}
	return append(base, args...)
}

// work is the context of one command's store work. The library cancels
// the command's own context when the server shuts down; a command that
// has begun finishes instead, as in POP3 and IMAP (the store would
// otherwise answer a half-done shutdown with errors), within
// commandTimeout.
// Its cancel function also records the command's time for the metrics:
// the commands that reach the store are the ones worth timing (the
// library answers CAPABILITY, NOOP, STARTTLS and LOGOUT itself).
func (s *session) work(ctx context.Context, cmd string) (context.Context, context.CancelFunc) {
	s.srv.opts.Hooks.BeforeCommand("managesieve", s.remoteStr, cmd)
	start := time.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commandTimeout)
	return wctx, func() {
		cancel()
		s.srv.opts.Metrics.Command(cmd, time.Since(start))
	}
}

// CommandNames are the commands timed (see work), for the metrics.
func CommandNames() []string {
	return []string{"AUTHENTICATE", "CHECKSCRIPT", "DELETESCRIPT", "GETSCRIPT", "HAVESPACE", "LISTSCRIPTS",
		"PUTSCRIPT", "RENAMESCRIPT", "SETACTIVE"}
}

// Close implements msrv.Session.
func (s *session) Close() error {
	s.srv.log.Debug("session end", s.logger()...)
	return nil
}

// quoted is a NO answer without response code: RFC 5804 sends the human
// text as a quoted string.
func quoted(format string, args ...any) *msrv.Error {
	return &msrv.Error{Message: managesieve.Quote(managesieve.SanitizeText(fmt.Sprintf(format, args...)))}
}

var errTryLater = &msrv.Error{Code: "TRYLATER", Message: "temporary failure, try again later"}

// AuthenticatePlain implements msrv.Session: SASL PLAIN (the library has
// decoded it) through the authenticator every protocol uses, so the login
// throttle, app passwords, the verification cache and the "auth attempt"
// log line are IMAP's; shared mailboxes have no password and cannot log
// in. The account's imap.enabled decides, as for IMAP (see
// docs/architecture.md, "ManageSieve").
func (s *session) AuthenticatePlain(ctx context.Context, identity, username, password string) error {
	ctx, cancel := s.work(ctx, "AUTHENTICATE")
	defer cancel()
	// No proxy authentication (acting as another account), as in
	// internal/sasl: naming yourself is the same as naming nobody.
	if identity != "" && s.srv.opts.Auth.Username(identity) != s.srv.opts.Auth.Username(username) {
		return quoted("authentication failed")
	}
	p, err := s.srv.opts.Auth.Authenticate(ctx, s.remote, "managesieve", username, password)
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return quoted("authentication failed")
	case errors.Is(err, auth.ErrThrottled):
		return &msrv.Error{Code: "TRYLATER", Message: "too many failed logins, try again later"}
	case err != nil:
		s.srv.log.Error("authentication error", s.logger("err", err)...)
		return errTryLater
	}
	settings, err := s.srv.opts.Accounts.Settings(ctx, p.AccountID)
	if err != nil {
		s.srv.log.Error("reading account settings failed", s.logger("account", p.Email, "err", err)...)
		return errTryLater
	}
	if !settings.Bool("imap.enabled") {
		s.srv.log.Info("login refused: IMAP disabled", s.logger("account", p.Email)...)
		return quoted("IMAP, and with it ManageSieve, is switched off in this account's settings; switch it on in the webmail settings")
	}
	s.principal = p
	s.srv.log.Info("logged in", s.logger()...)
	return nil
}

// ListScripts implements msrv.Session.
func (s *session) ListScripts(ctx context.Context) ([]managesieve.ScriptInfo, error) {
	ctx, cancel := s.work(ctx, "LISTSCRIPTS")
	defer cancel()
	list, err := s.srv.opts.Scripts.SieveScripts(ctx, s.principal.AccountID)
	if err != nil {
		return nil, s.storeError("listing scripts", err)
	}
	out := make([]managesieve.ScriptInfo, len(list))
	for i, sc := range list {
		out[i] = managesieve.ScriptInfo{Name: sc.Name, Active: sc.Active}
	}
	return out, nil
}

// GetScript implements msrv.Session.
func (s *session) GetScript(ctx context.Context, name string) (string, error) {
	ctx, cancel := s.work(ctx, "GETSCRIPT")
	defer cancel()
	sc, err := s.srv.opts.Scripts.SieveScript(ctx, s.principal.AccountID, name)
	if err != nil {
		return "", s.storeError("reading a script", err)
	}
	return sc.Content, nil
}

// PutScript implements msrv.Session: only a script that compiles is
// stored (RFC 5804 2.6), and a syntax error is answered with its text,
// which says where.
func (s *session) PutScript(ctx context.Context, name, content string) (bool, error) {
	ctx, cancel := s.work(ctx, "PUTSCRIPT")
	defer cancel()
	if err := checkName(name); err != nil {
		return false, err
	}
	if err := sieve.Check(content); err != nil {
		return false, quoted("%s", err.Error())
	}
	if err := store.CheckSieveScript(content); err != nil {
		// What compiles yet the store refuses: invalid UTF-8, NUL.
		return false, s.storeError("checking a script", err)
	}
	existed, err := s.exists(ctx, name)
	if err != nil {
		return false, err
	}
	if err := s.srv.opts.Scripts.PutSieveScript(ctx, s.principal.AccountID, name, content); err != nil {
		return false, s.storeError("storing a script", err)
	}
	s.srv.log.Info("script stored", s.logger("script", name, "size", len(content), "replaced", existed)...)
	return existed, nil
}

// exists reports whether the account has a script of that name (for
// PUTSCRIPT's answer and HAVESPACE's count).
func (s *session) exists(ctx context.Context, name string) (bool, error) {
	_, found, err := s.count(ctx, name)
	return found, err
}

// count returns how many scripts the account has and whether name is
// one of them.
func (s *session) count(ctx context.Context, name string) (int, bool, error) {
	list, err := s.srv.opts.Scripts.SieveScripts(ctx, s.principal.AccountID)
	if err != nil {
		return 0, false, s.storeError("listing scripts", err)
	}
	for _, sc := range list {
		if sc.Name == name {
			return len(list), true, nil
		}
	}
	return len(list), false, nil
}

// CheckScript implements msrv.Session.
func (s *session) CheckScript(ctx context.Context, content string) (string, error) {
	_, cancel := s.work(ctx, "CHECKSCRIPT")
	defer cancel()
	if err := sieve.Check(content); err != nil {
		return "", quoted("%s", err.Error())
	}
	return "", nil
}

// HaveSpace implements msrv.Session. The library has refused sizes over
// MAXSCRIPTSIZE; what is left is the number of scripts and the name.
func (s *session) HaveSpace(ctx context.Context, name string, _ int64) error {
	ctx, cancel := s.work(ctx, "HAVESPACE")
	defer cancel()
	if err := checkName(name); err != nil {
		return err
	}
	n, found, err := s.count(ctx, name)
	if err != nil {
		return err
	}
	if !found && n >= store.MaxSieveScripts {
		return tooMany
	}
	return nil
}

// SetActive implements msrv.Session. The script is checked again: one
// stored before the interpreter changed, or by another way than
// PUTSCRIPT, must not become the one delivery runs unless it compiles.
func (s *session) SetActive(ctx context.Context, name string) error {
	ctx, cancel := s.work(ctx, "SETACTIVE")
	defer cancel()
	if name != "" {
		sc, err := s.srv.opts.Scripts.SieveScript(ctx, s.principal.AccountID, name)
		if err != nil {
			return s.storeError("reading a script", err)
		}
		if err := sieve.Check(sc.Content); err != nil {
			return quoted("%s", err.Error())
		}
	}
	if err := s.srv.opts.Scripts.SetActiveSieveScript(ctx, s.principal.AccountID, name); err != nil {
		return s.storeError("activating a script", err)
	}
	s.srv.log.Info("active script set", s.logger("script", name)...)
	return nil
}

// DeleteScript implements msrv.Session.
func (s *session) DeleteScript(ctx context.Context, name string) error {
	ctx, cancel := s.work(ctx, "DELETESCRIPT")
	defer cancel()
	if err := s.srv.opts.Scripts.DeleteSieveScript(ctx, s.principal.AccountID, name); err != nil {
		return s.storeError("deleting a script", err)
	}
	s.srv.log.Info("script deleted", s.logger("script", name)...)
	return nil
}

// RenameScript implements msrv.Session.
func (s *session) RenameScript(ctx context.Context, oldName, newName string) error {
	ctx, cancel := s.work(ctx, "RENAMESCRIPT")
	defer cancel()
	if err := checkName(newName); err != nil {
		return err
	}
	if err := s.srv.opts.Scripts.RenameSieveScript(ctx, s.principal.AccountID, oldName, newName); err != nil {
		return s.storeError("renaming a script", err)
	}
	s.srv.log.Info("script renamed", s.logger("script", oldName, "to", newName)...)
	return nil
}

// checkName answers a name the store would refuse (the library's own
// check lets longer ones through) before any work is done for it.
func checkName(name string) error {
	if err := store.CheckSieveScriptName(name); err != nil {
		return quoted("%s", strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
	}
	return nil
}

var tooMany = &msrv.Error{Code: "QUOTA/MAXSCRIPTS", Message: fmt.Sprintf("an account keeps at most %d scripts", store.MaxSieveScripts)}

// storeError answers a store error with RFC 5804's response codes; what
// is not the client's doing is logged and answered TRYLATER, without the
// store's words.
func (s *session) storeError(op string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &msrv.Error{Code: "NONEXISTENT", Message: "there is no script of that name"}
	case errors.Is(err, store.ErrExists):
		return &msrv.Error{Code: "ALREADYEXISTS", Message: "a script of that name exists already"}
	case errors.Is(err, store.ErrSieveActive):
		return &msrv.Error{Code: "ACTIVE", Message: `the script is active; make another one active (or none: SETACTIVE "") first`}
	case errors.Is(err, store.ErrSieveTooBig):
		return &msrv.Error{Code: "QUOTA/MAXSIZE", Message: fmt.Sprintf("a script may have at most %d octets", store.MaxSieveScriptSize)}
	case errors.Is(err, store.ErrSieveTooMany):
		return tooMany
	case errors.Is(err, store.ErrInvalid):
		return quoted("%s", "a script must be UTF-8 without NUL")
	}
	s.srv.log.Error(op+" failed", s.logger("err", err)...)
	return errTryLater
}
