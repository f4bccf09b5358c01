package sqlitestore

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// TestTextGramsBeforeMigration: a content indexed before the short grams
// existed (content_indexed.grams 0, no content_grams row, as migration 12
// leaves every older content) is still found by a 2-character needle,
// through the scan, and is on the reindex work list until reindexed.
func TestTextGramsBeforeMigration(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
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
	if err := st.FlushText(ctx); err != nil { // into content_grams, to be taken out as before migration 13
		t.Fatal(err)
	}
	var oldContent int64
	if err := st.write(ctx, func(tx *txn) error {
		return tx.query("SELECT content_id FROM messages WHERE mailbox_id = ? AND uid = ?", func(stmt *sqlite.Stmt) error {
			oldContent = stmt.ColumnInt64(0)
			return nil
		}, inbox.ID, old.UID)
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM content_grams WHERE rowid = ?", oldContent); err != nil {
			return err
		}
		return tx.exec("UPDATE content_indexed SET grams = 0 WHERE content_id = ?", oldContent)
	}); err != nil {
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
	n := 0
	if err := st.write(ctx, func(tx *txn) error {
		return tx.query("SELECT count(*) FROM content_grams WHERE content_grams MATCH '\"b東京\"'", func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt(0); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("content_grams rows with b東京 after the reindex: %d, want 1", n)
	}
}
