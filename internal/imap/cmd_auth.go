package imap

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mailroom/internal/acl"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/sasl"
)

// passwordsAllowed: no password crosses a connection without TLS unless
// the operator allowed it for loopback tests (RFC 9051 11.1, LOGINDISABLED).
func (s *session) passwordsAllowed() bool { return s.tls || s.srv.opts.AllowInsecure }

// capabilities lists exactly what this server implements, for the state.
func (s *session) capabilities() string {
	caps := []string{"IMAP4rev1", "IMAP4rev2"}
	if s.state == notAuthenticated {
		if !s.tls && s.srv.opts.TLS != nil {
			caps = append(caps, "STARTTLS")
		}
		if s.passwordsAllowed() {
			caps = append(caps, "AUTH=PLAIN", "AUTH=SCRAM-SHA-256", "SASL-IR")
		} else {
			caps = append(caps, "LOGINDISABLED")
		}
	}
	caps = append(caps, "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "CHILDREN",
		"SPECIAL-USE", "CREATE-SPECIAL-USE", "UIDPLUS", "MOVE", "UTF8=ACCEPT", "CONDSTORE", "QRESYNC",
		"ESEARCH", "SEARCHRES", "STATUS=SIZE", "LIST-EXTENDED", "LIST-STATUS", "BINARY", "MULTIAPPEND", "PREVIEW", "OBJECTID",
		"CATENATE", "URLAUTH", "URLAUTH=BINARY", "ACL", "RIGHTS="+acl.ExtraRights, "METADATA", "METADATA-SERVER",
		"CONTEXT=SEARCH", "CONTEXT=SORT", "NOTIFY",
		"SORT", "SORT=DISPLAY", "ESORT", "PARTIAL", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
		"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "QUOTASET",
		fmt.Sprintf("APPENDLIMIT=%d", s.srv.opts.AppendLimit))
	if s.state != notAuthenticated {
		// Valid once authenticated (RFC 4978 section 3).
		caps = append(caps, "COMPRESS=DEFLATE")
	}
	return strings.Join(caps, " ")
}

func cmdCapability(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	s.untagged("CAPABILITY " + s.capabilities())
	return s.ok(tag, "", "CAPABILITY completed")
}

func cmdNoop(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if err := s.sendUpdates(true); err != nil {
		return err
	}
	return s.ok(tag, "", "NOOP completed")
}

func cmdLogout(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	s.untagged("BYE Mailroom logging out")
	s.ok(tag, "", "LOGOUT completed")
	s.state = loggedOut
	return nil
}

func cmdStartTLS(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if s.tls {
		return bad("already using TLS")
	}
	if s.srv.opts.TLS == nil {
		return no("", "TLS is not configured on this server")
	}
	s.ok(tag, "", "begin TLS negotiation now")
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.br.Buffered() > 0 {
		// Commands pipelined after STARTTLS in plaintext could have been
		// injected by an attacker (RFC 9051 11.1): refuse to go on.
		return errBye
	}
	tc := tls.Server(s.conn, s.srv.opts.TLS)
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return fmt.Errorf("STARTTLS handshake: %w", err)
	}
	tc.SetDeadline(time.Time{})
	s.conn = tc
	s.br.Reset(tc)
	s.bw.Reset(tc)
	s.tls = true
	s.newCodec()
	return nil
}

func cmdLogin(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadLogin()
	if err != nil {
		return err
	}
	if !s.passwordsAllowed() {
		return no("PRIVACYREQUIRED", "LOGIN is disabled without TLS: use STARTTLS first")
	}
	p, err := s.srv.opts.Auth.Authenticate(s.ctx, s.remote, "imap", args.User, args.Password)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			return no("AUTHENTICATIONFAILED", "invalid user name or password")
		}
		if errors.Is(err, auth.ErrThrottled) {
			// RFC 5530: UNAVAILABLE is temporary; the client may retry.
			return no("UNAVAILABLE", "too many failed logins, try again later")
		}
		return no("UNAVAILABLE", "temporary failure, try again later")
	}
	return s.loggedIn(tag, p)
}

// loggedIn checks the account may use IMAP and enters the authenticated state.
func (s *session) loggedIn(tag string, p auth.Principal) error {
	settings, err := s.srv.opts.Store.Settings(s.ctx, p.AccountID)
	if err != nil {
		return no("UNAVAILABLE", "temporary failure, try again later")
	}
	if !settings.Bool("imap.enabled") {
		s.srv.log.Info("login refused: IMAP disabled", s.logger("account", p.Email)...)
		return no("AUTHORIZATIONFAILED", "IMAP is switched off in this account's settings; switch it on in the webmail settings")
	}
	s.principal = p
	s.user = s.srv.opts.Mailboxes.User(p.AccountID, p.Email)
	s.state = authenticated
	s.srv.log.Info("logged in", s.logger()...)
	return s.ok(tag, "CAPABILITY "+s.capabilities(), "logged in")
}

func cmdAuthenticate(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadAuthenticate()
	if err != nil {
		return err
	}
	if !s.passwordsAllowed() {
		return no("PRIVACYREQUIRED", "authentication is disabled without TLS: use STARTTLS first")
	}
	v := sasl.NewVerifier(s.srv.opts.Auth, s.srv.opts.Store, s.remote, "imap")
	var principal *auth.Principal
	srv, err := sasl.NewServer(s.ctx, args.Mechanism, v, func(p auth.Principal) error { principal = &p; return nil })
	if err != nil {
		return no("", "unsupported mechanism %s", truncate(args.Mechanism))
	}
	var resp []byte // nil: no initial response
	if args.HasInitialResponse {
		resp = args.InitialResponse
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			if errors.Is(err, sasl.ErrAuthFailed) {
				return no("AUTHENTICATIONFAILED", "authentication failed")
			}
			return no("UNAVAILABLE", "temporary failure, try again later")
		}
		if done {
			break
		}
		s.bw.WriteString("+ " + base64.StdEncoding.EncodeToString(challenge) + "\r\n")
		if err := s.bw.Flush(); err != nil {
			return err
		}
		if resp, err = s.dec.ReadAuthenticateResponse(); err != nil {
			return err
		}
	}
	if principal == nil {
		return no("AUTHENTICATIONFAILED", "authentication failed")
	}
	return s.loggedIn(tag, *principal)
}

func cmdEnable(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadEnable()
	if err != nil {
		return err
	}
	var enabled []string
	for _, name := range args.Capabilities {
		switch name {
		case "IMAP4REV2":
			if !s.rev2 {
				s.rev2, s.utf8 = true, true
				enabled = append(enabled, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !s.utf8 {
				s.utf8 = true
				enabled = append(enabled, "UTF8=ACCEPT")
			}
		case "CONDSTORE":
			if !s.condstore {
				s.condstore = true
				enabled = append(enabled, "CONDSTORE")
			}
		case "QRESYNC":
			if !s.qresync {
				s.qresync, s.condstore = true, true
				enabled = append(enabled, "QRESYNC")
			}
		}
	}
	s.enc.SetUTF8(s.utf8)
	s.untagged(strings.TrimSpace("ENABLED " + strings.Join(enabled, " ")))
	return s.ok(tag, "", "ENABLE completed")
}

func cmdID(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadID()
	if err != nil {
		return err
	}
	// The client's parameters are ignored (RFC 2971 allows it), except for
	// logging.
	if len(args.Params) > 0 {
		fields := make([]string, len(args.Params))
		for i, p := range args.Params {
			fields[i] = p.Field + "=" + p.Value
		}
		s.srv.log.Debug("client ID", s.logger("id", strings.Join(fields, " "))...)
	}
	s.untagged(`ID ("name" "Mailroom" "vendor" "Mailroom")`)
	return s.ok(tag, "", "ID completed")
}
