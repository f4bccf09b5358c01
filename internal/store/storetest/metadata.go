package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"mailroom/internal/store"
)

// metadataTests cover annotations (store.Metadata, IMAP METADATA).
var metadataTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"MetadataRoundTrip", testMetadataRoundTrip},
	{"MetadataDepth", testMetadataDepth},
	{"MetadataNames", testMetadataNames},
	{"MetadataLimits", testMetadataLimits},
	{"MetadataConcurrentLimit", testMetadataConcurrentLimit},
	{"MetadataLifecycle", testMetadataLifecycle},
}

// entries renders what GetMetadata returned, for comparing.
func entries(es []store.MetadataEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s=%q;", e.Name, e.Value)
	}
	return b.String()
}

func wantEntries(t *testing.T, got []store.MetadataEntry, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if s := entries(got); s != want {
		t.Fatalf("entries:\n got  %s\n want %s", s, want)
	}
}

func set(name, value string) store.MetadataEntry {
	return store.MetadataEntry{Name: name, Value: []byte(value)}
}

func unset(name string) store.MetadataEntry { return store.MetadataEntry{Name: name} }

func testMetadataRoundTrip(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	kim := newAccount(t, st, "kim@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	both := []string{"/private/comment", "/shared/comment"}

	wantEntries(t, must(st.GetMetadata(ctx, team.ID, owner.ID, both, 0)), nil, "")
	must(0, st.SetMetadata(ctx, team.ID, owner.ID, []store.MetadataEntry{
		set("/private/comment", "My own comment"), set("/shared/comment", "Shared comment"),
	}))
	got, err := st.GetMetadata(ctx, team.ID, owner.ID, both, 0)
	wantEntries(t, got, err, `/private/comment="My own comment";/shared/comment="Shared comment";`)
	// Another user sees the shared value, not the owner's private one,
	// and has a private value of their own.
	got, err = st.GetMetadata(ctx, team.ID, kim.ID, both, 0)
	wantEntries(t, got, err, `/shared/comment="Shared comment";`)
	must(0, st.SetMetadata(ctx, team.ID, kim.ID, []store.MetadataEntry{set("/private/comment", "Kim's")}))
	got, err = st.GetMetadata(ctx, team.ID, kim.ID, both, 0)
	wantEntries(t, got, err, `/private/comment="Kim's";/shared/comment="Shared comment";`)
	got, err = st.GetMetadata(ctx, team.ID, owner.ID, []string{"/private/comment"}, 0)
	wantEntries(t, got, err, `/private/comment="My own comment";`)

	// Replacing; binary values, NUL included; an empty value is a value.
	bin := []byte{0, 1, 2, 0xff, '\r', '\n'}
	must(0, st.SetMetadata(ctx, team.ID, owner.ID, []store.MetadataEntry{
		set("/shared/comment", "new"), {Name: "/shared/vendor/example/blob", Value: bin}, {Name: "/private/empty", Value: []byte{}},
	}))
	got, err = st.GetMetadata(ctx, team.ID, owner.ID, []string{"/shared", "/private"}, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/private/comment="My own comment";/private/empty="";/shared/comment="new";/shared/vendor/example/blob="\x00\x01\x02\xff\r\n";`)
	for _, e := range got {
		if e.Name == "/private/empty" && e.Value == nil {
			t.Fatal("an empty value came back as no value")
		}
	}

	// NIL deletes; deleting what is not there is no error.
	must(0, st.SetMetadata(ctx, team.ID, owner.ID, []store.MetadataEntry{unset("/shared/comment"), unset("/shared/nothing")}))
	got, err = st.GetMetadata(ctx, team.ID, kim.ID, both, 0)
	wantEntries(t, got, err, `/private/comment="Kim's";`)

	// Server annotations: shared ones for everybody, private ones per user,
	// apart from any mailbox's.
	must(0, st.SetMetadata(ctx, 0, owner.ID, []store.MetadataEntry{set("/shared/comment", "motd"), set("/private/vendor/client/theme", "dark")}))
	got, err = st.GetMetadata(ctx, 0, kim.ID, []string{"/shared", "/private"}, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/shared/comment="motd";`)
	got, err = st.GetMetadata(ctx, 0, owner.ID, []string{"/private/vendor/client/theme", "/shared/comment"}, 0)
	wantEntries(t, got, err, `/private/vendor/client/theme="dark";/shared/comment="motd";`)
	got, err = st.GetMetadata(ctx, team.ID, owner.ID, []string{"/private/vendor"}, store.MetadataDepthInfinity)
	wantEntries(t, got, err, "")

	// No such mailbox.
	_, err = st.GetMetadata(ctx, 1<<40, owner.ID, both, 0)
	wantErr(t, err, store.ErrNotFound, "GetMetadata of a missing mailbox")
	err = st.SetMetadata(ctx, 1<<40, owner.ID, []store.MetadataEntry{set("/shared/comment", "x")})
	wantErr(t, err, store.ErrNotFound, "SetMetadata of a missing mailbox")
	err = st.SetMetadata(ctx, team.ID, 1<<40, []store.MetadataEntry{set("/private/comment", "x")})
	wantErr(t, err, store.ErrNotFound, "SetMetadata of a missing account's private entry")
}

func testMetadataDepth(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "depth@example.test")
	in := must(st.Mailbox(ctx, a.ID, "INBOX"))
	// RFC 5464 4.2.2's example, and names that share a prefix but are not
	// below it ("/private/filters/valuesx", "/private/filters/values0").
	must(0, st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{
		set("/private/filters/values/small", "SMALLER 5000"),
		set("/private/filters/values/boss", `FROM "boss@example.com"`),
		set("/private/filters/values/boss/deep", "x"),
		set("/private/filters/values", "top"),
		set("/private/filters/valuesx", "no"),
		set("/private/filters/values0", "no"),
	}))
	q := []string{"/private/filters/values"}
	got, err := st.GetMetadata(ctx, in.ID, a.ID, q, store.MetadataDepth0)
	wantEntries(t, got, err, `/private/filters/values="top";`)
	got, err = st.GetMetadata(ctx, in.ID, a.ID, q, store.MetadataDepth1)
	wantEntries(t, got, err, `/private/filters/values="top";/private/filters/values/boss="FROM \"boss@example.com\"";/private/filters/values/small="SMALLER 5000";`)
	got, err = st.GetMetadata(ctx, in.ID, a.ID, q, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/private/filters/values="top";/private/filters/values/boss="FROM \"boss@example.com\"";/private/filters/values/boss/deep="x";/private/filters/values/small="SMALLER 5000";`)
	// Overlapping requests return each entry once.
	got, err = st.GetMetadata(ctx, in.ID, a.ID, []string{"/private/filters/values/boss", "/private/filters"}, store.MetadataDepthInfinity)
	if err != nil || len(got) != 6 {
		t.Fatalf("overlapping requests: %s, %v", entries(got), err)
	}
}

func testMetadataNames(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "names@example.test")
	in := must(st.Mailbox(ctx, a.ID, "INBOX"))
	for _, name := range []string{
		"", "/", "comment", "/comment", "/private", "/shared/", "/shared//comment", "/shared/a*", "/shared/a%",
		"/shared/Comment", "/shared/\x01", "/shared/\x7f", "/shared/caf\xc3\xa9", "/public/comment",
		"/shared/vendor", "/shared/vendor/example", "/shared/" + strings.Repeat("a", store.MaxMetadataName),
	} {
		err := st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set(name, "x")})
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("SetMetadata(%q)", name))
	}
	for _, name := range []string{"/shared/a*", "/private/", "/Shared"} {
		_, err := st.GetMetadata(ctx, in.ID, a.ID, []string{name}, 0)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("GetMetadata(%q)", name))
	}
	// Roots and vendor prefixes can be asked for, not set.
	for _, name := range []string{"/private", "/shared", "/shared/vendor", "/private/vendor/example"} {
		must(st.GetMetadata(ctx, in.ID, a.ID, []string{name}, store.MetadataDepthInfinity))
	}
	must(0, st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set("/shared/vendor/example/x", "ok"), set("/shared/a b", "space")}))
}

func testMetadataLimits(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "limits@example.test")
	b := newAccount(t, st, "other@example.test")
	in := must(st.Mailbox(ctx, a.ID, "INBOX"))

	// One value too large.
	err := st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set("/private/ok", "x"), set("/private/big", strings.Repeat("x", store.MaxMetadataValue+1))})
	var limit *store.MetadataLimitError
	if !errors.As(err, &limit) || limit.TooMany || limit.MaxSize != store.MaxMetadataValue || limit.Name != "/private/big" {
		t.Fatalf("too large a value: %v", err)
	}
	must(0, st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set("/private/big", strings.Repeat("x", store.MaxMetadataValue))}))

	// Entries up to the count, then one too many; a failed command
	// changes nothing, not even the entries before the one that failed.
	var fill []store.MetadataEntry
	for i := 1; i < store.MaxMetadataEntries; i++ {
		fill = append(fill, set(fmt.Sprintf("/shared/e%03d", i), "v"))
	}
	must(0, st.SetMetadata(ctx, in.ID, a.ID, fill))
	must(0, st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set("/shared/last", "v")}))
	err = st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set("/shared/e001", "changed"), set("/shared/one-more", "v")})
	if !errors.As(err, &limit) || !limit.TooMany || limit.Name != "/shared/e001" {
		t.Fatalf("one entry too many: %v", err)
	}
	got, err := st.GetMetadata(ctx, in.ID, a.ID, []string{"/shared/e001", "/shared/one-more"}, 0)
	wantEntries(t, got, err, `/shared/e001="v";`)
	// Replacing a value and deleting one to make room still work; the
	// shared entries' count is the mailbox's, not each user's.
	must(0, st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set("/shared/e001", "changed")}))
	err = st.SetMetadata(ctx, in.ID, b.ID, []store.MetadataEntry{set("/shared/from-b", "v")})
	if !errors.As(err, &limit) || !limit.TooMany {
		t.Fatalf("another user's shared entry past the count: %v", err)
	}
	must(0, st.SetMetadata(ctx, in.ID, b.ID, []store.MetadataEntry{unset("/shared/e002"), set("/shared/from-b", "v")}))
	// Private entries have a count per user.
	must(0, st.SetMetadata(ctx, in.ID, b.ID, []store.MetadataEntry{set("/private/mine", "v")}))

	// The total size: values of MaxMetadataValue each, until the next
	// would pass MaxMetadataTotal; the error says how much would fit.
	srv := func(i int) string { return fmt.Sprintf("/private/s%02d", i) }
	value := strings.Repeat("y", store.MaxMetadataValue)
	n := 0
	used := int64(0)
	for used+int64(len(srv(n))+len(value)) <= store.MaxMetadataTotal {
		must(0, st.SetMetadata(ctx, 0, a.ID, []store.MetadataEntry{set(srv(n), value)}))
		used += int64(len(srv(n)) + len(value))
		n++
	}
	err = st.SetMetadata(ctx, 0, a.ID, []store.MetadataEntry{set(srv(n), value)})
	room := store.MaxMetadataTotal - used - int64(len(srv(n)))
	if !errors.As(err, &limit) || limit.TooMany || limit.MaxSize != room {
		t.Fatalf("past the total size: %v (want room %d)", err, room)
	}
	must(0, st.SetMetadata(ctx, 0, a.ID, []store.MetadataEntry{set(srv(n), value[:room])}))
	// The other user's private server entries are theirs to fill.
	must(0, st.SetMetadata(ctx, 0, b.ID, []store.MetadataEntry{set(srv(0), value)}))
}

// testMetadataConcurrentLimit sets entries from many goroutines at once:
// the count is checked in each change's transaction, so the limit holds.
func testMetadataConcurrentLimit(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "race@example.test")
	in := must(st.Mailbox(ctx, a.ID, "INBOX"))
	var wg sync.WaitGroup
	errs := make(chan error, store.MaxMetadataEntries+20)
	for i := 0; i < store.MaxMetadataEntries+20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- st.SetMetadata(ctx, in.ID, a.ID, []store.MetadataEntry{set(fmt.Sprintf("/shared/c%03d", i), "v")})
		}(i)
	}
	wg.Wait()
	close(errs)
	ok, tooMany := 0, 0
	for err := range errs {
		var limit *store.MetadataLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &limit) && limit.TooMany:
			tooMany++
		default:
			t.Fatalf("SetMetadata: %v", err)
		}
	}
	got := must(st.GetMetadata(ctx, in.ID, a.ID, []string{"/shared"}, store.MetadataDepthInfinity))
	if ok != store.MaxMetadataEntries || tooMany != 20 || len(got) != store.MaxMetadataEntries {
		t.Fatalf("%d set, %d refused, %d stored; want %d, 20, %d", ok, tooMany, len(got), store.MaxMetadataEntries, store.MaxMetadataEntries)
	}
}

func testMetadataLifecycle(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	kim := newAccount(t, st, "kim@example.test")
	box := must(st.CreateMailbox(ctx, owner.ID, "Projects", ""))
	must(st.CreateMailbox(ctx, owner.ID, "Projects/Child", ""))
	all := []string{"/shared", "/private"}
	must(0, st.SetMetadata(ctx, box.ID, owner.ID, []store.MetadataEntry{set("/shared/comment", "projects"), set("/private/comment", "mine")}))
	must(0, st.SetMetadata(ctx, box.ID, kim.ID, []store.MetadataEntry{set("/private/comment", "kim's")}))

	// RENAME keeps them (the mailbox keeps its id), children's too.
	must(0, st.RenameMailbox(ctx, owner.ID, "Projects", "Work"))
	got, err := st.GetMetadata(ctx, must(st.Mailbox(ctx, owner.ID, "Work")).ID, owner.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/private/comment="mine";/shared/comment="projects";`)

	// Renaming INBOX copies them: INBOX keeps its own, the new mailbox
	// starts with the same (RFC 5464 4.1).
	inbox := must(st.Mailbox(ctx, owner.ID, "INBOX"))
	must(0, st.SetMetadata(ctx, inbox.ID, owner.ID, []store.MetadataEntry{set("/shared/comment", "inbox")}))
	must(0, st.RenameMailbox(ctx, owner.ID, "INBOX", "Old"))
	got, err = st.GetMetadata(ctx, must(st.Mailbox(ctx, owner.ID, "Old")).ID, owner.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/shared/comment="inbox";`)
	got, err = st.GetMetadata(ctx, inbox.ID, owner.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/shared/comment="inbox";`)

	// DELETE drops them: a new mailbox of the same name starts bare.
	must(0, st.DeleteMailbox(ctx, owner.ID, "Work/Child"))
	must(0, st.DeleteMailbox(ctx, owner.ID, "Work"))
	again := must(st.CreateMailbox(ctx, owner.ID, "Work", ""))
	got, err = st.GetMetadata(ctx, again.ID, owner.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, "")
	got, err = st.GetMetadata(ctx, again.ID, kim.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, "")

	// Deleting an account drops its private entries, on others'
	// mailboxes and the server, not the shared ones it set.
	must(0, st.SetMetadata(ctx, again.ID, kim.ID, []store.MetadataEntry{set("/private/comment", "kim's"), set("/shared/comment", "by kim")}))
	must(0, st.SetMetadata(ctx, 0, kim.ID, []store.MetadataEntry{set("/private/setting", "on"), set("/shared/comment", "motd")}))
	must(0, st.DeleteAccount(ctx, "kim@example.test"))
	got, err = st.GetMetadata(ctx, again.ID, kim.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/shared/comment="by kim";`)
	got, err = st.GetMetadata(ctx, 0, kim.ID, all, store.MetadataDepthInfinity)
	wantEntries(t, got, err, `/shared/comment="motd";`)
	if !bytes.Equal(must(st.GetMetadata(ctx, 0, owner.ID, []string{"/shared/comment"}, 0))[0].Value, []byte("motd")) {
		t.Fatal("the server's shared comment went with the account that set it")
	}
}
