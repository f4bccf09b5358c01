// Package storetest is the conformance suite every store backend must pass.
// A backend's tests call Run with a function that opens a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// Opener returns a new empty store; the suite closes it.
type Opener func(t *testing.T) store.Store

// directoryTests need only a store.Directory.
var directoryTests = []struct {
	name string
	fn   func(t *testing.T, st store.Directory)
}{
	{"Domains", testDomains},
	{"Accounts", testAccounts},
	{"Settings", testSettings},
	{"AccountFeatureSettings", testAccountFeatureSettings},
	{"Aliases", testAliases},
}

// Run runs every conformance test: the directory, mailboxes, account
// data, messages, the change feed and the queue.
func Run(t *testing.T, open Opener) {
	type test struct {
		name string
		fn   func(t *testing.T, st store.Store)
	}
	var tests []test
	for _, tc := range directoryTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range mailboxTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range accountDataTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range messageTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range threadTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	tests = append(tests, []test{
		{"Feed", testFeed},
		{"Ping", testPing},
		{"Verify", testVerify},
		{"TextIndex", testTextIndex},
		{"TextIndexQuerySyntax", testTextIndexQuerySyntax},
		{"TextIndexExact", testTextIndexExact},
		{"TextIndexPrefix", testTextIndexPrefix},
		{"TextReindex", testTextReindex},
		{"TextShortNeedles", testTextShortNeedles},
	}...)
	for _, tc := range queueTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range aclTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range delegationTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range metadataTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range sharedTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range quotaTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range seenTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range sieveTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range fetchTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range accountChangesTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range uploadTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range submissionTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range accessTokenTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range contactTests {
		tests = append(tests, test{tc.name, func(t *testing.T, st store.Store) { tc.fn(t, st) }})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer st.Close()
			defer recoverFailure(t)
			tc.fn(t, st)
		})
	}
}

// recoverFailure turns must's panic into the subtest's failure.
func recoverFailure(t *testing.T) {
	if r := recover(); r != nil {
		f, isFailure := r.(failure)
		if !isFailure {
			panic(r)
		}
		t.Fatalf("unexpected error: %v", f.err)
	}
}

// testCred is a cheap credential for tests that do not log in.
var testCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", SCRAMSHA256: ""}

// failure carries an unexpected error from must to the subtest's recover.
type failure struct{ err error }

// must returns v, or stops the current subtest if err is not nil. (Go cannot
// pass a (T, error) result alongside t, hence the panic that Run recovers.)
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{err})
	}
	return v
}

// ok stops the current subtest if err is not nil.
func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// newAccount creates example.test (if needed) and an account in it.
func newAccount(t *testing.T, st store.Directory, email string) store.Account {
	t.Helper()
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	return must(st.CreateAccount(ctx, email, testCred))
}

func mailbox(t *testing.T, st store.Mailboxes, acct store.Account, name string) store.Mailbox {
	t.Helper()
	return must(st.Mailbox(context.Background(), acct.ID, name))
}

// Message builds a small RFC 5322 message with a recognisable body.
func Message(subject, body string) []byte {
	return []byte("From: Alice <alice@example.org>\r\nTo: demo@example.test\r\nSubject: " + subject +
		"\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + subject + "@example.org>\r\n\r\n" + body + "\r\n")
}

func deliver(t *testing.T, st MessageStore, raw []byte, targets ...store.Target) []store.Delivered {
	t.Helper()
	ctx := context.Background()
	m := must(st.Stage(ctx, bytes.NewReader(raw)))
	return must(st.Deliver(ctx, m, targets))
}

func readBody(t *testing.T, st MessageStore, mailboxID int64, uid uint32) []byte {
	t.Helper()
	b := must(st.OpenBody(context.Background(), mailboxID, uid))
	defer b.Close()
	data := make([]byte, b.Size())
	if _, err := b.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return data
}

func testDomains(t *testing.T, st store.Directory) {
	ctx := context.Background()
	d := must(st.CreateDomain(ctx, "Example.TEST"))
	if d.Name != "example.test" {
		t.Fatalf("domain name %q, want lower case", d.Name)
	}
	_, err := st.CreateDomain(ctx, "example.test")
	wantErr(t, err, store.ErrExists, "duplicate domain")
	_, err = st.CreateDomain(ctx, "not a domain")
	wantErr(t, err, store.ErrInvalid, "bad domain")
	must(st.CreateAccount(ctx, "a@example.test", testCred))
	wantErr(t, st.DeleteDomain(ctx, "example.test"), store.ErrNotEmpty, "delete domain with accounts")
	wantErr(t, st.DeleteDomain(ctx, "nope.test"), store.ErrUnknownDomain, "delete unknown domain")
	ok(t, st.DeleteAccount(ctx, "a@example.test"))
	ok(t, st.DeleteDomain(ctx, "example.test"))
	if ds := must(st.Domains(ctx)); len(ds) != 0 {
		t.Fatalf("domains left: %v", ds)
	}
}

func testAccounts(t *testing.T, st store.Directory) {
	ctx := context.Background()
	_, err := st.CreateAccount(ctx, "a@nowhere.test", testCred)
	wantErr(t, err, store.ErrUnknownDomain, "account in unknown domain")
	acct := newAccount(t, st, "Demo@Example.test")
	if acct.Email != "demo@example.test" {
		t.Fatalf("email %q not normalised", acct.Email)
	}
	_, err = st.CreateAccount(ctx, "DEMO@example.test", testCred)
	wantErr(t, err, store.ErrExists, "duplicate account")
	_, err = st.CreateAccount(ctx, "bad address@example.test", testCred)
	wantErr(t, err, store.ErrInvalid, "bad address")

	p, hashes, err := st.LookupCredentials(ctx, "DEMO@example.test")
	if err != nil || p.AccountID != acct.ID || len(hashes) != 1 || hashes[0] != testCred.Argon2id {
		t.Fatalf("LookupCredentials = %+v %v %v", p, hashes, err)
	}
	_, _, err = st.LookupCredentials(ctx, "ghost@example.test")
	wantErr(t, err, auth.ErrUnknownAccount, "lookup unknown account")

	newCred := auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaA", SCRAMSHA256: "SCRAM-SHA-256$4096:x$y:z"}
	ok(t, st.SetCredentials(ctx, acct.ID, newCred))
	if c := must(st.Credentials(ctx, acct.ID)); c != newCred {
		t.Fatalf("credentials %+v, want %+v", c, newCred)
	}
	accts := must(st.Accounts(ctx))
	if len(accts) != 1 || accts[0].Email != "demo@example.test" {
		t.Fatalf("accounts %+v", accts)
	}
	wantErr(t, st.DeleteAccount(ctx, "ghost@example.test"), store.ErrNotFound, "delete unknown account")
}

// testDefaultMailboxes: a new account has the default mailboxes, subscribed.
func testDefaultMailboxes(t *testing.T, st MailboxStore) {
	acct := newAccount(t, st, "demo@example.test")
	boxes := must(st.MailboxList(context.Background(), acct.ID))
	got := map[string]store.SpecialUse{}
	for _, b := range boxes {
		got[b.Name] = b.SpecialUse
		if !b.Subscribed {
			t.Errorf("default mailbox %s not subscribed", b.Name)
		}
	}
	for _, d := range store.DefaultMailboxes {
		if u, ok := got[d.Name]; !ok || u != d.Use {
			t.Errorf("default mailbox %s: present=%v use=%q, want %q", d.Name, ok, u, d.Use)
		}
	}
}

func testSettings(t *testing.T, st store.Directory) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	s := must(st.Settings(ctx, acct.ID))
	for _, k := range []string{"pop3.enabled", "imap.enabled", "submission.enabled"} {
		if !s.Bool(k) {
			t.Errorf("%s defaults to %q, want true", k, s[k])
		}
	}
	ok(t, st.SetSettings(ctx, acct.ID, map[string]string{"pop3.enabled": "off", "admin": "yes"}))
	s = must(st.Settings(ctx, acct.ID))
	if s.Bool("pop3.enabled") || !s.Bool("admin") || !s.Bool("imap.enabled") {
		t.Fatalf("settings after set: %v", s)
	}
	wantErr(t, st.SetSettings(ctx, acct.ID, map[string]string{"pop3.enabled": "maybe"}), store.ErrInvalid, "bad bool")
	wantErr(t, st.SetSettings(ctx, acct.ID, map[string]string{"no.such": "1"}), store.ErrInvalid, "unknown key")
	wantErr(t, st.SetSettings(ctx, 999999, map[string]string{"admin": "true"}), store.ErrNotFound, "unknown account")

	other := newAccount(t, st, "other@example.test")
	admins := must(st.AccountsWithSetting(ctx, "admin", "true"))
	if len(admins) != 1 || admins[0].ID != acct.ID {
		t.Fatalf("admins %+v", admins)
	}
	// Defaults count: other never set imap.enabled.
	if on := must(st.AccountsWithSetting(ctx, "imap.enabled", "yes")); len(on) != 2 || on[1].ID != other.ID {
		t.Fatalf("imap.enabled=true accounts %+v", on)
	}
}

func testAliases(t *testing.T, st store.Directory) {
	ctx := context.Background()
	newAccount(t, st, "a@example.test")
	newAccount(t, st, "b@example.test")
	ok(t, st.AddAlias(ctx, "team@example.test", []string{"a@example.test", "B@example.test", "x@external.org"}))
	ok(t, st.AddAlias(ctx, "team@example.test", []string{"a@example.test"})) // idempotent
	wantErr(t, st.AddAlias(ctx, "x@example.test", []string{"ghost@example.test"}), store.ErrNotFound, "alias to unknown local account")
	wantErr(t, st.AddAlias(ctx, "x@unknown.test", []string{"a@example.test"}), store.ErrUnknownDomain, "alias in unknown domain")
	wantErr(t, st.AddAlias(ctx, "a@example.test", []string{"b@example.test"}), store.ErrExists, "alias shadowing an account")
	_, err := st.CreateAccount(ctx, "team@example.test", testCred)
	wantErr(t, err, store.ErrExists, "account shadowing an alias")
	wantErr(t, st.DeleteAccount(ctx, "b@example.test"), store.ErrNotEmpty, "delete account used by an alias")

	as := must(st.Aliases(ctx))
	want := []store.Alias{{Address: "team@example.test", Targets: []string{"a@example.test", "b@example.test", "x@external.org"}}}
	if fmt.Sprint(as) != fmt.Sprint(want) {
		t.Fatalf("aliases %v, want %v", as, want)
	}
	info := must(st.LookupAddress(ctx, "TEAM@example.test"))
	if !info.LocalDomain || info.Account != nil || len(info.AliasTargets) != 3 {
		t.Fatalf("lookup alias: %+v", info)
	}
	info = must(st.LookupAddress(ctx, "a@example.test"))
	if info.Account == nil || info.Account.Email != "a@example.test" || info.AliasTargets != nil {
		t.Fatalf("lookup account: %+v", info)
	}
	if info = must(st.LookupAddress(ctx, "nobody@example.test")); !info.LocalDomain || info.Account != nil || info.AliasTargets != nil {
		t.Fatalf("lookup unknown local: %+v", info)
	}
	if info = must(st.LookupAddress(ctx, "a@elsewhere.org")); info.LocalDomain {
		t.Fatalf("lookup remote: %+v", info)
	}
	// A catch-all is the alias "@domain".
	ok(t, st.AddAlias(ctx, "@example.test", []string{"a@example.test"}))
	if info = must(st.LookupAddress(ctx, "@Example.test")); !slices.Equal(info.AliasTargets, []string{"a@example.test"}) {
		t.Fatalf("lookup catch-all: %+v", info)
	}
	ok(t, st.DeleteAlias(ctx, "@example.test"))

	ok(t, st.DeleteAlias(ctx, "team@example.test"))
	wantErr(t, st.DeleteAlias(ctx, "team@example.test"), store.ErrNotFound, "delete missing alias")
}

func testMailboxHierarchy(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	c := must(st.CreateMailbox(ctx, acct.ID, "Work/Projects/2026", ""))
	for _, parent := range []string{"Work", "Work/Projects"} {
		mailbox(t, st, acct, parent)
	}
	_, err := st.CreateMailbox(ctx, acct.ID, "Work", "")
	wantErr(t, err, store.ErrExists, "create existing")
	for _, bad := range []string{"", "a//b", "/a", "a/", "a*b", "100%", "tab\tname"} {
		_, err := st.CreateMailbox(ctx, acct.ID, bad, "")
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("create %q", bad))
	}
	deliver(t, st, Message("m1", "hello"), store.Target{MailboxID: c.ID})

	ok(t, st.RenameMailbox(ctx, acct.ID, "Work", "Archive/Old Work"))
	moved := mailbox(t, st, acct, "Archive/Old Work/Projects/2026")
	if moved.ID != c.ID || moved.UIDValidity != c.UIDValidity {
		t.Fatalf("renamed child %+v lost its identity (was %+v)", moved, c)
	}
	if ml := must(st.MessageList(ctx, moved.ID)); len(ml) != 1 {
		t.Fatalf("renamed mailbox has %d messages, want 1", len(ml))
	}
	_, err = st.Mailbox(ctx, acct.ID, "Work")
	wantErr(t, err, store.ErrNotFound, "old name after rename")
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Archive", "Archive/x"), store.ErrInvalid, "rename into itself")
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Sent", "Drafts"), store.ErrExists, "rename onto existing")
	wantErr(t, st.RenameMailbox(ctx, acct.ID, "Sent", "inbox"), store.ErrProtected, "rename to INBOX")

	wantErr(t, st.DeleteMailbox(ctx, acct.ID, "Archive/Old Work"), store.ErrHasChildren, "delete with children")
	wantErr(t, st.DeleteMailbox(ctx, acct.ID, "INBOX"), store.ErrProtected, "delete INBOX")
	ok(t, st.DeleteMailbox(ctx, acct.ID, "Archive/Old Work/Projects/2026"))
	again := must(st.CreateMailbox(ctx, acct.ID, "Archive/Old Work/Projects/2026", ""))
	if again.UIDValidity == c.UIDValidity || again.ID == c.ID {
		t.Fatalf("recreated mailbox reuses UIDVALIDITY %d / id %d", again.UIDValidity, again.ID)
	}
	if inbox := mailbox(t, st, acct, "iNbOx"); inbox.Name != "INBOX" {
		t.Fatalf("inbox name %q", inbox.Name)
	}
}

func testRenameInbox(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	d := deliver(t, st, Message("old", "x"), store.Target{MailboxID: inbox.ID})
	ok(t, st.RenameMailbox(ctx, acct.ID, "INBOX", "Old Inbox"))
	if ml := must(st.MessageList(ctx, inbox.ID)); len(ml) != 0 {
		t.Fatalf("INBOX keeps %d messages after rename", len(ml))
	}
	old := mailbox(t, st, acct, "Old Inbox")
	ml := must(st.MessageList(ctx, old.ID))
	if len(ml) != 1 || ml[0].ID != d[0].ID {
		t.Fatalf("Old Inbox has %+v, want the message with ID %d", ml, d[0].ID)
	}
}

func testSubscriptions(t *testing.T, st MailboxStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	must(st.CreateMailbox(ctx, acct.ID, "Lists", ""))
	ok(t, st.SetSubscribed(ctx, acct.ID, "Lists", true))
	ok(t, st.SetSubscribed(ctx, acct.ID, "Does/Not/Exist", true))
	ok(t, st.SetSubscribed(ctx, acct.ID, "Junk", false))
	subs := must(st.Subscriptions(ctx, acct.ID))
	if !slices.Contains(subs, "Lists") || !slices.Contains(subs, "Does/Not/Exist") || slices.Contains(subs, "Junk") {
		t.Fatalf("subscriptions %v", subs)
	}
	ok(t, st.RenameMailbox(ctx, acct.ID, "Lists", "Mailing Lists"))
	if mb := mailbox(t, st, acct, "Mailing Lists"); !mb.Subscribed {
		t.Fatal("subscription did not follow the rename")
	}
}

func testDeliverAndRead(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	raw := []byte("From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n")
	prefix := []byte("Delivered-To: demo@example.test\r\n")
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := deliver(t, st, raw, store.Target{MailboxID: inbox.ID, Flags: store.FlagFlagged, Keywords: []string{"$Forwarded"}, HeaderPrefix: prefix, InternalDate: date})
	if d[0].UID != 1 || d[0].UIDValidity != inbox.UIDValidity || d[0].ModSeq <= inbox.HighestModSeq {
		t.Fatalf("delivered %+v into %+v", d[0], inbox)
	}
	got := readBody(t, st, inbox.ID, d[0].UID)
	if want := append(append([]byte{}, prefix...), raw...); !bytes.Equal(got, want) {
		t.Fatalf("body\n%q\nwant\n%q", got, want)
	}
	ml := must(st.MessageList(ctx, inbox.ID))
	if len(ml) != 1 {
		t.Fatalf("%d messages", len(ml))
	}
	m := ml[0]
	if m.Flags != store.FlagFlagged || !slices.Equal(m.Keywords, []string{"$Forwarded"}) || m.Size != int64(len(got)) || m.InternalDate != date.Unix() {
		t.Fatalf("meta %+v", m)
	}
	s := must(st.Structure(ctx, inbox.ID, d[0].UID))
	if s.Size != int64(len(got)) || s.Root == nil || len(s.Root.Parts) != 2 {
		t.Fatalf("structure %+v", s)
	}
	if p := got[s.Root.Parts[1].BodyStart:s.Root.Parts[1].End]; string(p) != "second" {
		t.Fatalf("part 2 body via shifted offsets = %q", p)
	}
	if hdr := got[s.Root.HeaderStart:s.Root.BodyStart]; !bytes.HasPrefix(hdr, prefix) {
		t.Fatalf("top header %q does not start with the prefix", hdr)
	}
	if s.Root.Envelope == nil || s.Root.Envelope.Subject != "parts" {
		t.Fatalf("envelope %+v", s.Root.Envelope)
	}
	st2 := must(st.MailboxStatus(ctx, inbox.ID))
	if st2.Messages != 1 || st2.Unseen != 1 || st2.Size != int64(len(got)) || st2.UIDNext != 2 {
		t.Fatalf("status %+v", st2)
	}
	_, err := st.OpenBody(ctx, inbox.ID, 99)
	wantErr(t, err, store.ErrNotFound, "open missing message")
}

func testDeliverAtomic(t *testing.T, st MessageStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	b := newAccount(t, st, "b@example.test")
	ia, ib := mailbox(t, st, a, "INBOX"), mailbox(t, st, b, "INBOX")
	m := must(st.Stage(ctx, bytes.NewReader(Message("multi", "x"))))
	_, err := st.Deliver(ctx, m, []store.Target{{MailboxID: ia.ID}, {MailboxID: 987654}, {MailboxID: ib.ID}})
	if err == nil {
		t.Fatal("delivery with a missing mailbox succeeded")
	}
	for _, mb := range []store.Mailbox{ia, ib} {
		if ml := must(st.MessageList(ctx, mb.ID)); len(ml) != 0 {
			t.Fatalf("failed delivery left %d messages in %d", len(ml), mb.ID)
		}
	}
	// The staged message is still usable after a failed delivery.
	d := must(st.Deliver(ctx, m, []store.Target{{MailboxID: ia.ID}, {MailboxID: ib.ID}}))
	if len(d) != 2 {
		t.Fatalf("delivered %v", d)
	}
	if !bytes.Equal(readBody(t, st, ib.ID, d[1].UID), Message("multi", "x")) {
		t.Fatal("second recipient's copy differs")
	}
	ok(t, m.Discard()) // no-op after delivery
	if !bytes.Equal(readBody(t, st, ia.ID, d[0].UID), Message("multi", "x")) {
		t.Fatal("Discard after Deliver removed the body")
	}
}

// testDeliverAll: several messages in one transaction (IMAP MULTIAPPEND,
// RFC 3502), all or none, results in order.
func testDeliverAll(t *testing.T, st MessageStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	inbox, sent := mailbox(t, st, a, "INBOX"), mailbox(t, st, a, "Sent")
	one := must(st.Stage(ctx, bytes.NewReader(Message("one", "1"))))
	two := must(st.Stage(ctx, bytes.NewReader(Message("two", "2"))))
	_, err := st.DeliverAll(ctx, []store.Delivery{
		{Msg: one, Targets: []store.Target{{MailboxID: inbox.ID}}},
		{Msg: two, Targets: []store.Target{{MailboxID: 987654}}},
	})
	if err == nil {
		t.Fatal("DeliverAll with a missing mailbox succeeded")
	}
	if ml := must(st.MessageList(ctx, inbox.ID)); len(ml) != 0 {
		t.Fatalf("a failed DeliverAll left %d messages: the first delivery must go too", len(ml))
	}
	d := must(st.DeliverAll(ctx, []store.Delivery{
		{Msg: one, Targets: []store.Target{{MailboxID: inbox.ID}, {MailboxID: sent.ID}}},
		{Msg: two, Targets: []store.Target{{MailboxID: inbox.ID}}},
	}))
	if len(d) != 3 || d[0].MailboxID != inbox.ID || d[1].MailboxID != sent.ID || d[2].MailboxID != inbox.ID || d[2].UID != d[0].UID+1 {
		t.Fatalf("delivered %+v", d)
	}
	for i, want := range [][]byte{Message("one", "1"), Message("one", "1"), Message("two", "2")} {
		if got := readBody(t, st, d[i].MailboxID, d[i].UID); !bytes.Equal(got, want) {
			t.Fatalf("delivery %d reads %q", i, got)
		}
	}
	ml := must(st.MessageList(ctx, inbox.ID))
	if len(ml) != 2 || ml[0].ContentID == ml[1].ContentID {
		t.Fatalf("inbox %+v", ml)
	}
	// Expunging one copy keeps the content of the other.
	must(st.Expunge(ctx, inbox.ID, []uint32{d[0].UID}))
	if got := readBody(t, st, sent.ID, d[1].UID); !bytes.Equal(got, Message("one", "1")) {
		t.Fatalf("the Sent copy after expunging the INBOX one reads %q", got)
	}
}

func testConcurrentAppends(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	const writers, each = 16, 25
	var mu sync.Mutex
	var got []store.Delivered
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m, err := st.Stage(ctx, bytes.NewReader(Message(fmt.Sprintf("w%d-%d", w, i), strings.Repeat("x", 100))))
				if err != nil {
					errs <- err
					return
				}
				d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got = append(got, d[0])
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// In commit order (UID order), modseqs must increase strictly too.
	slices.SortFunc(got, func(a, b store.Delivered) int { return int(a.UID) - int(b.UID) })
	for i, d := range got {
		if d.UID != uint32(i+1) {
			t.Fatalf("UIDs not dense and unique: position %d has UID %d", i, d.UID)
		}
		if i > 0 && d.ModSeq <= got[i-1].ModSeq {
			t.Fatalf("modseq not increasing: UID %d has %d after %d", d.UID, d.ModSeq, got[i-1].ModSeq)
		}
	}
	ml := must(st.MessageList(ctx, inbox.ID))
	if len(ml) != writers*each {
		t.Fatalf("%d messages listed, want %d", len(ml), writers*each)
	}
	ids := map[int64]bool{}
	for _, m := range ml {
		if ids[m.ID] {
			t.Fatalf("message ID %d reused", m.ID)
		}
		ids[m.ID] = true
	}
	mb := mailbox(t, st, acct, "INBOX")
	if mb.UIDNext != uint32(writers*each+1) || mb.HighestModSeq != got[len(got)-1].ModSeq {
		t.Fatalf("mailbox %+v after %d appends", mb, len(got))
	}
}

func testFlags(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	for i := 0; i < 3; i++ {
		deliver(t, st, Message(fmt.Sprint(i), "x"), store.Target{MailboxID: inbox.ID})
	}
	r := must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1, 2, 99}, Op: store.FlagsAdd, Flags: store.FlagSeen | store.FlagAnswered, Keywords: []string{"Work", "$Label1"}}))
	if len(r.Updated) != 2 || r.Updated[0].ModSeq != r.Updated[1].ModSeq {
		t.Fatalf("update %+v", r)
	}
	ms := r.Updated[0].ModSeq
	r = must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1}, Op: store.FlagsAdd, Flags: store.FlagSeen}))
	if len(r.Updated) != 0 {
		t.Fatalf("no-op STORE changed %+v", r.Updated)
	}
	r = must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1}, Op: store.FlagsRemove, Flags: store.FlagAnswered, Keywords: []string{"work"}}))
	if len(r.Updated) != 1 || r.Updated[0].Flags != store.FlagSeen || !slices.Equal(r.Updated[0].Keywords, []string{"$Label1"}) || r.Updated[0].ModSeq <= ms {
		t.Fatalf("remove %+v", r)
	}
	// UNCHANGEDSINCE: message 1 changed after ms, message 2 did not.
	r = must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1, 2}, Op: store.FlagsReplace, Flags: store.FlagDeleted, UnchangedSince: ms}))
	if !slices.Equal(r.Modified, []uint32{1}) || len(r.Updated) != 1 || r.Updated[0].UID != 2 {
		t.Fatalf("unchangedsince %+v", r)
	}
	ml := must(st.MessageList(ctx, inbox.ID))
	want := []store.Flags{store.FlagSeen, store.FlagDeleted, 0}
	for i, m := range ml {
		if m.Flags != want[i] {
			t.Fatalf("message %d flags %v, want %v", m.UID, m.Flags, want[i])
		}
	}
	if ml[1].Keywords != nil || !slices.Equal(ml[0].Keywords, []string{"$Label1"}) {
		t.Fatalf("keywords %v %v", ml[0].Keywords, ml[1].Keywords)
	}
	_, err := st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1}, Op: store.FlagsAdd, Keywords: []string{"bad(kw"}})
	wantErr(t, err, store.ErrInvalid, "bad keyword")
}

func testExpungeHistory(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	for i := 0; i < 5; i++ {
		deliver(t, st, Message(fmt.Sprint(i), "x"), store.Target{MailboxID: inbox.ID})
	}
	base := mailbox(t, st, acct, "INBOX").HighestModSeq
	gone := must(st.Expunge(ctx, inbox.ID, []uint32{2, 4, 42}))
	if !slices.Equal(gone, []uint32{2, 4}) {
		t.Fatalf("expunged %v", gone)
	}
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{5}, Op: store.FlagsAdd, Flags: store.FlagSeen}))
	ch := must(st.ChangesSince(ctx, inbox.ID, base))
	if !slices.Equal(ch.Vanished, []uint32{2, 4}) || len(ch.Changed) != 1 || ch.Changed[0].UID != 5 || ch.ModSeq != base+2 {
		t.Fatalf("changes since %d: %+v", base, ch)
	}
	after := must(st.ChangesSince(ctx, inbox.ID, ch.ModSeq))
	if len(after.Changed) != 0 || len(after.Vanished) != 0 {
		t.Fatalf("changes since the latest modseq: %+v", after)
	}
	// UIDs are never reused after an expunge.
	d := deliver(t, st, Message("new", "x"), store.Target{MailboxID: inbox.ID})
	if d[0].UID != 6 {
		t.Fatalf("UID after expunge %d, want 6", d[0].UID)
	}
}

func testCopyMove(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox, archive := mailbox(t, st, acct, "INBOX"), mailbox(t, st, acct, "Archive")
	d1 := deliver(t, st, Message("one", "body one"), store.Target{MailboxID: inbox.ID, Flags: store.FlagSeen})
	d2 := deliver(t, st, Message("two", "body two"), store.Target{MailboxID: inbox.ID})

	c := must(st.Copy(ctx, inbox.ID, []uint32{1}, archive.ID, store.KeepAll))
	if c.UIDValidity != archive.UIDValidity || !slices.Equal(c.SourceUIDs, []uint32{1}) || len(c.DestUIDs) != 1 {
		t.Fatalf("copy %+v", c)
	}
	am := must(st.MessageList(ctx, archive.ID))
	if am[0].ID == d1[0].ID || am[0].Flags != store.FlagSeen {
		t.Fatalf("copy meta %+v: want a new ID and the same flags", am[0])
	}
	mv := must(st.Move(ctx, inbox.ID, []uint32{2}, archive.ID, store.KeepAll))
	am = must(st.MessageList(ctx, archive.ID))
	if len(am) != 2 || am[1].UID != mv.DestUIDs[0] || am[1].ID != d2[0].ID {
		t.Fatalf("moved message %+v: want ID %d kept", am, d2[0].ID)
	}
	if ml := must(st.MessageList(ctx, inbox.ID)); len(ml) != 1 || ml[0].UID != 1 {
		t.Fatalf("inbox after move %+v", ml)
	}
	// Expunging the original keeps the copy's body.
	must(st.Expunge(ctx, inbox.ID, []uint32{1}))
	if !bytes.Equal(readBody(t, st, archive.ID, c.DestUIDs[0]), Message("one", "body one")) {
		t.Fatal("copy lost its body when the original was expunged")
	}
	if !bytes.Equal(readBody(t, st, archive.ID, mv.DestUIDs[0]), Message("two", "body two")) {
		t.Fatal("moved message body differs")
	}
}

func testFeed(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	sub := st.Subscribe(acct.ID)
	defer sub.Close()
	d := deliver(t, st, Message("feed", "x"), store.Target{MailboxID: inbox.ID})
	must(st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: store.FlagSeen}))
	must(st.Expunge(ctx, inbox.ID, []uint32{d[0].UID}))
	must(st.CreateMailbox(ctx, acct.ID, "Feeds", ""))

	want := []store.EventKind{store.EventMessageAdded, store.EventFlagsChanged, store.EventExpunged, store.EventMailboxCreated}
	var got []store.Event
	deadline := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case <-sub.Ready():
			ev, over, _ := sub.Next()
			if over {
				t.Fatal("overflow")
			}
			got = append(got, ev...)
		case <-deadline:
			t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
		}
	}
	for i, k := range want {
		if got[i].Kind != k {
			t.Fatalf("event %d kind %d, want %d (%+v)", i, got[i].Kind, k, got)
		}
	}
	if got[0].Message.ThreadID != d[0].ID || got[1].Message.ThreadID != d[0].ID {
		t.Fatalf("events without the thread id %d: %+v", d[0].ID, got)
	}
	if got[0].Message.UID != d[0].UID || got[1].Message.Flags != store.FlagSeen || !slices.Equal(got[2].UIDs, []uint32{d[0].UID}) || got[3].Name != "Feeds" {
		t.Fatalf("event details %+v", got)
	}
	if got[1].ModSeq <= got[0].ModSeq || got[2].ModSeq <= got[1].ModSeq {
		t.Fatalf("event modseqs not increasing: %+v", got)
	}
}

func testDeleteAccount(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	deliver(t, st, Message("bye", "x"), store.Target{MailboxID: inbox.ID})
	ok(t, st.DeleteAccount(ctx, "demo@example.test"))
	_, err := st.Account(ctx, "demo@example.test")
	wantErr(t, err, store.ErrNotFound, "deleted account")
	_, err = st.OpenBody(ctx, inbox.ID, 1)
	wantErr(t, err, store.ErrNotFound, "message of deleted account")
	// The address can be used again, with fresh mailboxes.
	again := newAccount(t, st, "demo@example.test")
	if ml := must(st.MessageList(ctx, mailbox(t, st, again, "INBOX").ID)); len(ml) != 0 {
		t.Fatalf("recreated account sees %d old messages", len(ml))
	}
}

func testPOP3Marks(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "demo@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	d := deliver(t, st, Message("pop", "x"), store.Target{MailboxID: inbox.ID})
	if h := must(st.HiddenFromPOP3(ctx, acct.ID)); len(h) != 0 {
		t.Fatalf("hidden before any: %v", h)
	}
	ok(t, st.HideFromPOP3(ctx, acct.ID, []int64{d[0].ID}))
	ok(t, st.HideFromPOP3(ctx, acct.ID, []int64{d[0].ID})) // idempotent
	if h := must(st.HiddenFromPOP3(ctx, acct.ID)); !h[d[0].ID] || len(h) != 1 {
		t.Fatalf("hidden %v", h)
	}
	// Switching POP3 off and on records when it was switched on.
	before := time.Now().Unix()
	ok(t, st.SetSettings(ctx, acct.ID, map[string]string{"pop3.enabled": "false"}))
	if s := must(st.Settings(ctx, acct.ID)); s.Int("pop3.enabled_at") != 0 {
		t.Fatalf("enabled_at set when switching off: %v", s)
	}
	ok(t, st.SetSettings(ctx, acct.ID, map[string]string{"pop3.enabled": "true"}))
	if s := must(st.Settings(ctx, acct.ID)); s.Int("pop3.enabled_at") < before {
		t.Fatalf("enabled_at not recorded: %v", s)
	}
}

// testPing: an open store answers a ping; a cancelled context is an error,
// not a hang.
func testPing(t *testing.T, st store.Store) {
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping on an open store: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context: nil error")
	}
}
