package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"testing"
	"time"

	"mailroom/internal/store"
)

func sessionHash(name string) []byte {
	h := sha256.Sum256([]byte(name))
	return h[:]
}

// wantSession checks that the session with hash h exists (or not).
func wantSession(t *testing.T, st store.WebSessions, h []byte, exists bool, what string) store.WebSession {
	t.Helper()
	ws, err := st.WebSession(context.Background(), h)
	switch {
	case exists && err != nil:
		t.Fatalf("%s: %v", what, err)
	case !exists && !errors.Is(err, store.ErrNotFound):
		t.Fatalf("%s: got %+v, %v; want ErrNotFound", what, ws, err)
	}
	return ws
}

func testWebSessions(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

	a1, a2, a3, b1 := sessionHash("a1"), sessionHash("a2"), sessionHash("a3"), sessionHash("b1")
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: a1, AccountID: ann.ID, Admin: true, Created: t0, LastSeen: t0}))
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: a2, AccountID: ann.ID, Created: t0, LastSeen: t0}))
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: a3, AccountID: ann.ID, Created: t0, LastSeen: t0}))
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: b1, AccountID: bob.ID, Created: t0.Add(time.Minute), LastSeen: t0.Add(time.Minute)}))

	ws := wantSession(t, st, a1, true, "created session")
	if ws.AccountID != ann.ID || ws.Email != "ann@example.test" || !ws.Admin || !ws.Created.Equal(t0) || !ws.LastSeen.Equal(t0) || string(ws.TokenHash) != string(a1) {
		t.Fatalf("WebSession = %+v", ws)
	}
	if ws := wantSession(t, st, b1, true, "bob's session"); ws.AccountID != bob.ID || ws.Email != "bob@example.test" || ws.Admin {
		t.Fatalf("bob's WebSession = %+v", ws)
	}
	wantSession(t, st, sessionHash("never created"), false, "unknown hash")

	// Bad input.
	wantErr(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: a1, AccountID: ann.ID, Created: t0, LastSeen: t0}), store.ErrExists, "duplicate hash")
	wantErr(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: []byte("short"), AccountID: ann.ID, Created: t0, LastSeen: t0}), store.ErrInvalid, "short hash")
	wantErr(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: sessionHash("x"), AccountID: 999999, Created: t0, LastSeen: t0}), store.ErrNotFound, "unknown account")
	_, err := st.WebSession(ctx, nil)
	wantErr(t, err, store.ErrInvalid, "lookup without a hash")
	wantErr(t, st.DeleteWebSession(ctx, []byte{1, 2}), store.ErrInvalid, "delete with a short hash")

	// Touch moves LastSeen forward only, to the second.
	ok(t, st.TouchWebSession(ctx, a1, t0.Add(90*time.Second+300*time.Millisecond)))
	if ws := wantSession(t, st, a1, true, "touched"); !ws.LastSeen.Equal(t0.Add(90*time.Second)) || !ws.Created.Equal(t0) {
		t.Fatalf("after touch: %+v", ws)
	}
	ok(t, st.TouchWebSession(ctx, a1, t0.Add(time.Second))) // another node's older request
	if ws := wantSession(t, st, a1, true, "touched back"); !ws.LastSeen.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("touch moved LastSeen back: %+v", ws)
	}
	ok(t, st.TouchWebSession(ctx, sessionHash("gone"), t0)) // gone: no error

	// Logout of one session.
	ok(t, st.DeleteWebSession(ctx, a3))
	wantSession(t, st, a3, false, "deleted session")
	ok(t, st.DeleteWebSession(ctx, a3)) // twice: no error
	wantSession(t, st, a2, true, "the account's other session")

	// Expiry: idle since before t0+30s, or created before t0+30s.
	ok(t, st.TouchWebSession(ctx, a2, t0.Add(time.Hour)))
	n := must(st.DeleteExpiredWebSessions(ctx, t0.Add(30*time.Second), t0.Add(-time.Hour)))
	if n != 0 {
		t.Fatalf("deleted %d sessions, none was idle that long", n)
	}
	n = must(st.DeleteExpiredWebSessions(ctx, t0.Add(91*time.Second), t0.Add(-time.Hour)))
	if n != 2 { // a1 (seen t0+90s) and b1 (seen t0+1m); a2 seen t0+1h
		t.Fatalf("idle: deleted %d sessions, want 2", n)
	}
	wantSession(t, st, a1, false, "idle session")
	wantSession(t, st, b1, false, "bob's idle session")
	wantSession(t, st, a2, true, "recently seen session")
	n = must(st.DeleteExpiredWebSessions(ctx, t0, t0.Add(time.Second)))
	if n != 1 {
		t.Fatalf("lifetime: deleted %d sessions, want 1", n)
	}
	wantSession(t, st, a2, false, "session past its lifetime, however recently seen")

	// Log out every session of an account, but one.
	for i := range 3 {
		ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: sessionHash("ann" + strconv.Itoa(i)), AccountID: ann.ID, Created: t0, LastSeen: t0}))
	}
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: b1, AccountID: bob.ID, Created: t0, LastSeen: t0}))
	ok(t, st.DeleteAccountWebSessions(ctx, ann.ID, sessionHash("ann1")))
	wantSession(t, st, sessionHash("ann0"), false, "another session of the account")
	wantSession(t, st, sessionHash("ann2"), false, "another session of the account")
	wantSession(t, st, sessionHash("ann1"), true, "the kept session")
	wantSession(t, st, b1, true, "another account's session")
	ok(t, st.DeleteAccountWebSessions(ctx, ann.ID, nil))
	wantSession(t, st, sessionHash("ann1"), false, "every session of the account")
	wantSession(t, st, b1, true, "another account's session")

	// Deleting an account ends its sessions.
	ok(t, st.DeleteAccount(ctx, "bob@example.test"))
	wantSession(t, st, b1, false, "session of a deleted account")
	if n := must(st.DeleteExpiredWebSessions(ctx, t0.Add(-time.Hour), t0.Add(-time.Hour))); n != 0 {
		t.Fatalf("a deleted account's session was still there to expire (%d)", n)
	}
}

// testWebSessionLimit: an account keeps at most MaxWebSessions; a new one
// ends the one seen least recently, whatever its creation time.
func testWebSessionLimit(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: sessionHash("bob"), AccountID: bob.ID, Created: t0, LastSeen: t0}))
	for i := range store.MaxWebSessions {
		// Session 0 is seen last of all, session 1 least recently.
		seen := t0.Add(time.Duration(i) * time.Second)
		if i == 0 {
			seen = t0.Add(time.Hour)
		}
		ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: sessionHash(strconv.Itoa(i)), AccountID: ann.ID, Created: t0, LastSeen: seen}))
	}
	for i := range store.MaxWebSessions {
		wantSession(t, st, sessionHash(strconv.Itoa(i)), true, "session "+strconv.Itoa(i)+" within the limit")
	}
	ok(t, st.CreateWebSession(ctx, store.WebSession{TokenHash: sessionHash("new"), AccountID: ann.ID, Created: t0, LastSeen: t0}))
	wantSession(t, st, sessionHash("new"), true, "the new session")
	wantSession(t, st, sessionHash("1"), false, "the session seen least recently")
	wantSession(t, st, sessionHash("0"), true, "the oldest session, seen last")
	wantSession(t, st, sessionHash("2"), true, "session 2")
	wantSession(t, st, sessionHash("bob"), true, "another account's session")
}
