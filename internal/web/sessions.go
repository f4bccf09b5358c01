package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"mailroom/internal/store"
)

const (
	sessionCookie = "mailroom_session"
	// sessionIdle ends a session unused this long; sessions also end at
	// the Sessions' absolute lifetime.
	sessionIdle = 2 * time.Hour
	// sessionTouchEvery is how stale a session's stored last-seen time
	// may get. Writing it on every request would make every page view (and
	// every live-update event) a database write, on one node or many;
	// writing it at most once a minute per session costs one write a
	// minute for an active browser, and makes the idle timeout end a
	// session between 1h59m and 2h after its last use.
	sessionTouchEvery = time.Minute
	// sessionPruneEvery: how often a login also deletes the expired
	// sessions of every account. Expired sessions are refused when
	// presented whether or not they were deleted yet; deleting them only
	// keeps the table small. Without logins nothing new is stored, so the
	// table cannot grow between prunes by more than the logins meanwhile.
	sessionPruneEvery = 10 * time.Minute

	// A session started with "Stay signed in" ends only after
	// persistentIdle unused: its cookie is persistent and slides forward
	// at each use (at most once a minute, with the last-seen write).
	// persistentLifetime still ends it, so that a stolen cookie does not
	// open the mail for ever.
	persistentIdle     = 30 * 24 * time.Hour
	persistentLifetime = 365 * 24 * time.Hour
	// persistentPrefix starts the cookie token of such a session. The
	// store keeps no column for the choice: the token says it, and as
	// the store's key is the hash of the whole token, changing the prefix
	// names no session at all, so a browser cannot lengthen its own.
	persistentPrefix = "p."
)

// Session is one logged-in browser.
type Session struct {
	hash      [sha256.Size]byte // of the cookie's token: the store's key
	CSRF      string            // sent with every state-changing request
	AccountID int64
	Email     string
	Admin     bool // at login: shows the admin link (requireAdmin checks the setting)
	// Persistent: started with "Stay signed in" (see persistentIdle).
	Persistent bool
	touched    bool // its last-seen time was written now: slide the cookie
	ss         *Sessions
}

// Sessions holds the logged-in browsers. They are kept in the store
// (store.WebSessions), so a restart logs nobody out and every node behind
// a load balancer knows every session. Nothing is cached: each request
// looks its session up by primary key (BenchmarkSessionLookup), so a
// logout or a password change on one node ends the session on every node
// at the next request. The store sees only the SHA-256 of the token in
// the cookie.
//
// Flash messages and live-update streams stay in this process: see
// flashBox.
type Sessions struct {
	store    store.WebSessions
	lifetime time.Duration
	log      *slog.Logger
	now      func() time.Time // time.Now; tests move the clock

	mu        sync.Mutex
	lastPrune time.Time
	flashes   map[[sha256.Size]byte]*flashBox
	streams   map[chan struct{}]struct{} // open live-update streams, closed at shutdown
}

// NewSessions returns the sessions kept in st, which end after lifetime
// at the latest.
func NewSessions(st store.WebSessions, lifetime time.Duration, log *slog.Logger) *Sessions {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sessions{store: st, lifetime: lifetime, log: log, now: time.Now,
		flashes: map[[sha256.Size]byte]*flashBox{}, streams: map[chan struct{}]struct{}{}}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// csrfOf derives a session's CSRF token from its cookie token, so the
// store need not keep it. It is a hash under a different prefix than the
// stored one: neither the stored hash nor the CSRF token (which pages
// carry in every form) reveals the other or the cookie, and it stays the
// same for the whole session on every node.
func csrfOf(token string) string {
	h := sha256.Sum256([]byte("mailroom web csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// create starts a session and returns it with the token for the cookie;
// a persistent one is for "Stay signed in".
func (ss *Sessions) create(ctx context.Context, accountID int64, email string, admin, persistent bool) (*Session, string, error) {
	token := randomToken()
	if persistent {
		token = persistentPrefix + token
	}
	s := &Session{hash: sha256.Sum256([]byte(token)), CSRF: csrfOf(token), AccountID: accountID, Email: email, Admin: admin,
		Persistent: persistent, ss: ss}
	now := ss.now()
	if err := ss.store.CreateWebSession(ctx, store.WebSession{TokenHash: s.hash[:], AccountID: accountID, Admin: admin, Created: now, LastSeen: now}); err != nil {
		return nil, "", fmt.Errorf("web: create session: %w", err)
	}
	ss.prune(ctx, now)
	return s, token, nil
}

// prune deletes expired sessions, at most every sessionPruneEvery.
func (ss *Sessions) prune(ctx context.Context, now time.Time) {
	ss.mu.Lock()
	due := now.Sub(ss.lastPrune) >= sessionPruneEvery
	if due {
		ss.lastPrune = now
	}
	ss.mu.Unlock()
	if !due {
		return
	}
	// The store cannot tell persistent sessions from the others (see
	// persistentPrefix), so the bulk delete waits for the longer limits:
	// a browser session past its own is refused and deleted when
	// presented, and until then costs a row of the account's
	// MaxWebSessions.
	n, err := ss.store.DeleteExpiredWebSessions(ctx, now.Add(-max(sessionIdle, persistentIdle)), now.Add(-max(ss.lifetime, persistentLifetime)))
	if err != nil {
		ss.log.Warn("delete expired web sessions", "err", err)
	} else if n > 0 {
		ss.log.Debug("deleted expired web sessions", "count", n)
	}
}

func (ss *Sessions) expired(ws store.WebSession, now time.Time, persistent bool) bool {
	if persistent {
		return now.Sub(ws.LastSeen) > persistentIdle || now.Sub(ws.Created) > persistentLifetime
	}
	return now.Sub(ws.LastSeen) > sessionIdle || now.Sub(ws.Created) > ss.lifetime
}

// get returns the live session for token, or nil. An error means the
// store could not say (the session may well be live).
func (ss *Sessions) get(ctx context.Context, token string) (*Session, error) {
	h := sha256.Sum256([]byte(token))
	ws, err := ss.store.WebSession(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: read session: %w", err)
	}
	now := ss.now()
	persistent := strings.HasPrefix(token, persistentPrefix)
	if ss.expired(ws, now, persistent) {
		if err := ss.store.DeleteWebSession(ctx, h[:]); err != nil {
			ss.log.Warn("delete expired web session", "err", err)
		}
		ss.dropFlashes(func(k [sha256.Size]byte, _ *flashBox) bool { return k == h })
		return nil, nil
	}
	touched := false
	if now.Sub(ws.LastSeen) >= sessionTouchEvery {
		// A failed touch leaves the session looking idle a little longer:
		// worth a warning, not a refused request.
		if err := ss.store.TouchWebSession(ctx, h[:], now); err != nil {
			ss.log.Warn("record web session use", "err", err)
		} else {
			touched = true
		}
	}
	return &Session{hash: h, CSRF: csrfOf(token), AccountID: ws.AccountID, Email: ws.Email, Admin: ws.Admin,
		Persistent: persistent, touched: touched, ss: ss}, nil
}

// end logs a session out.
func (ss *Sessions) end(ctx context.Context, s *Session) error {
	if err := ss.store.DeleteWebSession(ctx, s.hash[:]); err != nil {
		return fmt.Errorf("web: end session: %w", err)
	}
	ss.dropFlashes(func(k [sha256.Size]byte, _ *flashBox) bool { return k == s.hash })
	return nil
}

// endAccount logs out every session of an account (password changed,
// account deleted) except keep (nil: none).
func (ss *Sessions) endAccount(ctx context.Context, accountID int64, keep *Session) error {
	var keepHash []byte
	if keep != nil {
		keepHash = keep.hash[:]
	}
	if err := ss.store.DeleteAccountWebSessions(ctx, accountID, keepHash); err != nil {
		return fmt.Errorf("web: end the sessions of account %d: %w", accountID, err)
	}
	ss.dropFlashes(func(k [sha256.Size]byte, b *flashBox) bool {
		return b.accountID == accountID && (keep == nil || k != keep.hash)
	})
	return nil
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

// withSession returns r carrying sess for sessionOf.
func withSession(r *http.Request, sess *Session) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
}

// currentSession reads the session cookie: nil without a live session,
// an error if the store could not be asked.
func (s *Server) currentSession(r *http.Request) (*Session, error) {
	if sess := sessionOf(r); sess != nil {
		return sess, nil // looked up already by a handler wrapped around this one
	}
	return s.sessionFromCookie(r)
}

// sessionFromCookie looks the session cookie up in the store.
func (s *Server) sessionFromCookie(r *http.Request) (*Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	return s.opts.Sessions.get(r.Context(), c.Value)
}

// requireLogin runs next with the request's session, sends a browser
// without one to the login page, and checks the CSRF token of every
// request that changes something.
func (s *Server) requireLogin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.currentSession(r)
		if err != nil {
			// Not "log in again": the session may be fine, the store is away.
			s.log.Error("web session lookup failed", "err", err)
			http.Error(w, "the server cannot check your login now: try again shortly", http.StatusServiceUnavailable)
			return
		}
		if sess == nil {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, "/login?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "please log in again", http.StatusUnauthorized)
			return
		}
		if sess.Persistent && sess.touched {
			// Slide the persistent cookie with the stored last use.
			if c, err := r.Cookie(sessionCookie); err == nil {
				s.setSessionCookie(w, r, c.Value, sess.cookieMaxAge())
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !validCSRF(r, sess) {
				http.Error(w, "the form expired: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next(w, withSession(r, sess))
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

// cookieMaxAge is the Max-Age of the session's cookie: a persistent
// session's lasts as long as the session may idle; 0 (no Max-Age) makes
// the others browser-session cookies, gone when the browser closes.
func (s *Session) cookieMaxAge() int {
	if s.Persistent {
		return int(persistentIdle / time.Second)
	}
	return 0
}

// setSessionCookie sends the session cookie: HttpOnly, SameSite=Lax (a
// link from a mail to a message still opens it), Secure over HTTPS;
// maxAge as http.Cookie has it (0: a browser-session cookie, -1: delete).
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
