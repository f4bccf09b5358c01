package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"mailroom/internal/store"
)

// testLoadMailbox: LoadMailbox agrees with Mailbox and MessageList.
func testLoadMailbox(t *testing.T, st MessageStore) {
	ctx := context.Background()
	acct := newAccount(t, st, "ann@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	for _, s := range []string{"one", "two", "three"} {
		deliver(t, st, Message(s, "x"), store.Target{MailboxID: inbox.ID})
	}
	mb, list := must2(st.LoadMailbox(ctx, inbox.ID))
	want := must(st.MessageList(ctx, inbox.ID))
	if mb.ID != inbox.ID || mb.UIDValidity != inbox.UIDValidity || mb.UIDNext != 4 || mb.HighestModSeq == 0 {
		t.Fatalf("LoadMailbox record: %+v", mb)
	}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("LoadMailbox list %+v, MessageList %+v", list, want)
	}
	if _, _, err := st.LoadMailbox(ctx, inbox.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadMailbox of no mailbox: %v", err)
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(failure{err})
	}
	return a, b
}
