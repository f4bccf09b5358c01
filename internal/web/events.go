package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"mailroom/internal/store"
)

// events streams the account's changes to an open page (Server-Sent
// Events): which mailboxes changed, from any client — IMAP, POP3, SMTP
// delivery or another browser. The page fetches what it shows again; the
// stream carries no mail content.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	sess := sessionOf(r)
	sub := s.opts.Store.Subscribe(sess.AccountID)
	defer sub.Close()
	if r.URL.Query().Get("follow") != "" {
		// A page showing a folder another account shares (it asks, so
		// that other pages cost no listing): that account's changes
		// too, as an IMAP NOTIFY session follows them.
		if err := s.followShares(r, sub); err != nil {
			s.log.Warn("web: live updates of shared folders unavailable", "err", err)
		}
	}
	stop, done := s.opts.Sessions.stream()
	defer done()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	keepalive := time.NewTicker(30 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-stop:
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case <-sub.Ready():
			events, overflowed, closed := sub.Next()
			if closed {
				return
			}
			changed := map[int64]bool{}
			for _, e := range events {
				changed[e.MailboxID] = true
			}
			if overflowed {
				changed[0] = true // "something changed": reload whatever is shown
			}
			for id := range changed {
				fmt.Fprintf(w, "event: change\ndata: %s\n\n", strconv.FormatInt(id, 10))
			}
		}
		if live, err := s.sessionFromCookie(r); live == nil || err != nil {
			return // logged out meanwhile (or the store is away: the page reconnects)
		}
		flusher.Flush()
	}
}

// followShares widens sub to the accounts that share folders with the
// session's user.
func (s *Server) followShares(r *http.Request, sub *store.Subscription) error {
	folders, err := s.user(r).List(r.Context())
	if err != nil {
		return fmt.Errorf("web: folders to follow: %w", err)
	}
	var owners []int64
	for _, f := range folders {
		if id := f.Mailbox().AccountID; f.Owner() != "" && !slices.Contains(owners, id) {
			owners = append(owners, id)
		}
	}
	sub.Follow(owners)
	return nil
}
