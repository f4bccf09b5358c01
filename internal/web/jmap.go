package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"mailroom/internal/auth"
	"mailroom/internal/jmap"
	"mailroom/internal/jmap/mailapi"
	"mailroom/internal/store"
)

// jmapRoutes serves JMAP (internal/jmap, internal/jmap/mailapi) on this
// listener: the session resource at /.well-known/jmap and the API under
// /jmap/.
func (s *Server) jmapRoutes(mux *http.ServeMux) {
	smtp := s.opts.Config.SMTP
	api := mailapi.New(mailapi.Options{Store: s.opts.Store, Mailboxes: s.opts.Mailboxes, Logger: s.log,
		// EmailSubmission sends as SMTP submission and the compose page
		// do: the same delivery agent, the same limits.
		Submit: mailapi.SubmitOptions{Delivery: s.opts.Delivery, MaxRecipients: smtp.MaxRecipients,
			MaxMessageSize: int64(smtp.MaxMessageSize), PlusSeparator: smtp.PlusSeparator}})
	reg := jmap.NewRegistry(s.log)
	api.Register(reg)
	srv := jmap.NewServer(jmap.Options{
		Registry:       reg,
		Auth:           jmapAuth{s},
		Accounts:       api,
		Blobs:          api,
		States:         api,
		AllowedOrigins: s.opts.Config.JMAP.CORSOrigins,
		Logger:         s.log,
	})
	srv.Register(mux)
	s.jmap = srv
}

// jmapAuth finds who makes a JMAP request: HTTP Basic with the account's
// password or an app password (through the authenticator every protocol
// uses, so with the same throttle), a Bearer access token the user made
// in the settings (store.AccessTokens; a wrong one is charged to the
// same throttle as a wrong password), or the webmail's session cookie. A
// password or token travels only over TLS or from this machine. The
// account's "jmap.enabled" setting is the per-protocol switch, as for
// IMAP and POP3: it applies to every way in but the webmail's own
// session, since the webmail is itself a JMAP client.
type jmapAuth struct{ s *Server }

// bearerToken returns the credentials of an "Authorization: Bearer"
// header (RFC 6750 §2.1; the scheme is case-insensitive), and whether
// the header is one.
func bearerToken(r *http.Request) (string, bool) {
	const scheme = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(h[len(scheme):]), true
}

// lookupToken finds the account of a Bearer token for
// auth.Authenticator.AuthenticateToken.
func (ja jmapAuth) lookupToken(secret string) func(context.Context) (auth.Principal, error) {
	return func(ctx context.Context) (auth.Principal, error) {
		acct, _, err := ja.s.opts.Store.LookupAccessToken(ctx, secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return auth.Principal{}, auth.ErrInvalidCredentials
		case err != nil:
			return auth.Principal{}, err
		}
		return auth.Principal{AccountID: acct.ID, Email: acct.Email}, nil
	}
}

func (ja jmapAuth) AuthenticateHTTP(r *http.Request) (jmap.User, error) {
	s := ja.s
	var u jmap.User
	if user, pass, ok := r.BasicAuth(); ok {
		if r.TLS == nil && !remoteAddr(r).IsLoopback() {
			return u, jmap.ErrUnauthenticated
		}
		p, err := s.opts.Auth.Authenticate(r.Context(), remoteAddr(r), "jmap", user, pass)
		switch {
		case errors.Is(err, auth.ErrThrottled):
			return u, jmap.ErrThrottled
		case errors.Is(err, auth.ErrInvalidCredentials):
			return u, jmap.ErrUnauthenticated
		case err != nil:
			return u, err
		}
		u = jmap.User{AccountID: p.AccountID, Email: p.Email}
	} else if secret, ok := bearerToken(r); ok {
		if r.TLS == nil && !remoteAddr(r).IsLoopback() {
			return u, jmap.ErrUnauthenticated
		}
		p, err := s.opts.Auth.AuthenticateToken(r.Context(), remoteAddr(r), "jmap", ja.lookupToken(secret))
		switch {
		case errors.Is(err, auth.ErrThrottled):
			return u, jmap.ErrThrottled
		case errors.Is(err, auth.ErrInvalidCredentials):
			return u, jmap.ErrUnauthenticated
		case err != nil:
			return u, err
		}
		u = jmap.User{AccountID: p.AccountID, Email: p.Email}
	} else if r.Header.Get("Authorization") != "" {
		return u, jmap.ErrUnauthenticated
	} else {
		sess, err := s.sessionFromCookie(r)
		if err != nil {
			return u, err
		}
		if sess == nil {
			return u, jmap.ErrUnauthenticated
		}
		// A cookie rides along with any site's request: one that changes
		// something must carry the page's CSRF token, which only the
		// webmail's own pages know.
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !validCSRF(r, sess) {
			return u, jmap.ErrUnauthenticated
		}
		// The webmail itself is a JMAP client (internal/webapp): the
		// switch is for other apps, and turning it off must not take the
		// webmail away.
		return jmap.User{AccountID: sess.AccountID, Email: strings.ToLower(sess.Email)}, nil
	}
	settings, err := s.opts.Store.Settings(r.Context(), u.AccountID)
	if err != nil {
		return jmap.User{}, err
	}
	if !settings.Bool("jmap.enabled") {
		return jmap.User{}, jmap.ErrDisabled
	}
	u.Email = strings.ToLower(u.Email)
	return u, nil
}
