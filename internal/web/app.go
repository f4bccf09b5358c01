package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/mailapi"
	"mailroom/internal/webapp"
)

// appRoutes serves the webmail's browser application (internal/webapp):
// one shell page for every address under /app/ (the app routes in the
// browser, and talks JMAP to /jmap/), and its built assets. The
// server-rendered pages under /mail/ stay as the basic HTML version, for
// browsers where the app's script does not run.
func (s *Server) appRoutes(mux *http.ServeMux) {
	// The assets are the same for everyone and hold no mail: no login, so
	// that the login page's next step is already cached.
	mux.HandleFunc("GET "+webapp.AssetPrefix+"{name}", s.app.ServeAsset)
	mux.HandleFunc("GET /app/{$}", s.requireLogin(s.appShell))
	mux.HandleFunc("GET /app/{path...}", s.requireLogin(s.appShell))
}

func (s *Server) appShell(w http.ResponseWriter, r *http.Request) {
	// The app's own addresses only: a wrong path under the renderer, the
	// zip or the assets is a 404, not a page of the app.
	for _, p := range []string{"/app/render/", "/app/zip/", webapp.AssetPrefix} {
		if strings.HasPrefix(r.URL.Path, p) {
			http.NotFound(w, r)
			return
		}
	}
	sess := sessionOf(r)
	d := webapp.ShellData{CSRF: sess.CSRF, Email: sess.Email, Admin: sess.Admin}
	var inbox int64
	if mb, err := s.opts.Store.Mailbox(r.Context(), sess.AccountID, "INBOX"); err == nil {
		inbox = mb.ID
		d.Inbox = mailapi.MailboxID(mb.ID)
	}
	s.warmInbox(sess.AccountID, inbox)
	// The JMAP session and the Inbox's id ride with the page, so that the
	// script's first request is already the Inbox's list. Without them
	// (an error is logged) the script asks for them itself.
	if session, err := s.jmap.SessionJSON(r, jmap.User{AccountID: sess.AccountID, Email: strings.ToLower(sess.Email)}); err != nil {
		s.log.Warn("web: app shell: JMAP session", "err", err)
	} else {
		d.Session = string(session)
	}
	if err := s.app.ServeShell(w, d); err != nil {
		s.log.Error("web: app shell", "err", err)
	}
}

// warmInboxTimeout bounds loading an Inbox ahead of the app's first
// request.
const warmInboxTimeout = 10 * time.Second

// warmInbox loads the account's INBOX into the mailbox service while the
// browser is still fetching the app, so that the app's first JMAP
// request finds it loaded: a 100,000-message Inbox takes a few hundred
// milliseconds to load, the app's page and script about as long. The
// mailbox service keeps idle mailboxes loaded (and current), so this
// costs nothing when it already is. Best effort: a failure here is the
// first request's to report. inboxID is the INBOX's store id when the
// caller has it (0: looked up here).
func (s *Server) warmInbox(accountID, inboxID int64) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), warmInboxTimeout)
		defer cancel()
		if inboxID == 0 {
			mb, err := s.opts.Store.Mailbox(ctx, accountID, "INBOX")
			if err != nil {
				return
			}
			inboxID = mb.ID
		}
		box, err := s.opts.Mailboxes.Open(ctx, inboxID)
		if err != nil {
			return
		}
		s.opts.Mailboxes.Release(box)
	}()
}
