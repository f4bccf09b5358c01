package storetest

import (
	"context"
	"slices"
	"testing"

	"mailroom/internal/store"
)

// RunTextFormatStale checks index entries of an older format
// (store.TextFormat) as a schema upgrade leaves them: they still answer
// every field, TEXT's callers are told to decide them otherwise (Stale),
// and UnindexedContents lists them until they are indexed again. downgrade
// makes every existing entry of the backend format 1 (what the migration
// adding the format gives the entries made before it).
func RunTextFormatStale(t *testing.T, st store.Store, downgrade func(t *testing.T)) {
	ctx := context.Background()
	acct := newAccount(t, st, "format@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	full := &store.TextDoc{Subject: "OFFER\n", Header: "SUBJECT: OFFER\n", Body: "SEE ATTACHED\n", BodyComplete: true}
	cut := &store.TextDoc{Subject: "HUGE\n", Header: "SUBJECT: HUGE\n", BodyComplete: false}
	u1 := deliverText(t, st, Message("f1", "x"), full, store.Target{MailboxID: inbox.ID})[0].UID
	u2 := deliverText(t, st, Message("f2", "x"), cut, store.Target{MailboxID: inbox.ID})[0].UID
	if res := searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextAll, Needle: "OFFER"}); len(res.Stale) != 0 {
		t.Fatalf("new entries reported stale: %v", res.Stale)
	}
	if got := must(st.UnindexedContents(ctx, acct.ID, 0, 10)); len(got) != 0 {
		t.Fatalf("new entries listed as unindexed: %+v", got)
	}

	downgrade(t)
	res := searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextAll, Needle: "OFFER"}, store.TextQuery{Field: store.TextBody, Needle: "ATTACHED"})
	if !slices.Equal(res.Stale, []uint32{u1}) || !slices.Equal(res.BodyUnindexed, []uint32{u2}) || len(res.Unindexed) != 0 {
		t.Fatalf("after downgrade: stale %v, body unindexed %v, unindexed %v; want [%d], [%d], []", res.Stale, res.BodyUnindexed, res.Unindexed, u1, u2)
	}
	// The old entries still answer: the caller decides what to trust.
	if !slices.Equal(res.Hits[0], []uint32{u1}) || !slices.Equal(res.Hits[1], []uint32{u1}) {
		t.Fatalf("hits of old entries %v, %v; want [%d] twice", res.Hits[0], res.Hits[1], u1)
	}
	work := must(st.UnindexedContents(ctx, acct.ID, 0, 10))
	if len(work) != 2 {
		t.Fatalf("old entries to reindex: %+v, want 2", work)
	}
	// Indexing again (what `mailroom reindex` does) makes them current.
	for _, w := range work {
		doc := full
		if w.UID == u2 {
			doc = cut
		}
		if err := st.IndexText(ctx, w.ContentID, doc); err != nil {
			t.Fatal(err)
		}
	}
	res = searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextAll, Needle: "OFFER"})
	if len(res.Stale) != 0 || !slices.Equal(res.BodyUnindexed, []uint32{u2}) || !slices.Equal(res.Hits[0], []uint32{u1}) {
		t.Fatalf("after reindex: stale %v, body unindexed %v, hits %v", res.Stale, res.BodyUnindexed, res.Hits[0])
	}
	if got := must(st.UnindexedContents(ctx, acct.ID, 0, 10)); len(got) != 0 {
		t.Fatalf("after reindex, still listed: %+v", got)
	}
}
