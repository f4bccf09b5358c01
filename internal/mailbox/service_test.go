package mailbox

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"mailroom/internal/auth"
	"mailroom/internal/mime"
	"mailroom/internal/panics"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

type fixture struct {
	t     *testing.T
	st    *sqlitestore.Store
	reg   *Service
	inbox store.Mailbox
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir(), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	st.CreateDomain(ctx, "example.test")
	acct, err := st.CreateAccount(ctx, "ann@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := st.Mailbox(ctx, acct.ID, "INBOX")
	reg := NewService(st, nil, nil)
	t.Cleanup(reg.Close)
	return &fixture{t: t, st: st, reg: reg, inbox: inbox}
}

func (f *fixture) deliver(n int) []uint32 {
	f.t.Helper()
	ctx := context.Background()
	var uids []uint32
	for i := 0; i < n; i++ {
		m, err := f.st.Stage(ctx, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)))
		if err != nil {
			f.t.Fatal(err)
		}
		d, err := f.st.Deliver(ctx, m, []store.Target{{MailboxID: f.inbox.ID}})
		if err != nil {
			f.t.Fatal(err)
		}
		uids = append(uids, d[0].UID)
	}
	return uids
}

// settle waits until the mailbox's state reflects the store (the feed is
// asynchronous). The Barrier applies every event published so far, as a
// session's does; comparing the highest modseq alone returned after the
// first of several messages one STORE changed under one modseq (a flaky
// TestCountsAndNewest).
func (f *fixture) settle(m *Mailbox) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := f.reg.Barrier(context.Background()); err != nil {
			f.t.Fatal(err)
		}
		st, err := f.st.MailboxStatus(context.Background(), f.inbox.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		s := m.State()
		if s.HighestModSeq == st.HighestModSeq && s.Messages == st.Messages {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("index %+v never caught up with the store %+v", s, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestViewsFollowChanges(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.deliver(3)
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	// Mail that arrived before the first SELECT is \Recent for it alone.
	a, b := m.NewView(ClaimRecent), m.NewView(ClaimRecent)
	if a.Len() != 3 || a.RecentCount() != 3 || b.RecentCount() != 0 {
		t.Fatalf("view at select: len %d recent %d, %d", a.Len(), a.RecentCount(), b.RecentCount())
	}
	idle := make(chan struct{}, 1)
	stop := m.Watch(func() {
		select {
		case idle <- struct{}{}:
		default:
		}
	})
	defer stop()

	// New mail: both views see EXISTS; \Recent goes to the first to sync.
	f.deliver(2)
	f.settle(m)
	select {
	case <-idle:
	default:
		t.Fatal("IDLE waiter not woken by new mail")
	}
	ua := a.Sync(true)
	ub := b.Sync(true)
	if ua.Exists != 5 || ub.Exists != 5 || ua.Recent != 3+2 || ub.Recent != 0 {
		t.Fatalf("new mail: a %+v b %+v", ua, ub)
	}
	if u := a.Sync(true); !u.Empty() {
		t.Fatalf("second sync not empty: %+v", u)
	}

	// Flags changed elsewhere.
	if _, err := f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{2}, Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	f.settle(m)
	u := a.Sync(true)
	if len(u.Flags) != 1 || u.Flags[0].UID != 2 || u.Flags[0].Flags != store.FlagSeen || u.SeqOf(2) != 2 {
		t.Fatalf("flags: %+v", u)
	}

	// Expunge of 2 and 4: held back where IMAP forbids it, then announced
	// highest sequence number first.
	if _, err := f.st.Expunge(ctx, f.inbox.ID, []uint32{2, 4}); err != nil {
		t.Fatal(err)
	}
	f.settle(m)
	if u := b.Sync(false); len(u.Expunged) != 0 || b.Len() != 5 {
		t.Fatalf("expunge during FETCH-by-seq: %+v len %d", u, b.Len())
	}
	u = b.Sync(true)
	want := []Expunge{{Seq: 4, UID: 4}, {Seq: 2, UID: 2}}
	if !slices.Equal(u.Expunged, want) || !slices.Equal(u.Vanished, []uint32{2, 4}) || !slices.Equal(b.UIDs(), []uint32{1, 3, 5}) {
		t.Fatalf("expunge: %+v uids %v", u, b.UIDs())
	}
	if b.Seq(5) != 3 || b.UID(2) != 3 || b.Seq(2) != 0 {
		t.Fatalf("seq mapping after expunge: %v", b.UIDs())
	}
}

// TestManyViewsAgreeWithStore: interleaved deliveries, flag changes and
// expunges; after every step each view, once synced, matches the store.
func TestManyViewsAgreeWithStore(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	views := []*View{m.NewView(NoRecent), m.NewView(NoRecent), m.NewView(NoRecent)}
	for step := 0; step < 30; step++ {
		switch step % 3 {
		case 0:
			f.deliver(3)
		case 1:
			list, _ := f.st.MessageList(ctx, f.inbox.ID)
			if len(list) > 0 {
				f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{list[step%len(list)].UID}, Op: store.FlagsAdd, Flags: store.FlagFlagged})
			}
		case 2:
			list, _ := f.st.MessageList(ctx, f.inbox.ID)
			if len(list) > 1 {
				f.st.Expunge(ctx, f.inbox.ID, []uint32{list[0].UID})
			}
		}
		f.settle(m)
		list, _ := f.st.MessageList(ctx, f.inbox.ID)
		var want []uint32
		for _, x := range list {
			want = append(want, x.UID)
		}
		for i, v := range views {
			if i == step%3 {
				continue // one view lags behind a step, then catches up
			}
			v.Sync(true)
			if !slices.Equal(v.UIDs(), want) {
				t.Fatalf("step %d view %d: %v, store %v", step, i, v.UIDs(), want)
			}
			for _, x := range list {
				got, ok := m.Message(x.UID)
				if !ok || got.Flags != x.Flags || got.ModSeq != x.ModSeq {
					t.Fatalf("step %d: index %+v, store %+v", step, got, x)
				}
			}
		}
	}
}

// TestOtherProcessChanges: a change written by another store instance (an
// admin command, another node) reaches the index through the change log.
func TestOtherProcessChanges(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	v := m.NewView(NoRecent)
	other, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: f.st.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := other.Stage(ctx, strings.NewReader("Subject: elsewhere\r\n\r\nx\r\n"))
	if _, err := other.Deliver(ctx, msg, []store.Target{{MailboxID: f.inbox.ID}}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	f.settle(m)
	if u := v.Sync(true); u.Exists != 1 {
		t.Fatalf("change from another process: %+v", u)
	}
}

func TestDeletedMailbox(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	mb, _ := f.st.CreateMailbox(ctx, f.inbox.AccountID, "Doomed", "")
	m, err := f.reg.Open(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	v := m.NewView(NoRecent)
	if err := f.st.DeleteMailbox(ctx, f.inbox.AccountID, "Doomed"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !v.Sync(true).Deleted {
		if time.Now().After(deadline) {
			t.Fatal("view never learned the mailbox was deleted")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSharedAndReleased(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a, _ := f.reg.Open(ctx, f.inbox.ID)
	b, _ := f.reg.Open(ctx, f.inbox.ID)
	if a != b {
		t.Fatal("two sessions got different copies of one mailbox")
	}
	f.reg.Release(a)
	f.reg.Release(b)
	// Kept loaded while unused, and kept current.
	f.deliver(1)
	c, _ := f.reg.Open(ctx, f.inbox.ID)
	if c != a {
		t.Fatal("a recently released mailbox was loaded again")
	}
	f.settle(c)
	f.reg.Release(c)
	// More unused mailboxes than keepIdle: the least recently used goes.
	for i := 0; i < keepIdle+1; i++ {
		mb, err := f.st.CreateMailbox(ctx, f.inbox.AccountID, fmt.Sprintf("box%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		m, err := f.reg.Open(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.reg.Release(m)
	}
	d, _ := f.reg.Open(ctx, f.inbox.ID)
	defer f.reg.Release(d)
	if d == a {
		t.Fatal("the least recently used mailbox was not evicted")
	}
	if _, err := f.reg.Open(ctx, 987654); err == nil {
		t.Fatal("opening a missing mailbox succeeded")
	}
}

func TestWatchStops(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	var mu sync.Mutex
	calls := map[string]int{}
	watch := func(name string) func() {
		return m.Watch(func() { mu.Lock(); calls[name]++; mu.Unlock() })
	}
	stopA, stopB := watch("a"), watch("b")
	f.deliver(1)
	f.settle(m)
	stopA()
	f.deliver(1)
	f.settle(m)
	stopB()
	f.deliver(1)
	f.settle(m)
	mu.Lock()
	defer mu.Unlock()
	if calls["a"] == 0 || calls["b"] <= calls["a"] {
		t.Fatalf("wake calls %v: a stopped after the first delivery, b after the second", calls)
	}
}

// TestStructureCache: a structure is read from the store once, shared
// afterwards, and forgotten when its message is expunged.
func TestStructureCache(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.deliver(2)
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	a, err := m.Structure(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Structure(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("the second Structure of a message was read again")
	}
	if _, err := f.st.Expunge(ctx, f.inbox.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	f.settle(m)
	if _, ok := f.reg.structures.get(messageKey{f.inbox.ID, 1}); ok {
		t.Fatal("an expunged message's structure is still cached")
	}
	if _, err := m.Structure(ctx, 1); err == nil {
		t.Fatal("Structure of an expunged message succeeded")
	}
	// The cache is bounded by the structures' memory, not their number.
	c := newStructureCache()
	cost := structureCost(a)
	for uid := range uint32(structureCacheSize/cost + 10) {
		c.put(messageKey{1, uid}, a)
	}
	if c.used > structureCacheSize || int64(c.order.Len()) != structureCacheSize/cost {
		t.Fatalf("cache holds %d structures of %d bytes (%d), bound %d", c.order.Len(), cost, c.used, structureCacheSize)
	}
	if _, ok := c.get(messageKey{1, 0}); ok {
		t.Fatal("the least recently used entry was kept")
	}
	// One structure of many parts counts for all of them, and pushes out
	// as many small ones.
	big := &mime.Message{Root: &mime.Part{Type: "multipart", Subtype: "mixed"}}
	for range 10000 {
		big.Root.Parts = append(big.Root.Parts, &mime.Part{Type: "text", Subtype: "plain", Encoding: "7bit"})
	}
	if bc := structureCost(big); bc < 10000*int64(unsafe.Sizeof(mime.Part{})) {
		t.Fatalf("a structure of 10,000 parts costs %d bytes", bc)
	}
	c.put(messageKey{2, 1}, big)
	if _, ok := c.get(messageKey{2, 1}); !ok || c.used > structureCacheSize {
		t.Fatalf("big structure cached %v, cache at %d bytes of %d", ok, c.used, structureCacheSize)
	}
}

func TestCountsAndNewest(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.deliver(5)
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	if _, err := f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{2, 4}, Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	f.settle(m)
	if total, unseen := m.Counts(); total != 5 || unseen != 3 {
		t.Fatalf("Counts = %d, %d", total, unseen)
	}
	page := m.Newest(1, 2)
	if len(page) != 2 || page[0].UID != 4 || page[1].UID != 3 {
		t.Fatalf("Newest(1, 2) = %+v", page)
	}
	if rest := m.Newest(4, 10); len(rest) != 1 || rest[0].UID != 1 {
		t.Fatalf("Newest(4, 10) = %+v", rest)
	}
}

// TestRecent: \Recent (RFC 3501 2.3.2) of mail that arrived while no
// session had the mailbox open, across EXAMINE, SELECT and an unload.
func TestRecent(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if n, err := f.reg.RecentCount(ctx, f.inbox.ID); err != nil || n != 0 {
		t.Fatalf("STATUS RECENT of an empty mailbox: %d %v", n, err)
	}
	// Mail since the process started is \Recent for the first SELECT.
	f.deliver(1)
	if n, err := f.reg.RecentCount(ctx, f.inbox.ID); err != nil || n != 1 {
		t.Fatalf("STATUS RECENT: %d %v", n, err)
	}
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v := m.NewView(ClaimRecent); v.RecentCount() != 1 {
		t.Fatalf("first SELECT: recent %d", v.RecentCount())
	}
	f.reg.Release(m)
	// Evict it: more idle mailboxes than the registry keeps.
	for i := 0; i < keepIdle+1; i++ {
		mb, err := f.st.CreateMailbox(ctx, f.inbox.AccountID, "box"+strconv.Itoa(i), "")
		if err != nil {
			t.Fatal(err)
		}
		x, err := f.reg.Open(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.reg.Release(x)
	}
	if f.reg.lookup(f.inbox.ID) != nil {
		t.Fatal("INBOX still loaded")
	}
	// Two arrive while it is not loaded: STATUS counts them, EXAMINE sees
	// them and leaves them \Recent, SELECT takes them.
	f.deliver(2)
	if n, err := f.reg.RecentCount(ctx, f.inbox.ID); err != nil || n != 2 {
		t.Fatalf("STATUS RECENT: %d %v", n, err)
	}
	m, err = f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	if v := m.NewView(PeekRecent); v.RecentCount() != 2 || !v.Recent(2) || v.Recent(1) {
		t.Fatalf("EXAMINE: recent %d", v.RecentCount())
	}
	if v := m.NewView(NoRecent); v.RecentCount() != 0 {
		t.Fatalf("IMAP4rev2 view has \\Recent: %d", v.RecentCount())
	}
	if n := m.RecentCount(); n != 2 {
		t.Fatalf("STATUS RECENT after EXAMINE: %d", n)
	}
	if v := m.NewView(ClaimRecent); v.RecentCount() != 2 {
		t.Fatalf("SELECT: recent %d", v.RecentCount())
	}
	if v := m.NewView(ClaimRecent); v.RecentCount() != 0 || m.RecentCount() != 0 {
		t.Fatalf("second SELECT: recent %d, status %d", v.RecentCount(), m.RecentCount())
	}
}

// TestKeywordsGrow: a view learns when the mailbox's keyword list grew.
func TestKeywordsGrow(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.deliver(2)
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	v := m.NewView(NoRecent)
	if kws, grew := v.Keywords(); len(kws) != 0 || grew {
		t.Fatalf("at select: %v %v", kws, grew)
	}
	if _, err := f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{1}, Op: store.FlagsAdd, Keywords: []string{"$Hello"}}); err != nil {
		t.Fatal(err)
	}
	v.Sync(true)
	if kws, grew := v.Keywords(); !slices.Equal(kws, []string{"$Hello"}) || !grew {
		t.Fatalf("after STORE: %v %v", kws, grew)
	}
	if _, grew := v.Keywords(); grew {
		t.Fatal("grew twice")
	}
	// The same keyword in another case is not new; removing it does not
	// shrink the list.
	if _, err := f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{2}, Op: store.FlagsAdd, Keywords: []string{"$hello"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{1, 2}, Op: store.FlagsRemove, Keywords: []string{"$hello"}}); err != nil {
		t.Fatal(err)
	}
	v.Sync(true)
	if kws, grew := v.Keywords(); len(kws) != 1 || grew {
		t.Fatalf("after removal: %v %v", kws, grew)
	}
}

// A panic while applying one event of the change feed (here in an IDLE
// watcher) loses that event's wake-up, not the feed: it is counted, and
// later events still reach the index. Before, it ended the process.
func TestPanicApplyingAnEventKeepsFollowing(t *testing.T) {
	f := setup(t)
	var pc panics.Counter
	reg := NewService(f.st, nil, &pc)
	t.Cleanup(reg.Close)
	m, err := reg.Open(context.Background(), f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Release(m)
	var once sync.Once
	stop := m.Watch(func() { once.Do(func() { panic("test panic in a watcher") }) })
	defer stop()
	f.deliver(1)
	deadline := time.Now().Add(5 * time.Second)
	for pc.Count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("panic count %d, want 1", pc.Count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.deliver(1)
	f.settle(m)
	if got := m.State().Messages; got != 2 {
		t.Fatalf("index shows %d messages, want 2", got)
	}
}

// TestMailboxMessages: the batch lookup finds the messages still there,
// in the order asked, whether the UIDs ascend one by one, skip, repeat,
// go backwards or name messages that are gone.
func TestMailboxMessages(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	uids := f.deliver(6)
	if _, err := f.st.Expunge(ctx, f.inbox.ID, []uint32{uids[2]}); err != nil {
		t.Fatal(err)
	}
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	f.settle(m)
	for _, ask := range [][]uint32{
		uids,
		{uids[5], uids[0], uids[1], 999, uids[1], uids[4]},
		{uids[2]},
		{},
	} {
		var got, want []uint32
		m.Messages(ask, func(i int, meta store.MessageMeta) {
			if meta.UID != ask[i] {
				t.Errorf("asked %v: index %d is UID %d", ask, i, meta.UID)
			}
			got = append(got, meta.UID)
		})
		for _, u := range ask {
			if _, ok := m.Message(u); ok {
				want = append(want, u)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("asked %v: got %v, want %v", ask, got, want)
		}
	}
}
