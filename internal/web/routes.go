package web

import (
	"errors"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))

	// Automatic client setup (no login: clients ask before they have one).
	mux.Handle("GET /.well-known/autoconfig/mail/config-v1.1.xml", s.setup)
	mux.Handle("GET /mail/config-v1.1.xml", s.setup)
	mux.Handle("/autodiscover/autodiscover.xml", s.setup)
	mux.Handle("/Autodiscover/Autodiscover.xml", s.setup)
	// Our MTA-STS policy, for Host mta-sts.DOMAIN (no login: senders).
	mux.Handle("GET /.well-known/mta-sts.txt", s.mtaSTS)

	// For load balancers (docs/operations.md, "Several nodes").
	mux.HandleFunc("GET /healthz", s.health)

	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.requireLogin(s.logout))
	mux.HandleFunc("GET /{$}", s.requireLogin(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/", http.StatusSeeOther)
	}))

	s.appRoutes(mux)
	s.mailRoutes(mux)
	s.composeRoutes(mux)
	s.settingsRoutes(mux)
	s.migrateRoutes(mux)
	s.filterRoutes(mux)
	s.fetchRoutes(mux)
	s.shareRoutes(mux)
	s.sharedRoutes(mux)
	s.adminRoutes(mux)
	s.jmapRoutes(mux)
	s.renderRoutes(mux)
	return mux
}

// cacheStatic lets browsers keep the embedded assets for a day.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if sess, _ := s.currentSession(r); sess != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the password through the authenticator every protocol
// uses, so the web shares the login throttle and the auth cache.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	if !checkLoginForm(r) {
		// Checked before the password: a forged form learns nothing.
		s.loginFailed(w, r, http.StatusForbidden, "The login form expired or came from another site: log in again.", "")
		return
	}
	p, err := s.opts.Auth.Authenticate(r.Context(), remoteAddr(r), "web", email, password)
	if err != nil {
		msg := "Wrong email address or password."
		status, field := http.StatusUnauthorized, "password"
		if errors.Is(err, auth.ErrThrottled) {
			msg, status, field = "Too many failed logins from here: wait a minute and try again.", http.StatusTooManyRequests, ""
		} else if !errors.Is(err, auth.ErrInvalidCredentials) {
			s.log.Error("web login failed", "err", err)
			msg, status, field = "The server could not check the password now; try again shortly.", http.StatusServiceUnavailable, ""
		}
		s.loginFailed(w, r, status, msg, field)
		return
	}
	if !s.mainPassword(r, p.AccountID, password) {
		// An app password from a lost phone must not open the webmail,
		// where the main password and the app passwords are managed.
		s.loginFailed(w, r, http.StatusUnauthorized, "That is an app password, for mail programs: log in here with your account password.", "password")
		return
	}
	settings, err := s.opts.Store.Settings(r.Context(), p.AccountID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read your account settings.")
		return
	}
	sess, token, err := s.opts.Sessions.create(r.Context(), p.AccountID, p.Email, settings.Bool("admin"), r.PostFormValue("remember") != "")
	if err != nil {
		s.log.Error("web login failed", "err", err)
		s.loginFailed(w, r, http.StatusServiceUnavailable, "The server could not log you in now; try again shortly.", "")
		return
	}
	s.setSessionCookie(w, r, token, sess.cookieMaxAge())
	s.warmInbox(p.AccountID, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Sessions.end(r.Context(), sessionOf(r)); err != nil {
		// The cookie is removed below, but the session lives on: say so.
		s.log.Error("web logout failed", "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "The server could not log you out now; try again shortly.")
		return
	}
	s.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// remoteAddr is the client's address for the login throttle.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// mailboxFromPath turns the path after /mail/ back into a mailbox name.
func mailboxFromPath(p string) (string, error) {
	name, err := url.PathUnescape(p)
	if err != nil {
		return "", err
	}
	if name == "" {
		name = "INBOX"
	}
	return name, nil
}

// storeStatus maps store errors to HTTP statuses.
func storeStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrExists):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// mainPassword reports whether password is the account's own password, not
// one of its app passwords (Authenticate accepts both).
func (s *Server) mainPassword(r *http.Request, accountID int64, password string) bool {
	cred, err := s.opts.Store.Credentials(r.Context(), accountID)
	if err != nil {
		return false
	}
	ok, err := auth.VerifyPassword(cred.Argon2id, password)
	return err == nil && ok
}
