package mailbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"mailroom/internal/acl"
	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

// seenFixture is ann's INBOX shared with kim (lrswite), a service over
// one store handle and, for changes "from another process", a second
// handle on the same data.
type seenFixture struct {
	t          *testing.T
	st, other  *sqlitestore.Store
	svc        *Service
	ann, kim   *User
	inbox      store.Mailbox
	kimFolder  Folder
	kimAccount int64
}

func setupSeen(t *testing.T) *seenFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	other, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	st.CreateDomain(ctx, "example.test")
	ann, err := st.CreateAccount(ctx, "ann@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	kim, err := st.CreateAccount(ctx, "kim@example.test", auth.Credentials{Argon2id: "x"})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := st.Mailbox(ctx, ann.ID, "INBOX")
	rights, _ := acl.Parse("lrswite")
	if _, err := st.ModifyACL(ctx, inbox.ID, kim.Email, acl.Replace, rights); err != nil {
		t.Fatal(err)
	}
	svc := NewService(st, nil, nil)
	t.Cleanup(svc.Close)
	f := &seenFixture{t: t, st: st, other: other, svc: svc, inbox: inbox, kimAccount: kim.ID,
		ann: svc.User(ann.ID, ann.Email), kim: svc.User(kim.ID, kim.Email)}
	if f.kimFolder, err = f.kim.Folder(ctx, "Other Users/ann@example.test/INBOX"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *seenFixture) deliver(st store.Store, n int) []uint32 {
	f.t.Helper()
	ctx := context.Background()
	var uids []uint32
	for i := range n {
		m, err := st.Stage(ctx, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)))
		if err != nil {
			f.t.Fatal(err)
		}
		d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: f.inbox.ID}})
		if err != nil {
			f.t.Fatal(err)
		}
		uids = append(uids, d[0].UID)
	}
	return uids
}

func (f *seenFixture) selectAs(u *User, name string) *View {
	f.t.Helper()
	ctx := context.Background()
	folder, err := u.Folder(ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	v, err := u.Select(ctx, folder, NoRecent)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(v.Close)
	return v
}

func seen(v *View, uid uint32) bool {
	m, ok := v.Message(uid)
	return ok && m.Flags&store.FlagSeen != 0
}

// announced is what a client keeps of a view: each message's flags and
// modseq as the updates told it, new messages as it fetches them.
type announced map[uint32]store.MessageMeta

func (a announced) sync(v *View) {
	u := v.Sync(true)
	for _, uid := range u.Vanished {
		delete(a, uid)
	}
	for _, m := range u.Flags {
		a[m.UID] = m
	}
	for _, uid := range v.UIDs() {
		if _, ok := a[uid]; !ok {
			a[uid], _ = v.Message(uid)
		}
	}
}

// TestViewsSeePrivateSeen: kim's \Seen in ann's INBOX is hers, in her
// views only, with a new modseq that her other view announces; ann's view
// announces the modseq with the flags unchanged.
func TestViewsSeePrivateSeen(t *testing.T) {
	ctx := context.Background()
	f := setupSeen(t)
	uids := f.deliver(f.st, 3)
	kim1 := f.selectAs(f.kim, "Other Users/ann@example.test/INBOX")
	kim2 := f.selectAs(f.kim, "Other Users/ann@example.test/INBOX")
	ann := f.selectAs(f.ann, "INBOX")
	before := kim2.HighestModSeq()

	res, err := f.kim.MarkSeen(ctx, f.kimFolder, uids[:1])
	if err != nil || len(res.Updated) != 1 || res.Updated[0].Flags != store.FlagSeen {
		t.Fatalf("MarkSeen: %+v %v", res, err)
	}
	if !seen(kim1, uids[0]) || seen(ann, uids[0]) {
		t.Fatalf("after kim read it: kim sees \\Seen %v, ann %v", seen(kim1, uids[0]), seen(ann, uids[0]))
	}
	u := kim2.Sync(true)
	if len(u.Flags) != 1 || u.Flags[0].Flags != store.FlagSeen || u.Flags[0].ModSeq <= before {
		t.Fatalf("kim's other view: %+v", u.Flags)
	}
	u = ann.Sync(true)
	if len(u.Flags) != 1 || u.Flags[0].Flags != 0 || u.Flags[0].ModSeq != res.Updated[0].ModSeq {
		t.Fatalf("ann's view: %+v", u.Flags)
	}
	var n int
	kim1.Messages(uids, func(_ int, m store.MessageMeta) {
		if m.Flags&store.FlagSeen != 0 {
			n++
		}
	})
	if n != 1 {
		t.Fatalf("kim's Messages show %d seen, want 1", n)
	}
	st, err := f.kim.Status(ctx, f.kimFolder)
	if err != nil || st.Unseen != 2 {
		t.Fatalf("kim's STATUS: %d unseen, %v", st.Unseen, err)
	}
	// Her \Seen goes with her last view, and is read again with the next.
	m := kim1.Mailbox()
	kim1.Close()
	kim2.Close()
	m.mu.RLock()
	readers := len(m.readers)
	m.mu.RUnlock()
	if readers != 0 {
		t.Fatalf("%d readers after kim's views closed", readers)
	}
	if kim3 := f.selectAs(f.kim, "Other Users/ann@example.test/INBOX"); !seen(kim3, uids[0]) || seen(kim3, uids[1]) {
		t.Fatal("kim's \\Seen not loaded again")
	}
}

// TestSharedSeenMode: the switch to one \Seen for everyone, through the
// service and from another process, changes what kim's open view shows
// and announces; only ann or a user with "a" may switch.
func TestSharedSeenMode(t *testing.T) {
	ctx := context.Background()
	f := setupSeen(t)
	uids := f.deliver(f.st, 2)
	kim := f.selectAs(f.kim, "Other Users/ann@example.test/INBOX")
	client := announced{}
	if _, err := f.kim.MarkSeen(ctx, f.kimFolder, uids[:1]); err != nil {
		t.Fatal(err)
	}
	client.sync(kim)

	if err := f.kim.SetSharedSeen(ctx, f.kimFolder, true); err == nil {
		t.Fatal("kim (no \"a\" right) switched the mailbox")
	}
	annFolder, err := f.ann.Folder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ann.SetSharedSeen(ctx, annFolder, true); err != nil {
		t.Fatal(err)
	}
	client.sync(kim)
	if seen(kim, uids[0]) || client[uids[0]].Flags != 0 {
		t.Fatalf("shared: kim still sees her own \\Seen (client has %v)", client[uids[0]].Flags.Names())
	}
	if _, err := f.kim.MarkSeen(ctx, f.kimFolder, uids[1:]); err != nil {
		t.Fatal(err)
	}
	ann := f.selectAs(f.ann, "INBOX")
	if !seen(ann, uids[1]) {
		t.Fatal("shared: kim's \\Seen is not the message's")
	}

	// From another process: back to per user, then kim's \Seen there.
	if err := f.other.SetSharedSeen(ctx, f.inbox.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { client.sync(kim); return client[uids[1]].Flags == 0 })
	if seen(kim, uids[0]) || seen(kim, uids[1]) || !seen(ann, uids[1]) {
		t.Fatal("per user again: kim starts afresh, ann keeps the message's \\Seen")
	}
	if _, err := f.other.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: uids[:1], Op: store.FlagsAdd, Flags: store.FlagSeen, Account: f.kimAccount}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { client.sync(kim); return client[uids[0]].Flags == store.FlagSeen })
	if seen(ann, uids[0]) {
		t.Fatal("kim's \\Seen from another process shows to ann")
	}
}

// TestPrivateSeenFollowsChanges: random changes of kim's \Seen, ann's
// flags, deliveries, expunges and switches of the mode, made through the
// service and by another process at once, while kim's view syncs: what
// the view announced and what it shows end as the store has it.
func TestPrivateSeenFollowsChanges(t *testing.T) {
	ctx := context.Background()
	f := setupSeen(t)
	uids := f.deliver(f.st, 20)
	kim := f.selectAs(f.kim, "Other Users/ann@example.test/INBOX")
	client := announced{}
	client.sync(kim)
	rng := rand.New(rand.NewPCG(1, 2))
	done := make(chan error)
	go func() {
		// The other process.
		var err error
		for i := 0; i < 60 && err == nil; i++ {
			u := uids[rng.IntN(len(uids))]
			switch i % 10 {
			case 7:
				err = f.other.SetSharedSeen(ctx, f.inbox.ID, i%20 == 7)
			case 3:
				f.deliver(f.other, 1)
			default:
				op := store.FlagsAdd
				if i%3 == 0 {
					op = store.FlagsRemove
				}
				_, err = f.other.UpdateFlags(ctx, f.inbox.ID, store.FlagUpdate{UIDs: []uint32{u}, Op: op, Flags: store.FlagSeen | store.FlagFlagged, Account: f.kimAccount})
			}
		}
		done <- err
	}()
	annFolder, _ := f.ann.Folder(ctx, "INBOX")
	for i := range 60 {
		u := uids[(i*7)%len(uids)]
		var err error
		switch i % 6 {
		case 0:
			_, err = f.ann.UpdateFlags(ctx, annFolder, store.FlagUpdate{UIDs: []uint32{u}, Op: store.FlagsAdd, Flags: store.FlagSeen})
		case 1:
			_, err = f.kim.UpdateFlags(ctx, f.kimFolder, store.FlagUpdate{UIDs: []uint32{u}, Op: store.FlagsRemove, Flags: store.FlagSeen})
		case 5:
			if i == 35 {
				_, err = f.kim.Expunge(ctx, f.kimFolder, []uint32{u})
			}
		default:
			_, err = f.kim.MarkSeen(ctx, f.kimFolder, []uint32{u})
		}
		if err != nil {
			t.Fatal(err)
		}
		client.sync(kim)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	truth := func() string {
		list, err := f.st.MessageList(ctx, f.inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := f.st.Mailbox(ctx, f.ann.id, "INBOX")
		set, err := f.st.PrivateSeen(ctx, f.inbox.ID, f.kimAccount, 1, 1<<32-1)
		if err != nil {
			t.Fatal(err)
		}
		own := newUIDSet(set.UIDs)
		var b strings.Builder
		for _, m := range list {
			if !mb.SharedSeen {
				m.Flags = store.WithSeen(m.Flags, own.has(m.UID))
			}
			fmt.Fprintf(&b, "%d:%v:%d ", m.UID, m.Flags.Names(), m.ModSeq)
		}
		return b.String()
	}
	shown := func(state func(uid uint32) (store.MessageMeta, bool)) string {
		var b strings.Builder
		for _, u := range kim.UIDs() {
			if m, ok := state(u); ok {
				fmt.Fprintf(&b, "%d:%v:%d ", m.UID, m.Flags.Names(), m.ModSeq)
			}
		}
		return b.String()
	}
	deadline := time.Now().Add(5 * time.Second)
	for shown(kim.Message) != truth() {
		if time.Now().After(deadline) {
			t.Fatalf("kim's view\n%s\nthe store has\n%s", shown(kim.Message), truth())
		}
		client.sync(kim) // the view takes in new messages at its syncs
		time.Sleep(10 * time.Millisecond)
	}
	client.sync(kim) // what the view has now, the client must be told
	fromClient := func(uid uint32) (store.MessageMeta, bool) { m, ok := client[uid]; return m, ok }
	if got, want := shown(fromClient), truth(); got != want {
		t.Fatalf("the client was told\n%s\nthe store has\n%s", got, want)
	}
}

// waitFor polls ok for up to five seconds.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkViewMessages100k: a pass over 100,000 messages' state as
// SEARCH makes it (View.Messages), for the owner (the messages' flags) and
// for a reader who has seen every third message (their own \Seen).
func BenchmarkViewMessages100k(b *testing.B) {
	m := &Mailbox{reg: &Service{}}
	uids := make([]uint32, 100_000)
	var seen []uint32
	for i := range uids {
		uids[i] = uint32(i + 1)
		m.msgs = append(m.msgs, store.MessageMeta{UID: uids[i], ModSeq: 1})
		if i%3 == 0 {
			seen = append(seen, uids[i])
		}
	}
	rd := &reader{account: 2, refs: 1, seen: newUIDSet(seen)}
	for _, c := range []struct {
		name string
		v    *View
	}{{"owner", &View{m: m}}, {"reader", &View{m: m, rd: rd}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				c.v.Messages(uids, func(_ int, meta store.MessageMeta) {
					if meta.Flags&store.FlagSeen == 0 {
						n++
					}
				})
				if want := map[string]int{"owner": 100_000, "reader": 66_666}[c.name]; n != want {
					b.Fatalf("%d unseen, want %d", n, want)
				}
			}
		})
	}
}
