package pgstore

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

// TestTextGramsBeforeMigration: a content indexed before the short grams
// existed (grams NULL, as migration 7 leaves every older content) is
// still found by a 2-character needle, through the scan, and is on the
// reindex work list until reindexed.
func TestTextGramsBeforeMigration(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "demo@example.test", testCred)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	deliverDoc := func(body string) store.Delivered {
		m, err := st.Stage(ctx, bytes.NewReader([]byte("Subject: x\r\n\r\nx\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		m.(store.TextStager).SetText(&store.TextDoc{Body: body, BodyComplete: true})
		d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
		if err != nil {
			t.Fatal(err)
		}
		return d[0]
	}
	old, cur := deliverDoc("東京で会議\n"), deliverDoc("会議室\n")
	var oldContent int64
	if err := st.pool.QueryRow(ctx, "SELECT content_id FROM messages WHERE mailbox_id = $1 AND uid = $2", inbox.ID, int64(old.UID)).Scan(&oldContent); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, "UPDATE content_text SET grams = NULL WHERE content_id = $1", oldContent); err != nil {
		t.Fatal(err)
	}
	for needle, want := range map[string][]uint32{"会議": {old.UID, cur.UID}, "東京": {old.UID}, "室": {cur.UID}, "京": {old.UID}} {
		res, err := st.SearchText(ctx, inbox.ID, []store.TextQuery{{Field: store.TextBody, Needle: needle}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Hits[0], want) || len(res.Unindexed) != 0 {
			t.Errorf("%q: hits %v unindexed %v, want %v", needle, res.Hits[0], res.Unindexed, want)
		}
	}
	list, err := st.UnindexedContents(ctx, 0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ContentID != oldContent {
		t.Fatalf("reindex work list %+v, want content %d", list, oldContent)
	}
	if err := st.IndexText(ctx, oldContent, &store.TextDoc{Body: "東京で会議\n", BodyComplete: true}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.pool.QueryRow(ctx, "SELECT count(*) FROM content_text WHERE string_to_array(grams, ' ') @> ARRAY['b東京']").Scan(&n); err != nil || n != 1 {
		t.Errorf("contents with b東京 after the reindex: %d (%v), want 1", n, err)
	}
}
