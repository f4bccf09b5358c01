package pgstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// TestPrivateSeenAcrossNodes: kim's view of demo's INBOX on node A follows
// changes of her \Seen, demo's flags and the mailbox's mode made on both
// nodes at once; A learns of B's as "mailbox changed" and must read kim's
// \Seen of those messages. At the end what the view shows, and what a
// client of it was told, is what the store has.
func TestPrivateSeenAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, demo := twoNodes(t)
	kim := newTestAccount(t, a, "kim@example.test")
	inbox := mustMailbox(t, a, demo.ID, "INBOX")
	rights, _ := acl.Parse("lrswite")
	if _, err := a.ModifyACL(ctx, inbox.ID, kim.Email, acl.Replace, rights); err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for i := range 12 {
		d, err := deliverOne(ctx, a, inbox.ID, fmt.Sprint("m", i))
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, d.UID)
	}
	svc := mailbox.NewService(a, nil, nil)
	defer svc.Close()
	user := svc.User(kim.ID, kim.Email)
	folder, err := user.Folder(ctx, "Other Users/demo@example.test/INBOX")
	if err != nil {
		t.Fatal(err)
	}
	view, err := user.Select(ctx, folder, mailbox.NoRecent)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	client := map[uint32]store.MessageMeta{}
	sync := func() {
		u := view.Sync(true)
		for _, uid := range u.Vanished {
			delete(client, uid)
		}
		for _, m := range u.Flags {
			client[m.UID] = m
		}
		for _, uid := range view.UIDs() {
			if _, ok := client[uid]; !ok {
				client[uid], _ = view.Message(uid)
			}
		}
	}
	sync()

	// The view is one session's: one goroutine syncs it while the
	// writers race.
	stop, synced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(synced)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				sync()
			}
		}
	}()
	errs := race(40, a, b, func(st *Store, i int) error {
		u := []uint32{uids[i%len(uids)]}
		var err error
		switch i % 8 {
		case 0:
			_, err = st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: u, Op: store.FlagsAdd, Flags: store.FlagSeen | store.FlagAnswered})
		case 3:
			_, err = deliverOne(ctx, st, inbox.ID, fmt.Sprint("new ", i))
		case 5:
			err = st.SetSharedSeen(ctx, inbox.ID, i%16 == 5)
		case 6:
			_, err = st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: u, Op: store.FlagsRemove, Flags: store.FlagSeen, Account: kim.ID})
		default:
			_, err = st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: u, Op: store.FlagsAdd, Flags: store.FlagSeen | store.FlagFlagged, Account: kim.ID})
		}
		return err
	})
	// Per user at the end, with kim's \Seen changed on B mostly, which A
	// learns of only as "mailbox changed".
	errs = append(errs, b.SetSharedSeen(ctx, inbox.ID, false))
	for i, u := range uids[:6] {
		st, op := b, store.FlagsAdd
		if i == 4 {
			st = a
		}
		if i == 5 {
			op = store.FlagsRemove
			u = uids[0]
		}
		_, err := st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{u}, Op: op, Flags: store.FlagSeen, Account: kim.ID})
		errs = append(errs, err)
	}
	close(stop)
	<-synced
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	summary := func(state func(uid uint32) (store.MessageMeta, bool), uids []uint32) string {
		var s strings.Builder
		for _, u := range uids {
			if m, ok := state(u); ok {
				fmt.Fprintf(&s, "%d:%v:%d ", m.UID, m.Flags.Names(), m.ModSeq)
			}
		}
		return s.String()
	}
	truth := func() (string, []uint32) {
		list, err := a.MessageList(ctx, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		mb := mustMailbox(t, a, demo.ID, "INBOX")
		set, err := a.PrivateSeen(ctx, inbox.ID, kim.ID, 1, 1<<32-1)
		if err != nil {
			t.Fatal(err)
		}
		own := map[uint32]bool{}
		for _, u := range set.UIDs {
			own[u] = true
		}
		byUID := map[uint32]store.MessageMeta{}
		var all []uint32
		for _, m := range list {
			if !mb.SharedSeen {
				m.Flags = store.WithSeen(m.Flags, own[m.UID])
			}
			byUID[m.UID], all = m, append(all, m.UID)
		}
		return summary(func(u uint32) (store.MessageMeta, bool) { m, ok := byUID[u]; return m, ok }, all), all
	}
	deadline := time.Now().Add(feedWait)
	for {
		sync()
		want, all := truth()
		if got := summary(view.Message, view.UIDs()); got == want {
			sync() // what the view has now, the client must be told
			fromClient := func(u uint32) (store.MessageMeta, bool) { m, ok := client[u]; return m, ok }
			if told := summary(fromClient, all); told != want {
				t.Fatalf("the client was told\n%s\nthe store has\n%s", told, want)
			}
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("kim's view\n%s\nthe store\n%s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
