package mailbox

import (
	"context"
	"testing"

	"mailroom/internal/mailbox/thread"
)

func TestThreadInputsCache(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	uids := f.deliver(3)
	m, err := f.reg.Open(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.reg.Release(m)
	a, err := m.ThreadInputs(ctx, uids)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || a[1].Num != uids[1] || a[1].Size == 0 || a[1].Sent != a[1].Arrival {
		t.Fatalf("ThreadInputs: %d messages, second %+v", len(a), a[1])
	}
	// The cached entries keep the keys, not the raw fields.
	if a[1].Fields != nil {
		t.Errorf("the raw fields %+v are kept", a[1].Fields)
	}
	want := thread.Message{Fields: &thread.Fields{Subject: "1"}}
	if thread.Compare(a[1], &want, []thread.Criterion{{Key: thread.Subject}}) != 0 || thread.Compare(a[0], &want, []thread.Criterion{{Key: thread.Subject}}) == 0 {
		t.Error("the cached subject key is not that of the message's subject")
	}
	// The first call read the structures without filling the structure
	// LRU, which FETCH needs.
	if _, ok := f.reg.structures.get(messageKey{f.inbox.ID, uids[0]}); ok {
		t.Error("ThreadInputs filled the structure cache")
	}
	b, err := m.ThreadInputs(ctx, uids[1:])
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 2 || b[0] != a[1] {
		t.Fatal("the second call read the message again instead of using the cache")
	}
	if _, err := f.st.Expunge(ctx, f.inbox.ID, []uint32{uids[1]}); err != nil {
		t.Fatal(err)
	}
	f.settle(m)
	m.threads.mu.Lock()
	_, cached := m.threads.byUID[uids[1]]
	m.threads.mu.Unlock()
	if cached {
		t.Error("an expunged message's sort keys are still cached")
	}
	c, err := m.ThreadInputs(ctx, uids)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 2 || c[0].Num != uids[0] || c[1].Num != uids[2] {
		t.Fatalf("after the expunge: %d messages", len(c))
	}
	// Released by its last user, the mailbox stays loaded but keeps no
	// sort keys.
	f.reg.Release(m)
	m.threads.mu.Lock()
	n := len(m.threads.byUID)
	m.threads.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sort keys kept by a mailbox nobody has open", n)
	}
	if _, err := f.reg.Open(ctx, f.inbox.ID); err != nil { // for the deferred Release
		t.Fatal(err)
	}
}
