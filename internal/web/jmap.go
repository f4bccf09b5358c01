package web

import (
	"errors"
	"net/http"
	"strings"

	"mailroom/internal/auth"
	"mailroom/internal/jmap"
	"mailroom/internal/jmap/mailapi"
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
}

// jmapAuth finds who makes a JMAP request: HTTP Basic with the account's
// password or an app password (through the authenticator every protocol
// uses, so with the same throttle), or the webmail's session cookie. A
// password travels only over TLS or from this machine. The account's
// "jmap.enabled" setting is the per-protocol switch, as for IMAP and POP3.
type jmapAuth struct{ s *Server }

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
		u = jmap.User{AccountID: sess.AccountID, Email: sess.Email}
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
