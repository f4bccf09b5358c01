package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// sieveTests cover the accounts' Sieve scripts and duplicate tracking
// (store.SieveScripts).
var sieveTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"SievePutGet", testSievePutGet},
	{"SieveRename", testSieveRename},
	{"SieveDelete", testSieveDelete},
	{"SieveActive", testSieveActive},
	{"SieveLimits", testSieveLimits},
	{"SieveNames", testSieveNames},
	{"SieveAccounts", testSieveAccounts},
	{"SieveEvents", testSieveEvents},
	{"SieveDuplicates", testSieveDuplicates},
}

// sieveNames lists the account's scripts as "name" or "name*" (active),
// failing if a list carries content.
func sieveNames(t *testing.T, st store.SieveScripts, accountID int64) []string {
	t.Helper()
	var out []string
	for _, sc := range must(st.SieveScripts(context.Background(), accountID)) {
		if sc.Content != "" {
			t.Errorf("the list carries %q's content", sc.Name)
		}
		if sc.Active {
			out = append(out, sc.Name+"*")
		} else {
			out = append(out, sc.Name)
		}
	}
	return out
}

func wantSieveNames(t *testing.T, st store.SieveScripts, accountID int64, want ...string) {
	t.Helper()
	if got := sieveNames(t, st, accountID); !slices.Equal(got, want) {
		t.Fatalf("scripts %q, want %q", got, want)
	}
}

func wantSieveContent(t *testing.T, st store.SieveScripts, accountID int64, name, content string, active bool) {
	t.Helper()
	sc, err := st.SieveScript(context.Background(), accountID, name)
	if err != nil {
		t.Fatalf("script %q: %v", name, err)
	}
	if sc.Name != name || sc.Content != content || sc.Active != active {
		t.Fatalf("script %q: %+v, want content %q, active %v", name, sc, content, active)
	}
}

func testSievePutGet(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	wantSieveNames(t, st, acct.ID)
	_, err := st.SieveScript(ctx, acct.ID, "main")
	wantErr(t, err, store.ErrNotFound, "a script that does not exist")
	_, err = st.ActiveSieveScript(ctx, acct.ID)
	wantErr(t, err, store.ErrNotFound, "the active script of an account without one")

	before := time.Now().Add(-time.Second)
	ok(t, st.PutSieveScript(ctx, acct.ID, "main", "keep;\r\n"))
	ok(t, st.PutSieveScript(ctx, acct.ID, "Main", `require "fileinto"; fileinto "Work";`))
	ok(t, st.PutSieveScript(ctx, acct.ID, "empty", ""))
	ok(t, st.PutSieveScript(ctx, acct.ID, "vacation ☀", "# ünïcode\nkeep;"))
	// Listed by name, octet order (RFC 5804 names are case-sensitive).
	wantSieveNames(t, st, acct.ID, "Main", "empty", "main", "vacation ☀")
	wantSieveContent(t, st, acct.ID, "main", "keep;\r\n", false)
	wantSieveContent(t, st, acct.ID, "Main", `require "fileinto"; fileinto "Work";`, false)
	wantSieveContent(t, st, acct.ID, "empty", "", false)
	wantSieveContent(t, st, acct.ID, "vacation ☀", "# ünïcode\nkeep;", false)
	_, err = st.SieveScript(ctx, acct.ID, "MAIN")
	wantErr(t, err, store.ErrNotFound, "a name in another case")
	for _, sc := range must(st.SieveScripts(ctx, acct.ID)) {
		if sc.Updated.Before(before) || sc.Updated.After(time.Now().Add(time.Second)) {
			t.Errorf("script %q updated %v, not now", sc.Name, sc.Updated)
		}
	}

	// Replacing the active script's content keeps it active.
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, "main"))
	ok(t, st.PutSieveScript(ctx, acct.ID, "main", "discard;"))
	wantSieveContent(t, st, acct.ID, "main", "discard;", true)
	active := must(st.ActiveSieveScript(ctx, acct.ID))
	if active.Name != "main" || active.Content != "discard;" || !active.Active {
		t.Fatalf("active script %+v", active)
	}
	wantSieveNames(t, st, acct.ID, "Main", "empty", "main*", "vacation ☀")
	// A script of the largest size is taken whole.
	big := "keep;\n" + strings.Repeat("#", store.MaxSieveScriptSize-len("keep;\n"))
	ok(t, st.PutSieveScript(ctx, acct.ID, "big", big))
	wantSieveContent(t, st, acct.ID, "big", big, false)

	wantErr(t, st.PutSieveScript(ctx, 1<<40, "main", "keep;"), store.ErrNotFound, "a script of an account that does not exist")
}

func testSieveRename(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	ok(t, st.PutSieveScript(ctx, acct.ID, "a", "keep;"))
	ok(t, st.PutSieveScript(ctx, acct.ID, "b", "discard;"))
	wantErr(t, st.RenameSieveScript(ctx, acct.ID, "a", "b"), store.ErrExists, "renaming onto another script")
	wantErr(t, st.RenameSieveScript(ctx, acct.ID, "a", "a"), store.ErrExists, "renaming a script to its own name")
	wantErr(t, st.RenameSieveScript(ctx, acct.ID, "nope", "c"), store.ErrNotFound, "renaming a script that does not exist")
	wantErr(t, st.RenameSieveScript(ctx, acct.ID, "a", ""), store.ErrInvalid, "renaming to an empty name")
	wantErr(t, st.RenameSieveScript(ctx, acct.ID, "a", "x\ny"), store.ErrInvalid, "renaming to a name with a line feed")
	wantSieveNames(t, st, acct.ID, "a", "b")

	ok(t, st.RenameSieveScript(ctx, acct.ID, "a", "A"))
	wantSieveNames(t, st, acct.ID, "A", "b")
	wantSieveContent(t, st, acct.ID, "A", "keep;", false)
	_, err := st.SieveScript(ctx, acct.ID, "a")
	wantErr(t, err, store.ErrNotFound, "the old name after the rename")

	// The active script stays active under its new name.
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, "b"))
	ok(t, st.RenameSieveScript(ctx, acct.ID, "b", "filters"))
	wantSieveNames(t, st, acct.ID, "A", "filters*")
	if active := must(st.ActiveSieveScript(ctx, acct.ID)); active.Name != "filters" || active.Content != "discard;" {
		t.Fatalf("active script after the rename %+v", active)
	}
	// The freed name can be used again, as a new, inactive script.
	ok(t, st.PutSieveScript(ctx, acct.ID, "b", "stop;"))
	wantSieveNames(t, st, acct.ID, "A", "b", "filters*")
}

func testSieveDelete(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	ok(t, st.PutSieveScript(ctx, acct.ID, "a", "keep;"))
	ok(t, st.PutSieveScript(ctx, acct.ID, "b", "keep;"))
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, "a"))
	wantErr(t, st.DeleteSieveScript(ctx, acct.ID, "a"), store.ErrSieveActive, "deleting the active script")
	wantErr(t, st.DeleteSieveScript(ctx, acct.ID, "c"), store.ErrNotFound, "deleting a script that does not exist")
	wantErr(t, st.DeleteSieveScript(ctx, acct.ID, "B"), store.ErrNotFound, "deleting a name in another case")
	wantSieveNames(t, st, acct.ID, "a*", "b")
	ok(t, st.DeleteSieveScript(ctx, acct.ID, "b"))
	wantSieveNames(t, st, acct.ID, "a*")
	wantErr(t, st.DeleteSieveScript(ctx, acct.ID, "b"), store.ErrNotFound, "deleting a script twice")
	// Deactivated first, as RFC 5804 2.10 asks, the script can go.
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, ""))
	ok(t, st.DeleteSieveScript(ctx, acct.ID, "a"))
	wantSieveNames(t, st, acct.ID)
}

func testSieveActive(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	for _, name := range []string{"a", "b", "c"} {
		ok(t, st.PutSieveScript(ctx, acct.ID, name, "# "+name))
	}
	// Deactivating with none active is no error.
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, ""))
	wantErr(t, st.SetActiveSieveScript(ctx, acct.ID, "d"), store.ErrNotFound, "activating a script that does not exist")
	wantErr(t, st.SetActiveSieveScript(ctx, acct.ID, "A"), store.ErrNotFound, "activating a name in another case")
	wantSieveNames(t, st, acct.ID, "a", "b", "c")

	ok(t, st.SetActiveSieveScript(ctx, acct.ID, "b"))
	wantSieveNames(t, st, acct.ID, "a", "b*", "c")
	// Activating another deactivates the first: one at most.
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, "c"))
	wantSieveNames(t, st, acct.ID, "a", "b", "c*")
	// Activating the active one again changes nothing.
	ok(t, st.SetActiveSieveScript(ctx, acct.ID, "c"))
	wantSieveNames(t, st, acct.ID, "a", "b", "c*")
	if active := must(st.ActiveSieveScript(ctx, acct.ID)); active.Name != "c" || active.Content != "# c" {
		t.Fatalf("active script %+v", active)
	}
	// A failed activation leaves the active one as it was.
	wantErr(t, st.SetActiveSieveScript(ctx, acct.ID, "d"), store.ErrNotFound, "activating a script that does not exist")
	wantSieveNames(t, st, acct.ID, "a", "b", "c*")

	ok(t, st.SetActiveSieveScript(ctx, acct.ID, ""))
	wantSieveNames(t, st, acct.ID, "a", "b", "c")
	_, err := st.ActiveSieveScript(ctx, acct.ID)
	wantErr(t, err, store.ErrNotFound, "the active script once deactivated")
	wantErr(t, st.SetActiveSieveScript(ctx, 1<<40, ""), store.ErrNotFound, "deactivating on an account that does not exist")
}

func testSieveLimits(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	wantErr(t, st.PutSieveScript(ctx, acct.ID, "big", strings.Repeat("#", store.MaxSieveScriptSize+1)), store.ErrSieveTooBig, "a script over the size limit")
	wantErr(t, st.PutSieveScript(ctx, acct.ID, "nul", "keep;\x00"), store.ErrInvalid, "a script with NUL")
	wantErr(t, st.PutSieveScript(ctx, acct.ID, "latin1", "# caf\xe9\nkeep;"), store.ErrInvalid, "a script that is not UTF-8")
	wantSieveNames(t, st, acct.ID)

	for i := range store.MaxSieveScripts {
		ok(t, st.PutSieveScript(ctx, acct.ID, fmt.Sprintf("s%03d", i), "keep;"))
	}
	wantErr(t, st.PutSieveScript(ctx, acct.ID, "one more", "keep;"), store.ErrSieveTooMany, "a script over the count limit")
	if n := len(sieveNames(t, st, acct.ID)); n != store.MaxSieveScripts {
		t.Fatalf("%d scripts, want %d", n, store.MaxSieveScripts)
	}
	// Replacing one at the limit is no new script; a too big one is
	// refused without touching the old content.
	ok(t, st.PutSieveScript(ctx, acct.ID, "s000", "discard;"))
	wantErr(t, st.PutSieveScript(ctx, acct.ID, "s000", strings.Repeat("#", store.MaxSieveScriptSize+1)), store.ErrSieveTooBig, "replacing with a script over the size limit")
	wantSieveContent(t, st, acct.ID, "s000", "discard;", false)
	// Once one is deleted, there is room again.
	ok(t, st.DeleteSieveScript(ctx, acct.ID, "s001"))
	ok(t, st.PutSieveScript(ctx, acct.ID, "one more", "keep;"))
	// The bound is per account.
	other := newAccount(t, st, "other@example.test")
	ok(t, st.PutSieveScript(ctx, other.ID, "mine", "keep;"))
}

func testSieveNames(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	longest := strings.Repeat("é", store.MaxSieveScriptName/2) + strings.Repeat("x", store.MaxSieveScriptName%2)
	for _, name := range []string{longest, "with space", "tab-free ☀ ünïcode", "\u00a0nbsp", "a/b.sieve"} {
		ok(t, st.PutSieveScript(ctx, acct.ID, name, "keep;"))
		wantSieveContent(t, st, acct.ID, name, "keep;", false)
	}
	for _, tc := range []struct{ name, what string }{
		{"", "an empty name"},
		{longest + "x", "a name over the length limit"},
		{"caf\xe9", "a name that is not UTF-8"},
		{"a\x00b", "a name with NUL"},
		{"a\rb", "a name with CR"},
		{"a\nb", "a name with LF"},
		{"a\tb", "a name with a tab"},
		{"a\x7fb", "a name with DEL"},
		{"a\u0085b", "a name with NEL (a C1 control)"},
		{"a\u2028b", "a name with a line separator"},
		{"a\u2029b", "a name with a paragraph separator"},
	} {
		wantErr(t, st.PutSieveScript(ctx, acct.ID, tc.name, "keep;"), store.ErrInvalid, tc.what)
	}
	if n := len(sieveNames(t, st, acct.ID)); n != 5 {
		t.Fatalf("%d scripts after the refused names, want 5", n)
	}
}

func testSieveAccounts(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	ok(t, st.PutSieveScript(ctx, ann.ID, "main", "# ann"))
	ok(t, st.PutSieveScript(ctx, bob.ID, "main", "# bob"))
	ok(t, st.PutSieveScript(ctx, bob.ID, "other", "# bob's other"))
	ok(t, st.SetActiveSieveScript(ctx, ann.ID, "main"))
	ok(t, st.SetActiveSieveScript(ctx, bob.ID, "other"))
	// Each account has its own names and its own active script.
	wantSieveNames(t, st, ann.ID, "main*")
	wantSieveNames(t, st, bob.ID, "main", "other*")
	wantSieveContent(t, st, ann.ID, "main", "# ann", true)
	wantSieveContent(t, st, bob.ID, "main", "# bob", false)
	wantErr(t, st.DeleteSieveScript(ctx, ann.ID, "other"), store.ErrNotFound, "deleting another account's script")
	wantErr(t, st.SetActiveSieveScript(ctx, ann.ID, "other"), store.ErrNotFound, "activating another account's script")
	ok(t, st.RenameSieveScript(ctx, ann.ID, "main", "renamed"))
	wantSieveNames(t, st, bob.ID, "main", "other*")
	ok(t, st.RecordSieveDuplicate(ctx, ann.ID, "<id@example.org>", time.Now().Add(time.Hour)))

	// The scripts go with the account; a new account of the same address
	// starts without them.
	ok(t, st.DeleteAccount(ctx, ann.Email))
	wantSieveNames(t, st, ann.ID)
	_, err := st.ActiveSieveScript(ctx, ann.ID)
	wantErr(t, err, store.ErrNotFound, "the active script of a deleted account")
	if seen := must(st.SieveDuplicateSeen(ctx, ann.ID, "<id@example.org>", time.Now())); seen {
		t.Error("a deleted account's duplicate record is still seen")
	}
	again := newAccount(t, st, ann.Email)
	wantSieveNames(t, st, again.ID)
	if seen := must(st.SieveDuplicateSeen(ctx, again.ID, "<id@example.org>", time.Now())); seen {
		t.Error("a new account of the address sees the old one's duplicate record")
	}
	wantSieveNames(t, st, bob.ID, "main", "other*")
	wantErr(t, st.PutSieveScript(ctx, ann.ID, "main", "keep;"), store.ErrNotFound, "a script of the deleted account")
}

func testSieveEvents(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	other := newAccount(t, st, "other@example.test")
	sub := st.Subscribe(acct.ID)
	defer sub.Close()
	all := st.Subscribe(0)
	defer all.Close()
	// A change is published before the call returns (the feed's own
	// writes), so what the subscription holds right after it tells.
	accountEvents := func(sub *store.Subscription, accountID int64) int {
		b := sub.Take()
		if b.Overflowed || b.Closed {
			t.Fatalf("subscription overflowed %v, closed %v", b.Overflowed, b.Closed)
		}
		n := 0
		for _, e := range b.Events {
			if e.Kind == store.EventAccountChanged && e.AccountID == accountID {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		what   string
		change func() error
		want   int // EventAccountChanged for acct: 1 for a change, 0 for a refusal
	}{
		{"put", func() error { return st.PutSieveScript(ctx, acct.ID, "a", "keep;") }, 1},
		{"replace", func() error { return st.PutSieveScript(ctx, acct.ID, "a", "discard;") }, 1},
		{"put another", func() error { return st.PutSieveScript(ctx, acct.ID, "b", "keep;") }, 1},
		{"rename", func() error { return st.RenameSieveScript(ctx, acct.ID, "b", "c") }, 1},
		{"activate", func() error { return st.SetActiveSieveScript(ctx, acct.ID, "a") }, 1},
		{"delete", func() error { return st.DeleteSieveScript(ctx, acct.ID, "c") }, 1},
		{"deactivate", func() error { return st.SetActiveSieveScript(ctx, acct.ID, "") }, 1},
		{"refused put", func() error { return st.PutSieveScript(ctx, acct.ID, "", "keep;") }, 0},
		{"refused rename", func() error { return st.RenameSieveScript(ctx, acct.ID, "nope", "d") }, 0},
		{"refused delete", func() error { return st.DeleteSieveScript(ctx, acct.ID, "nope") }, 0},
		{"refused activation", func() error { return st.SetActiveSieveScript(ctx, acct.ID, "nope") }, 0},
		{"duplicate record", func() error {
			return st.RecordSieveDuplicate(ctx, acct.ID, "<x@example.org>", time.Now().Add(time.Hour))
		}, 0},
		{"another account's change", func() error { return st.PutSieveScript(ctx, other.ID, "a", "keep;") }, 0},
	} {
		err := step.change()
		if step.want == 1 && err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if got := accountEvents(sub, acct.ID); got != step.want {
			t.Errorf("%s: %d EventAccountChanged for the account, want %d", step.what, got, step.want)
		}
	}
	// A subscriber of every account heard of both.
	if got := accountEvents(all, other.ID); got != 1 {
		t.Errorf("the subscriber of every account got %d EventAccountChanged for the other account, want 1", got)
	}
}

func testSieveDuplicates(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	// Whole seconds from a second on: the store keeps Unix seconds.
	now := time.Now().Truncate(time.Second).Add(time.Second)
	seen := func(accountID int64, id string, at time.Time) bool {
		t.Helper()
		return must(st.SieveDuplicateSeen(ctx, accountID, id, at))
	}
	const id = "<1234@example.org>"
	if seen(ann.ID, id, now) {
		t.Fatal("an id never recorded is seen")
	}
	ok(t, st.RecordSieveDuplicate(ctx, ann.ID, id, now.Add(time.Hour)))
	if !seen(ann.ID, id, now) || !seen(ann.ID, id, now.Add(time.Hour-time.Second)) {
		t.Error("a recorded id is not seen before it expires")
	}
	if seen(ann.ID, id, now.Add(time.Hour)) || seen(ann.ID, id, now.Add(2*time.Hour)) {
		t.Error("a recorded id is seen once it expired")
	}
	// Per account, and ids are compared exactly.
	if seen(bob.ID, id, now) {
		t.Error("another account sees the id")
	}
	if seen(ann.ID, strings.ToUpper(id), now) || seen(ann.ID, id+" ", now) {
		t.Error("another id is seen")
	}
	// Recording again replaces the expiry, later or earlier.
	ok(t, st.RecordSieveDuplicate(ctx, ann.ID, id, now.Add(3*time.Hour)))
	if !seen(ann.ID, id, now.Add(2*time.Hour)) {
		t.Error("recording again did not extend the expiry")
	}
	ok(t, st.RecordSieveDuplicate(ctx, ann.ID, id, now.Add(30*time.Minute)))
	if seen(ann.ID, id, now.Add(time.Hour)) {
		t.Error("recording again did not shorten the expiry")
	}
	// Any id, however long and whatever its octets.
	for _, odd := range []string{"", strings.Repeat("x", 100_000), "\x00\xff\r\n", "ünïcode"} {
		ok(t, st.RecordSieveDuplicate(ctx, bob.ID, odd, now.Add(time.Hour)))
		if !seen(bob.ID, odd, now) {
			t.Errorf("id of %d octets not seen", len(odd))
		}
	}
	// Expired records go along the way, whichever account records next;
	// the others stay.
	ok(t, st.RecordSieveDuplicate(ctx, ann.ID, "<old@example.org>", now.Add(-time.Hour)))
	ok(t, st.RecordSieveDuplicate(ctx, bob.ID, "<new@example.org>", now.Add(time.Hour)))
	if seen(ann.ID, "<old@example.org>", now.Add(-2*time.Hour)) {
		t.Error("an expired record was kept")
	}
	if !seen(ann.ID, id, now) || !seen(bob.ID, "<new@example.org>", now) {
		t.Error("records that have not expired were removed")
	}
	err := st.RecordSieveDuplicate(ctx, 1<<40, id, now.Add(time.Hour))
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("recording for an account that does not exist: %v, want ErrNotFound", err)
	}
}
