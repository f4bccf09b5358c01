package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

const (
	sessionCookie = "mailroom_session"
	// sessionIdle ends a session unused this long; sessions also end at
	// the Sessions' absolute lifetime.
	sessionIdle = 2 * time.Hour
)

// Session is one logged-in browser.
type Session struct {
	token     string
	CSRF      string // sent with every state-changing request
	AccountID int64
	Email     string
	Admin     bool
	created   time.Time
	lastSeen  time.Time
	flashes   flashBox // status messages waiting for the next page
}

// Sessions holds the logged-in browsers. Sessions live in memory: a
// restart logs everyone out, which costs a login and keeps no secret on
// disk.
type Sessions struct {
	lifetime time.Duration

	mu      sync.Mutex
	byToken map[string]*Session
	streams map[chan struct{}]struct{} // open live-update streams, closed at shutdown
}

// NewSessions returns a session store whose sessions end after lifetime
// at the latest.
func NewSessions(lifetime time.Duration) *Sessions {
	return &Sessions{lifetime: lifetime, byToken: map[string]*Session{}, streams: map[chan struct{}]struct{}{}}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session.
func (ss *Sessions) create(accountID int64, email string, admin bool) *Session {
	now := time.Now()
	s := &Session{token: randomToken(), CSRF: randomToken(), AccountID: accountID, Email: email, Admin: admin, created: now, lastSeen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for t, old := range ss.byToken { // prune while here: the map stays small
		if ss.expired(old, now) {
			delete(ss.byToken, t)
		}
	}
	ss.byToken[s.token] = s
	return s
}

func (ss *Sessions) expired(s *Session, now time.Time) bool {
	return now.Sub(s.lastSeen) > sessionIdle || now.Sub(s.created) > ss.lifetime
}

// get returns the live session for token.
func (ss *Sessions) get(token string) *Session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byToken[token]
	if !ok {
		return nil
	}
	now := time.Now()
	if ss.expired(s, now) {
		delete(ss.byToken, token)
		return nil
	}
	s.lastSeen = now
	return s
}

// end logs a session out.
func (ss *Sessions) end(token string) {
	ss.mu.Lock()
	delete(ss.byToken, token)
	ss.mu.Unlock()
}

// endAccount logs out every session of an account (password changed,
// account deleted) except keep.
func (ss *Sessions) endAccount(accountID int64, keep *Session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for t, s := range ss.byToken {
		if s.AccountID == accountID && s != keep {
			delete(ss.byToken, t)
		}
	}
}

// stream registers a live-update stream; the channel closes at shutdown.
func (ss *Sessions) stream() (chan struct{}, func()) {
	ch := make(chan struct{})
	ss.mu.Lock()
	ss.streams[ch] = struct{}{}
	ss.mu.Unlock()
	return ch, func() {
		ss.mu.Lock()
		if _, ok := ss.streams[ch]; ok {
			delete(ss.streams, ch)
			close(ch)
		}
		ss.mu.Unlock()
	}
}

func (ss *Sessions) closeStreams() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for ch := range ss.streams {
		close(ch)
		delete(ss.streams, ch)
	}
}

type sessionKey struct{}

// sessionOf returns the request's session (set by requireLogin).
func sessionOf(r *http.Request) *Session {
	s, _ := r.Context().Value(sessionKey{}).(*Session)
	return s
}

// currentSession reads the session cookie.
func (s *Server) currentSession(r *http.Request) *Session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	return s.opts.Sessions.get(c.Value)
}

// requireLogin runs next with the request's session, sends a browser
// without one to the login page, and checks the CSRF token of every
// request that changes something.
func (s *Server) requireLogin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.currentSession(r)
		if sess == nil {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, "/login?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "please log in again", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !validCSRF(r, sess) {
				http.Error(w, "the form expired: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	}
}

// requireAdmin is requireLogin for accounts marked admin. The setting is
// read on every request, not taken from the session: revoking admin (here
// or with `mailroom user set`) takes effect at once.
func (s *Server) requireAdmin(next http.HandlerFunc) http.HandlerFunc {
	return s.requireLogin(func(w http.ResponseWriter, r *http.Request) {
		settings, err := s.opts.Store.Settings(r.Context(), sessionOf(r).AccountID)
		if err != nil || !settings.Bool("admin") {
			http.Error(w, "this page is for administrators", http.StatusForbidden)
			return
		}
		next(w, r)
	})
}

// validCSRF checks the token of a form (field "csrf") or a script's
// request (header X-CSRF-Token) against the session's.
func validCSRF(r *http.Request, sess *Session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

// setSessionCookie sends the session cookie: HttpOnly, SameSite=Lax (a
// link from a mail to a message still opens it), Secure over HTTPS.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.opts.Secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
}

// safeNext keeps a post-login destination on this site: a path, never a
// URL to elsewhere (no open redirect).
func safeNext(next string) string {
	if next == "" || next[0] != '/' || (len(next) > 1 && (next[1] == '/' || next[1] == '\\')) {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	return next
}
