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

// QuotaStore is what the quota conformance tests need: messages to count
// and the quotas.
type QuotaStore interface {
	MessageStore
	store.Quotas
	Subscribe(accountID int64) *store.Subscription
}

// quotaTests need a QuotaStore.
var quotaTests = []struct {
	name string
	fn   func(t *testing.T, st QuotaStore)
}{
	{"QuotaUsageExact", testQuotaUsageExact},
	{"QuotaLimitsInherit", testQuotaLimitsInherit},
	{"QuotaEnforced", testQuotaEnforced},
	{"QuotaExempt", testQuotaExempt},
	{"QuotaConcurrentEdge", testQuotaConcurrentEdge},
	{"QuotaWarnings", testQuotaWarnings},
	{"QuotaAcrossAccounts", testQuotaAcrossAccounts},
	{"QuotaLevelEvent", testQuotaLevelEvent},
}

// RunQuota runs the quota tests alone (Run runs them too): open returns a
// new, empty store.
func RunQuota(t *testing.T, open Opener) {
	for _, tc := range quotaTests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer st.Close()
			defer recoverFailure(t)
			tc.fn(t, st)
		})
	}
}

// countUsage counts an account's usage the slow way, from its messages.
func countUsage(t *testing.T, st QuotaStore, accountID int64) (storage, messages int64) {
	t.Helper()
	ctx := context.Background()
	for _, mb := range must(st.MailboxList(ctx, accountID)) {
		for _, m := range must(st.MessageList(ctx, mb.ID)) {
			storage += m.Size
			messages++
		}
	}
	return storage, messages
}

// wantUsage checks the kept usage against the messages, and against want
// (messages; -1: do not check).
func wantUsage(t *testing.T, st QuotaStore, acct store.Account, wantMessages int64, what string) store.QuotaUsage {
	t.Helper()
	u := must(st.QuotaUsage(context.Background(), acct.ID))
	storage, messages := countUsage(t, st, acct.ID)
	if u.Storage != storage || u.Messages != messages {
		t.Fatalf("%s: %s usage %d octets, %d messages; its messages add up to %d, %d", what, acct.Email, u.Storage, u.Messages, storage, messages)
	}
	if wantMessages >= 0 && u.Messages != wantMessages {
		t.Fatalf("%s: %s has %d messages, want %d", what, acct.Email, u.Messages, wantMessages)
	}
	return u
}

func setQuota(t *testing.T, st store.Quotas, scope store.QuotaScope, storage, messages store.QuotaLimit) {
	t.Helper()
	ok(t, st.SetQuotaLimits(context.Background(), scope, store.QuotaLimits{Storage: storage, Messages: messages}))
}

func stageMsg(t *testing.T, st MessageStore, raw []byte) store.Staged {
	t.Helper()
	return must(st.Stage(context.Background(), bytes.NewReader(raw)))
}

// Usage follows every change exactly: deliveries to several accounts with
// per-copy prefixes, DeliverAll, copies, moves, expunges, mailbox deletes,
// renaming INBOX and deleting another account.
func testQuotaUsageExact(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	b := newAccount(t, st, "b@example.test")
	u := wantUsage(t, st, a, 0, "new account")
	if u.Storage != 0 || u.Limits.Storage != store.Unlimited || u.Limits.Messages != store.Unlimited {
		t.Fatalf("new account: %+v, want empty and unlimited", u)
	}
	inboxA, archA, inboxB := mailbox(t, st, a, "INBOX"), mailbox(t, st, a, "Archive"), mailbox(t, st, b, "INBOX")
	raw := Message("one", strings.Repeat("body ", 100))
	deliver(t, st, raw,
		store.Target{MailboxID: inboxA.ID, HeaderPrefix: []byte("Delivered-To: a@example.test\r\n")},
		store.Target{MailboxID: archA.ID},
		store.Target{MailboxID: inboxB.ID, HeaderPrefix: []byte("Delivered-To: b@example.test\r\n")})
	u = wantUsage(t, st, a, 2, "after a delivery")
	if want := 2*int64(len(raw)) + int64(len("Delivered-To: a@example.test\r\n")); u.Storage != want {
		t.Fatalf("a's storage %d, want %d", u.Storage, want)
	}
	wantUsage(t, st, b, 1, "after a delivery")

	m1, m2 := stageMsg(t, st, Message("two", "x")), stageMsg(t, st, Message("three", "yy"))
	must(st.DeliverAll(ctx, []store.Delivery{{Msg: m1, Targets: []store.Target{{MailboxID: inboxA.ID}}}, {Msg: m2, Targets: []store.Target{{MailboxID: inboxB.ID}}}}))
	wantUsage(t, st, a, 3, "after DeliverAll")
	wantUsage(t, st, b, 2, "after DeliverAll")

	uids := []uint32{1, 2}
	must(st.Copy(ctx, inboxA.ID, uids, archA.ID, store.KeepAll))
	wantUsage(t, st, a, 5, "after a copy")
	must(st.Move(ctx, archA.ID, []uint32{1}, inboxA.ID, store.KeepAll))
	wantUsage(t, st, a, 5, "after a move")
	must(st.Expunge(ctx, inboxA.ID, []uint32{1, 99}))
	wantUsage(t, st, a, 4, "after an expunge")

	must(st.CreateMailbox(ctx, a.ID, "Projects", ""))
	projects := mailbox(t, st, a, "Projects")
	must(st.Copy(ctx, archA.ID, []uint32{2, 3}, projects.ID, store.KeepAll))
	wantUsage(t, st, a, 6, "after a copy to a new mailbox")
	ok(t, st.DeleteMailbox(ctx, a.ID, "Projects"))
	wantUsage(t, st, a, 4, "after deleting a mailbox")

	before := must(st.QuotaUsage(ctx, a.ID))
	ok(t, st.RenameMailbox(ctx, a.ID, "INBOX", "Old mail"))
	after := wantUsage(t, st, a, 4, "after renaming INBOX")
	if after.Storage != before.Storage {
		t.Fatalf("renaming INBOX changed the storage: %d to %d", before.Storage, after.Storage)
	}
	if n := len(must(st.MessageList(ctx, inboxA.ID))); n != 0 {
		t.Fatalf("INBOX after its rename has %d messages", n)
	}

	ok(t, st.DeleteAccount(ctx, "b@example.test"))
	wantUsage(t, st, a, 4, "after deleting another account")
	if _, err := st.QuotaUsage(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("usage of a deleted account: %v, want ErrNotFound", err)
	}
}

// Limits are set per account, per domain and for the server; each level
// may inherit (but the server) or be unlimited.
func testQuotaLimitsInherit(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	_, err := st.CreateDomain(ctx, "other.test")
	ok(t, err)
	o := must(st.CreateAccount(ctx, "o@other.test", testCred))
	const server, domain, own = 10 << 20, 5 << 20, 1 << 20
	lim := func(acct store.Account) store.QuotaLimits {
		t.Helper()
		return must(st.QuotaUsage(ctx, acct.ID)).Limits
	}
	same := func(what string, got, want store.QuotaLimits) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: limits %v, want %v", what, got, want)
		}
	}
	all := func(l store.QuotaLimit) store.QuotaLimits { return store.QuotaLimits{Storage: l, Messages: l} }
	same("server, before anything is set", must(st.QuotaLimits(ctx, store.QuotaScope{})), all(store.Unlimited))
	same("domain, before anything is set", must(st.QuotaLimits(ctx, store.QuotaScope{Domain: "example.test"})), all(store.Inherit))
	same("account, before anything is set", must(st.QuotaLimits(ctx, store.QuotaScope{AccountID: a.ID})), all(store.Inherit))

	setQuota(t, st, store.QuotaScope{}, server, 1000)
	same("server default", lim(a), store.QuotaLimits{Storage: server, Messages: 1000})
	setQuota(t, st, store.QuotaScope{Domain: "example.test"}, domain, store.Inherit)
	same("domain default", lim(a), store.QuotaLimits{Storage: domain, Messages: 1000})
	same("other domain", lim(o), store.QuotaLimits{Storage: server, Messages: 1000})
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, own, store.Unlimited)
	same("own limits", lim(a), store.QuotaLimits{Storage: own, Messages: store.Unlimited})
	same("own limits as set", must(st.QuotaUsage(ctx, a.ID)).Own, store.QuotaLimits{Storage: own, Messages: store.Unlimited})
	same("account's own read back", must(st.QuotaLimits(ctx, store.QuotaScope{AccountID: a.ID})), store.QuotaLimits{Storage: own, Messages: store.Unlimited})
	same("domain read back", must(st.QuotaLimits(ctx, store.QuotaScope{Domain: "EXAMPLE.test"})), store.QuotaLimits{Storage: domain, Messages: store.Inherit})
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Inherit, 0)
	same("back to inherit, messages 0", lim(a), store.QuotaLimits{Storage: domain, Messages: 0})
	setQuota(t, st, store.QuotaScope{Domain: "example.test"}, store.Unlimited, store.Inherit)
	same("domain unlimited over a server limit", lim(a), store.QuotaLimits{Storage: store.Unlimited, Messages: 0})
	setQuota(t, st, store.QuotaScope{}, store.Unlimited, store.Unlimited)
	same("server unlimited", lim(o), all(store.Unlimited))
	same("server read back", must(st.QuotaLimits(ctx, store.QuotaScope{})), all(store.Unlimited))

	for _, c := range []struct {
		what  string
		scope store.QuotaScope
		l     store.QuotaLimits
		want  error
	}{
		{"server inherits", store.QuotaScope{}, all(store.Inherit), store.ErrInvalid},
		{"negative", store.QuotaScope{AccountID: a.ID}, store.QuotaLimits{Storage: -5, Messages: 1}, store.ErrInvalid},
		{"huge", store.QuotaScope{Domain: "example.test"}, store.QuotaLimits{Storage: store.MaxQuotaLimit + 1, Messages: 1}, store.ErrInvalid},
		{"unknown domain", store.QuotaScope{Domain: "nowhere.test"}, all(store.Unlimited), store.ErrUnknownDomain},
		{"unknown account", store.QuotaScope{AccountID: a.ID + 1000}, all(store.Unlimited), store.ErrNotFound},
	} {
		wantErr(t, st.SetQuotaLimits(ctx, c.scope, c.l), c.want, c.what)
	}
	_, err = st.QuotaLimits(ctx, store.QuotaScope{Domain: "nowhere.test"})
	wantErr(t, err, store.ErrUnknownDomain, "limits of an unknown domain")
	_, err = st.QuotaUsage(ctx, a.ID+1000)
	wantErr(t, err, store.ErrNotFound, "usage of an unknown account")
}

// A write that would take an account over a limit fails whole, with the
// account and resource named; one that shrinks or keeps the usage never
// does.
func testQuotaEnforced(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	b := newAccount(t, st, "b@example.test")
	inboxA, archA, inboxB := mailbox(t, st, a, "INBOX"), mailbox(t, st, a, "Archive"), mailbox(t, st, b, "INBOX")
	raw := Message("fits", strings.Repeat("z", 400))
	size := int64(len(raw))
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.QuotaLimit(2*size), store.Unlimited)

	deliver(t, st, raw, store.Target{MailboxID: inboxA.ID})
	deliver(t, st, raw, store.Target{MailboxID: inboxA.ID}) // exactly at the limit
	wantUsage(t, st, a, 2, "at the limit")

	// One more, to a and b together: refused whole, b gets nothing either.
	_, err := st.Deliver(ctx, stageMsg(t, st, raw), []store.Target{{MailboxID: inboxB.ID}, {MailboxID: inboxA.ID}})
	wantErr(t, err, store.ErrOverQuota, "delivery over the limit")
	var oq *store.OverQuotaError
	if !errors.As(err, &oq) || oq.AccountID != a.ID || oq.Email != "a@example.test" || oq.Resource != store.QuotaStorage || oq.Usage != 3*size || oq.Limit != store.QuotaLimit(2*size) {
		t.Fatalf("over quota error %#v (%v), want a's storage at %d of %d", oq, err, 3*size, 2*size)
	}
	wantUsage(t, st, a, 2, "after the refused delivery")
	wantUsage(t, st, b, 0, "after the refused delivery")

	// MULTIAPPEND: all or none.
	_, err = st.DeliverAll(ctx, []store.Delivery{
		{Msg: stageMsg(t, st, Message("b1", "x")), Targets: []store.Target{{MailboxID: inboxB.ID}}},
		{Msg: stageMsg(t, st, Message("a3", "x")), Targets: []store.Target{{MailboxID: archA.ID}}},
	})
	wantErr(t, err, store.ErrOverQuota, "DeliverAll over the limit")
	wantUsage(t, st, b, 0, "after the refused DeliverAll")

	_, err = st.Copy(ctx, inboxA.ID, []uint32{1}, archA.ID, store.KeepAll)
	wantErr(t, err, store.ErrOverQuota, "copy over the limit")
	wantUsage(t, st, a, 2, "after the refused copy")
	if n := len(must(st.MessageList(ctx, archA.ID))); n != 0 {
		t.Fatalf("refused copy left %d messages", n)
	}

	// Lowered below the usage: moves, renames and expunges still work.
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.QuotaLimit(size), store.Unlimited)
	must(st.Move(ctx, inboxA.ID, []uint32{1}, archA.ID, store.KeepAll))
	ok(t, st.RenameMailbox(ctx, a.ID, "INBOX", "Saved"))
	wantUsage(t, st, a, 2, "moves over the limit")
	saved := mailbox(t, st, a, "Saved")
	must(st.Expunge(ctx, saved.ID, []uint32{1}))
	wantUsage(t, st, a, 1, "expunge over the limit")
	_, err = st.Deliver(ctx, stageMsg(t, st, Message("x", "")), []store.Target{{MailboxID: inboxA.ID}})
	wantErr(t, err, store.ErrOverQuota, "delivery to a full account")

	// The message count: 0 refuses everything, b's own limit is b's.
	setQuota(t, st, store.QuotaScope{AccountID: b.ID}, store.Unlimited, 1)
	deliver(t, st, Message("b", "1"), store.Target{MailboxID: inboxB.ID})
	_, err = st.Deliver(ctx, stageMsg(t, st, Message("b", "2")), []store.Target{{MailboxID: inboxB.ID}})
	if !errors.As(err, &oq) || oq.Resource != store.QuotaMessages || oq.Usage != 2 || oq.Limit != 1 {
		t.Fatalf("second message over a limit of 1: %v", err)
	}
	setQuota(t, st, store.QuotaScope{Domain: "example.test"}, store.Unlimited, 0)
	setQuota(t, st, store.QuotaScope{AccountID: b.ID}, store.Inherit, store.Inherit)
	wantErr(t, must2err(st.Deliver(ctx, stageMsg(t, st, Message("b", "3")), []store.Target{{MailboxID: inboxB.ID}})), store.ErrOverQuota, "a domain limit of 0")
	setQuota(t, st, store.QuotaScope{Domain: "example.test"}, store.Inherit, store.Inherit)
	deliver(t, st, Message("b", "4"), store.Target{MailboxID: inboxB.ID})
	wantUsage(t, st, b, 2, "b unlimited again")
}

func must2err[T any](_ T, err error) error { return err }

// testQuotaLevelEvent: a write that takes an account to a warning level
// it was not warned of publishes EventQuotaLevel; once the warning is
// claimed, more mail below the next level does not.
func testQuotaLevelEvent(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	inbox := mailbox(t, st, a, "INBOX")
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 10)
	sub := st.Subscribe(a.ID)
	defer sub.Close()
	levelEvents := func() int {
		n := 0
		for _, e := range sub.Take().Events {
			if e.Kind == store.EventQuotaLevel {
				if e.AccountID != a.ID {
					t.Fatalf("EventQuotaLevel of account %d", e.AccountID)
				}
				n++
			}
		}
		return n
	}
	for i := range 7 {
		deliver(t, st, Message(fmt.Sprint("m", i), "x"), store.Target{MailboxID: inbox.ID})
	}
	if n := levelEvents(); n != 0 {
		t.Fatalf("%d EventQuotaLevel below 80%%", n)
	}
	deliver(t, st, Message("eighth", "x"), store.Target{MailboxID: inbox.ID}) // 80%
	if n := levelEvents(); n != 1 {
		t.Fatalf("%d EventQuotaLevel at 80%%, want 1", n)
	}
	if ws := must(st.ClaimQuotaWarnings(ctx, a.ID)); len(ws) != 1 || ws[0].Level != 80 {
		t.Fatalf("claimed %+v", ws)
	}
	deliver(t, st, Message("ninth", "x"), store.Target{MailboxID: inbox.ID}) // 90%: warned of 80
	if n := levelEvents(); n != 0 {
		t.Fatalf("%d EventQuotaLevel at 90%% after the 80%% warning", n)
	}
	deliver(t, st, Message("tenth", "x"), store.Target{MailboxID: inbox.ID}) // 100%: level 95
	if n := levelEvents(); n != 1 {
		t.Fatalf("%d EventQuotaLevel at 100%%, want 1", n)
	}
	must(st.Expunge(ctx, inbox.ID, []uint32{1}))
	if n := levelEvents(); n != 0 {
		t.Fatalf("%d EventQuotaLevel after an expunge", n)
	}
}

// testQuotaAcrossAccounts: a message copied or moved into a folder
// another account owns (a shared folder) counts against that owner, a
// move releases the mover's share, and a full owner refuses the copy.
func testQuotaAcrossAccounts(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	owner := newAccount(t, st, "owner@example.test")
	kim := newAccount(t, st, "kim@example.test")
	team := must(st.CreateMailbox(ctx, owner.ID, "Team", ""))
	inbox := mailbox(t, st, kim, "INBOX")
	raw := Message("shared", strings.Repeat("s", 300))
	size := int64(len(raw))
	deliver(t, st, raw, store.Target{MailboxID: inbox.ID})
	deliver(t, st, raw, store.Target{MailboxID: inbox.ID})

	must(st.Copy(ctx, inbox.ID, []uint32{1}, team.ID, store.KeepAll))
	if u := wantUsage(t, st, owner, 1, "after kim's copy into Team"); u.Storage != size {
		t.Fatalf("owner's storage %d after one copy of %d bytes", u.Storage, size)
	}
	wantUsage(t, st, kim, 2, "after kim's copy into Team")

	must(st.Move(ctx, inbox.ID, []uint32{2}, team.ID, store.KeepAll))
	wantUsage(t, st, owner, 2, "after kim's move into Team")
	wantUsage(t, st, kim, 1, "after kim's move into Team")

	must(st.Move(ctx, team.ID, []uint32{1}, inbox.ID, store.KeepAll))
	wantUsage(t, st, owner, 1, "after a move out of Team")
	wantUsage(t, st, kim, 2, "after a move out of Team")

	// The owner is full: kim's copy is refused and nothing moves, though
	// kim has room.
	setQuota(t, st, store.QuotaScope{AccountID: owner.ID}, store.QuotaLimit(size), store.Unlimited)
	_, err := st.Copy(ctx, inbox.ID, []uint32{1}, team.ID, store.KeepAll)
	var oq *store.OverQuotaError
	if !errors.As(err, &oq) || oq.AccountID != owner.ID {
		t.Fatalf("copy into a full owner's folder: %v, want the owner over quota", err)
	}
	_, err = st.Move(ctx, inbox.ID, []uint32{1}, team.ID, store.KeepAll)
	wantErr(t, err, store.ErrOverQuota, "move into a full owner's folder")
	wantUsage(t, st, owner, 1, "after the refused copy and move")
	wantUsage(t, st, kim, 2, "after the refused copy and move")
}

// An exempt target is delivered past the limit, and counts.
func testQuotaExempt(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	inbox := mailbox(t, st, a, "INBOX")
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 1)
	deliver(t, st, Message("one", ""), store.Target{MailboxID: inbox.ID})
	deliver(t, st, Message("warning", ""), store.Target{MailboxID: inbox.ID, QuotaExempt: true})
	wantUsage(t, st, a, 2, "after an exempt delivery")
	// An exempt target does not carry a plain one along.
	_, err := st.Deliver(ctx, stageMsg(t, st, Message("x", "")), []store.Target{{MailboxID: inbox.ID, QuotaExempt: true}, {MailboxID: inbox.ID}})
	wantErr(t, err, store.ErrOverQuota, "exempt and plain targets together")
	wantUsage(t, st, a, 2, "after the refused delivery")
}

// Deliveries racing at the edge: exactly as many as fit get in, never one
// more, whatever the interleaving.
func testQuotaConcurrentEdge(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	inbox, arch := mailbox(t, st, a, "INBOX"), mailbox(t, st, a, "Archive")
	raw := Message("race", strings.Repeat("r", 200))
	const fit, tries = 5, 16
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.QuotaLimit(fit*int64(len(raw))), store.Unlimited)
	staged := make([]store.Staged, tries)
	for i := range staged {
		staged[i] = stageMsg(t, st, raw)
	}
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mb := inbox.ID
			if i%2 == 1 {
				mb = arch.ID
			}
			_, errs[i] = st.Deliver(ctx, staged[i], []store.Target{{MailboxID: mb}})
		}()
	}
	wg.Wait()
	okCount := 0
	for i, err := range errs {
		switch {
		case err == nil:
			okCount++
		case errors.Is(err, store.ErrOverQuota):
		default:
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if okCount != fit {
		t.Fatalf("%d deliveries got in, want exactly %d", okCount, fit)
	}
	u := wantUsage(t, st, a, fit, "after the race")
	if u.Storage != int64(u.Limits.Storage) {
		t.Fatalf("storage %d, want the limit %d", u.Storage, u.Limits.Storage)
	}
	// Copies racing the same way.
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, fit+2)
	errs = make([]error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Copy(ctx, inbox.ID, []uint32{1}, arch.ID, store.KeepAll)
		}()
	}
	wg.Wait()
	okCount = 0
	for i, err := range errs {
		if err == nil {
			okCount++
		} else if !errors.Is(err, store.ErrOverQuota) {
			t.Fatalf("copy %d: %v", i, err)
		}
	}
	if okCount != 2 {
		t.Fatalf("%d copies got in, want 2", okCount)
	}
	wantUsage(t, st, a, fit+2, "after the copies")
}

// Warnings: once per level crossed, re-armed when the usage falls below,
// to one claimant only.
func testQuotaWarnings(t *testing.T, st QuotaStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	inbox := mailbox(t, st, a, "INBOX")
	claim := func(want string) {
		t.Helper()
		var got []string
		for _, w := range must(st.ClaimQuotaWarnings(ctx, a.ID)) {
			got = append(got, fmt.Sprintf("%s %d%% %d/%d", w.Resource, w.Level, w.Usage, w.Limit))
		}
		if strings.Join(got, ", ") != want {
			t.Fatalf("warnings %q, want %q", got, want)
		}
	}
	put := func(n int) {
		for range n {
			deliver(t, st, Message("w", ""), store.Target{MailboxID: inbox.ID})
		}
	}
	claim("") // unlimited
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 20)
	put(15)
	claim("")
	put(1)
	claim("MESSAGE 80% 16/20")
	claim("")
	put(2)
	claim("")
	put(1)
	claim("MESSAGE 95% 19/20")
	put(1)
	claim("")
	// Below 80 re-arms both levels, in the expunge's own transaction.
	uids := make([]uint32, 0, 6)
	for i := range 6 {
		uids = append(uids, uint32(i+1))
	}
	must(st.Expunge(ctx, inbox.ID, uids))
	put(2)
	claim("MESSAGE 80% 16/20")
	// Raising the limit re-arms too; a jump past both levels tells once, at 95.
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 1000)
	claim("")
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 16)
	claim("MESSAGE 95% 16/16")

	// Two claimants at once: one warning.
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 1000)
	claim("")
	setQuota(t, st, store.QuotaScope{AccountID: a.ID}, store.Unlimited, 20)
	var wg sync.WaitGroup
	got := make([]int, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := st.ClaimQuotaWarnings(ctx, a.ID)
			if err != nil {
				t.Error(err)
			}
			got[i] = len(ws)
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range got {
		total += n
	}
	if total != 1 {
		t.Fatalf("concurrent claims got %d warnings, want 1", total)
	}
}

// RunQuotaMigrated checks the migration's initial usage: mail delivered
// before quotas existed, as the migration finds it (redo undoes it and
// runs it again on the live database), is counted exactly.
func RunQuotaMigrated(t *testing.T, st QuotaStore, redo func(t *testing.T)) {
	defer recoverFailure(t)
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	b := newAccount(t, st, "b@example.test")
	newAccount(t, st, "empty@example.test")
	inboxA, inboxB := mailbox(t, st, a, "INBOX"), mailbox(t, st, b, "INBOX")
	for i := range 3 {
		deliver(t, st, Message(fmt.Sprint("m", i), strings.Repeat("q", 10*i)),
			store.Target{MailboxID: inboxA.ID, HeaderPrefix: []byte("Delivered-To: a@example.test\r\n")}, store.Target{MailboxID: inboxB.ID})
	}
	must(st.Copy(ctx, inboxA.ID, []uint32{1, 2}, mailbox(t, st, a, "Archive").ID, store.KeepAll))
	redo(t)
	wantUsage(t, st, a, 5, "migrated")
	wantUsage(t, st, b, 3, "migrated")
	u := must(st.QuotaUsage(ctx, must(st.Account(ctx, "empty@example.test")).ID))
	if u.Storage != 0 || u.Messages != 0 || u.Limits.Storage != store.Unlimited {
		t.Fatalf("migrated empty account: %+v", u)
	}
	// And kept from there on.
	deliver(t, st, Message("after", ""), store.Target{MailboxID: inboxB.ID})
	wantUsage(t, st, b, 4, "after the migration")
}
