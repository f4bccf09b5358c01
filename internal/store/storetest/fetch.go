package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"mailroom/internal/store"
)

// fetchTests cover the sources accounts collect mail from
// (store.FetchSources).
var fetchTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"FetchSourceSettings", testFetchSourceSettings},
	{"FetchSourceState", testFetchSourceState},
	{"FetchSourceLimits", testFetchSourceLimits},
}

func popSource(accountID int64) store.FetchSource {
	return store.FetchSource{AccountID: accountID, Protocol: store.FetchPOP3, Host: "pop.example.net",
		Security: store.FetchTLS, Username: "ann", Password: "s3cret pass", Enabled: true}
}

// testFetchSourceSettings: a source reads back as added with its
// defaults, lists per account, updates and deletes only in its account,
// and goes with the account.
func testFetchSourceSettings(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	src := must(st.AddFetchSource(ctx, popSource(ann.ID)))
	if src.ID == 0 || src.Port != 995 || src.Folder != "INBOX" || src.Mailbox != "INBOX" || src.Created.IsZero() {
		t.Fatalf("added %+v: want an id, port 995, INBOX both ways and a creation time", src)
	}
	got := must(st.FetchSource(ctx, src.ID))
	if got.Password != "s3cret pass" || got.Host != "pop.example.net" || !got.Enabled || got.Delete || got.Protocol != store.FetchPOP3 {
		t.Errorf("read back %+v", got)
	}
	imap := must(st.AddFetchSource(ctx, store.FetchSource{AccountID: bob.ID, Protocol: store.FetchIMAP, Host: "imap.example.net",
		Security: store.FetchSTARTTLS, Username: "bob@example.net", Password: "pw", Folder: "Archive", Mailbox: "Old mail",
		Delete: true, MarkRead: true}))
	if imap.Port != 143 {
		t.Errorf("IMAP with STARTTLS got port %d, want 143", imap.Port)
	}
	if l := must(st.FetchSources(ctx, ann.ID)); len(l) != 1 || l[0].ID != src.ID {
		t.Errorf("ann's sources: %+v", l)
	}
	if l := must(st.FetchSources(ctx, 0)); len(l) != 2 || l[1].Folder != "Archive" || l[1].Mailbox != "Old mail" || !l[1].MarkRead || !l[1].Delete {
		t.Errorf("every source: %+v", l)
	}
	// Bob cannot change or delete Ann's source.
	other := src
	other.AccountID = bob.ID
	wantErr(t, st.UpdateFetchSource(ctx, other), store.ErrNotFound, "update another's source")
	wantErr(t, st.DeleteFetchSource(ctx, bob.ID, src.ID), store.ErrNotFound, "delete another's source")
	src.Password, src.Enabled, src.Delete = "new", false, true
	noErr(t, st.UpdateFetchSource(ctx, src))
	if got := must(st.FetchSource(ctx, src.ID)); got.Password != "new" || got.Enabled || !got.Delete {
		t.Errorf("after update: %+v", got)
	}
	bad := popSource(ann.ID)
	bad.Host = "pop example"
	_, err := st.AddFetchSource(ctx, bad)
	wantErr(t, err, store.ErrInvalid, "a host with a space")
	bad = popSource(ann.ID)
	bad.Password = "a\r\nb"
	_, err = st.AddFetchSource(ctx, bad)
	wantErr(t, err, store.ErrInvalid, "a password with a line break")
	noErr(t, st.DeleteFetchSource(ctx, ann.ID, src.ID))
	_, err = st.FetchSource(ctx, src.ID)
	wantErr(t, err, store.ErrNotFound, "a deleted source")
	noErr(t, st.DeleteAccount(ctx, bob.Email))
	if l := must(st.FetchSources(ctx, 0)); len(l) != 0 {
		t.Errorf("sources left after their accounts went: %+v", l)
	}
}

// testFetchSourceState: recorded ids are idempotent and counted once,
// forgotten ones go, the cursor and status read back, and a change of
// the remote clears what was collected from the old one.
func testFetchSourceState(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	src := must(st.AddFetchSource(ctx, popSource(ann.ID)))
	for _, u := range []string{"b", "a", "c", "a"} {
		noErr(t, st.MarkFetched(ctx, src.ID, u))
	}
	if got := must(st.FetchedUIDs(ctx, src.ID)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("recorded %q, want a b c", got)
	}
	if got := must(st.FetchSource(ctx, src.ID)); got.Fetched != 3 {
		t.Errorf("fetched %d, want 3 (a recorded twice counts once)", got.Fetched)
	}
	noErr(t, st.ForgetFetchedUIDs(ctx, src.ID, []string{"a", "c", "zz"}))
	if got := must(st.FetchedUIDs(ctx, src.ID)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after forgetting a and c: %q", got)
	}
	wantErr(t, st.MarkFetched(ctx, src.ID, ""), store.ErrInvalid, "an empty id")
	wantErr(t, st.MarkFetched(ctx, src.ID+1000, "x"), store.ErrNotFound, "a missing source")

	now := time.Unix(time.Now().Unix(), 0)
	status := store.FetchStatus{LastAttempt: now, LastSuccess: now.Add(-time.Hour), LastError: "login failed: the server said no", Failures: 2}
	noErr(t, st.SetFetchStatus(ctx, src.ID, status))
	noErr(t, st.SetFetchCursor(ctx, src.ID, 77, 1234, 5))
	got := must(st.FetchSource(ctx, src.ID))
	if got.FetchStatus != status || got.UIDValidity != 77 || got.LastUID != 1234 || got.Fetched != 8 {
		t.Errorf("state %+v, want %+v, cursor 77/1234, 8 fetched", got, status)
	}
	wantErr(t, st.SetFetchStatus(ctx, src.ID+1000, status), store.ErrNotFound, "status of a missing source")

	// Same remote, other password: the state stays.
	src.Password = "other"
	noErr(t, st.UpdateFetchSource(ctx, src))
	if got := must(st.FetchedUIDs(ctx, src.ID)); len(got) != 1 {
		t.Errorf("a new password cleared the ids: %q", got)
	}
	// Another login: it is another maildrop.
	src.Username = "someone-else"
	noErr(t, st.UpdateFetchSource(ctx, src))
	got = must(st.FetchSource(ctx, src.ID))
	if ids := must(st.FetchedUIDs(ctx, src.ID)); len(ids) != 0 || got.LastUID != 0 || got.UIDValidity != 0 {
		t.Errorf("another login kept the state: ids %q, cursor %d/%d", ids, got.UIDValidity, got.LastUID)
	}
	if got.FetchStatus != status || got.Fetched != 8 {
		t.Errorf("an update lost the status: %+v", got)
	}
}

// testFetchSourceLimits: an account has at most MaxFetchSources.
func testFetchSourceLimits(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	for range store.MaxFetchSources {
		must(st.AddFetchSource(ctx, popSource(ann.ID)))
	}
	_, err := st.AddFetchSource(ctx, popSource(ann.ID))
	wantErr(t, err, store.ErrFetchTooMany, "one source too many")
	_, err = st.AddFetchSource(ctx, popSource(ann.ID+1000))
	wantErr(t, err, store.ErrNotFound, "a source of no account")
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
