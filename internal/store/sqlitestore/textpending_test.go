package sqlitestore

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
)

// pendingCounts returns how many contents wait for the index and how many
// are in it.
func pendingCounts(t *testing.T, st *Store) (pending, indexed int) {
	t.Helper()
	err := st.read(context.Background(), func(conn *sqlite.Conn) error {
		if err := execConn(conn, "SELECT count(*) FROM content_text_pending", func(s *sqlite.Stmt) error {
			pending = s.ColumnInt(0)
			return nil
		}); err != nil {
			return err
		}
		return execConn(conn, "SELECT count(*) FROM content_text", func(s *sqlite.Stmt) error {
			indexed = s.ColumnInt(0)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return pending, indexed
}

func deliverBody(t *testing.T, st *Store, mailboxID int64, body string) store.Delivered {
	t.Helper()
	ctx := context.Background()
	m, err := st.Stage(ctx, bytes.NewReader([]byte("Subject: x\r\n\r\n"+body+"\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	m.(store.TextStager).SetText(&store.TextDoc{Subject: "X\n", Header: "SUBJECT: X\n", Body: body + "\n", BodyComplete: true})
	d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: mailboxID}})
	if err != nil {
		t.Fatal(err)
	}
	return d[0]
}

func wantBodyHits(t *testing.T, st *Store, mailboxID int64, needle string, want ...uint32) {
	t.Helper()
	res, err := st.SearchText(context.Background(), mailboxID, []store.TextQuery{{Field: store.TextBody, Needle: needle}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Hits[0], want) && len(res.Hits[0])+len(want) > 0 || len(res.Unindexed) > 0 {
		t.Errorf("%q: hits %v unindexed %v, want %v", needle, res.Hits[0], res.Unindexed, want)
	}
}

// TestTextPendingIndexedInBackground: a delivery leaves its text pending,
// searches find it there at once (the short needle, the trigram one, the
// CJK gram), and the indexer moves it into the index shortly after,
// without any further write.
func TestTextPendingIndexedInBackground(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	other, err := st.CreateMailbox(context.Background(), inbox.AccountID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	a := deliverBody(t, st, inbox.ID, "MEETING IN 東京 TOMORROW")
	deliverBody(t, st, other.ID, "MEETING ELSEWHERE")
	if p, _ := pendingCounts(t, st); p != 2 {
		t.Fatalf("pending %d right after the deliveries, want 2", p)
	}
	check := func() {
		t.Helper()
		wantBodyHits(t, st, inbox.ID, "MEETING", a.UID)
		wantBodyHits(t, st, inbox.ID, "NG", a.UID)
		wantBodyHits(t, st, inbox.ID, "東京", a.UID)
		wantBodyHits(t, st, inbox.ID, "ELSEWHERE")
	}
	check()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, i := pendingCounts(t, st)
		if p == 0 && i == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d pending, %d indexed", p, i)
		}
		time.Sleep(20 * time.Millisecond)
	}
	check()
}

// TestTextPendingExpungedBeforeIndexing: mail deleted before the indexer
// got to it leaves nothing behind, and the index is never touched.
func TestTextPendingExpungedBeforeIndexing(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	d := deliverBody(t, st, inbox.ID, "SHORT-LIVED")
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{d.UID}); err != nil {
		t.Fatal(err)
	}
	if err := st.FlushText(ctx); err != nil {
		t.Fatal(err)
	}
	if p, i := pendingCounts(t, st); p != 0 || i != 0 {
		t.Errorf("after the expunge: %d pending, %d indexed", p, i)
	}
	var entries int
	if err := st.read(ctx, func(conn *sqlite.Conn) error {
		return execConn(conn, "SELECT count(*) FROM content_indexed", func(s *sqlite.Stmt) error {
			entries = s.ColumnInt(0)
			return nil
		})
	}); err != nil || entries != 0 {
		t.Errorf("content_indexed rows %d (%v)", entries, err)
	}
}

// TestTextPendingSurvivesRestart: text still pending when the store
// closes (or the process dies) is indexed after the next start.
func TestTextPendingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	inbox := setupInbox(t, st)
	d := deliverBody(t, st, inbox.ID, "KEPT FOR LATER")
	st.Close() // before indexDelay: nothing was indexed
	st = openTest(t, dir)
	defer st.Close()
	if p, _ := pendingCounts(t, st); p != 1 {
		t.Fatalf("pending %d after the restart, want 1", p)
	}
	wantBodyHits(t, st, inbox.ID, "FOR LATER", d.UID)
	deadline := time.Now().Add(10 * time.Second)
	for p, i := pendingCounts(t, st); p != 0 || i != 1; p, i = pendingCounts(t, st) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d pending, %d indexed", p, i)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantBodyHits(t, st, inbox.ID, "FOR LATER", d.UID)
}

// TestIndexWait: the indexer waits while the writer is busy, unless the
// backlog is too large to wait.
func TestIndexWait(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer st.Close()
	st.lastWrite.Store(time.Now().UnixNano())
	st.pendingBytes.Store(1)
	if w := st.indexWait(); w <= 0 || w > indexIdle {
		t.Errorf("busy writer, small backlog: wait %v", w)
	}
	st.pendingBytes.Store(indexBacklog)
	if w := st.indexWait(); w != 0 {
		t.Errorf("busy writer, full backlog: wait %v", w)
	}
	st.pendingBytes.Store(1)
	st.lastWrite.Store(time.Now().Add(-2 * indexIdle).UnixNano())
	if w := st.indexWait(); w != 0 {
		t.Errorf("idle writer: wait %v", w)
	}
}

// TestIndexPendingBatches: a backlog larger than one batch is moved in
// several, every content once.
func TestIndexPendingBatches(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	n := indexBatchRows + 10
	for i := range n {
		deliverBody(t, st, inbox.ID, "NUMBER "+string(rune('A'+i%26)))
	}
	more, err := st.indexPending(ctx)
	if err != nil || !more {
		t.Fatalf("first batch: more %v, %v", more, err)
	}
	if p, i := pendingCounts(t, st); p+i != n || i == 0 {
		t.Errorf("after one batch: %d pending, %d indexed, want %d in all", p, i, n)
	}
	if err := st.FlushText(ctx); err != nil {
		t.Fatal(err)
	}
	if p, i := pendingCounts(t, st); p != 0 || i != n {
		t.Errorf("after the flush: %d pending, %d indexed", p, i)
	}
	res, err := st.SearchText(ctx, inbox.ID, []store.TextQuery{{Field: store.TextBody, Needle: "NUMBER"}}, nil)
	if err != nil || len(res.Hits[0]) != n {
		t.Errorf("hits %d, want %d (%v)", len(res.Hits[0]), n, err)
	}
}

// TestTextDeadEntries: expunging indexed mail only unlinks its entry; it
// matches nothing from then on, and the indexer deletes it from the FTS5
// tables.
func TestTextDeadEntries(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	gone := deliverBody(t, st, inbox.ID, "OLD NEWS 東京")
	kept := deliverBody(t, st, inbox.ID, "OLD TIMES")
	if err := st.FlushText(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{gone.UID}); err != nil {
		t.Fatal(err)
	}
	// Another message now, so that a stale entry would have a chance to
	// be taken for it.
	again := deliverBody(t, st, inbox.ID, "NEWS AGAIN")
	wantBodyHits(t, st, inbox.ID, "OLD", kept.UID)
	wantBodyHits(t, st, inbox.ID, "NEWS", again.UID)
	wantBodyHits(t, st, inbox.ID, "東京")
	var dead int
	count := func() {
		t.Helper()
		if err := st.read(ctx, func(conn *sqlite.Conn) error {
			return execConn(conn, "SELECT count(*) FROM content_text_dead", func(s *sqlite.Stmt) error {
				dead = s.ColumnInt(0)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
	}
	count()
	if _, i := pendingCounts(t, st); dead != 1 || i != 2 {
		t.Fatalf("after the expunge: %d dead, %d in content_text; want 1, 2", dead, i)
	}
	if err := st.FlushText(ctx); err != nil {
		t.Fatal(err)
	}
	count()
	if p, i := pendingCounts(t, st); dead != 0 || p != 0 || i != 2 {
		t.Errorf("after the flush: %d dead, %d pending, %d indexed; want 0, 0, 2", dead, p, i)
	}
	wantBodyHits(t, st, inbox.ID, "OLD", kept.UID)
	wantBodyHits(t, st, inbox.ID, "東京")
}

// TestTextFieldsMigrated: migration 14 moves the header fields of the
// entries made before it (kept in content_text's h_ columns) to
// content_fields, where FROM and the like now look; migration 15 gives
// the index positions (detail=full), the old entries' text waiting in
// content_text_pending (searched there) until the indexer takes it.
func TestTextFieldsMigrated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTest(t, dir)
	inbox := setupInbox(t, st)
	d := deliverBody(t, st, inbox.ID, "BODY TEXT")
	if err := st.FlushText(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Back to before migration 14, as an older version left it: the
	// content_text of migration 11, with the header fields in it.
	conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadWrite|sqlite.OpenWAL)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteScript(conn, `DROP TRIGGER content_unindexed_new; DROP TRIGGER content_unindexed_gone;
		DROP TRIGGER content_unindexed_indexed; DROP TRIGGER content_unindexed_dropped; DROP TRIGGER content_unindexed_changed;
		DROP TABLE content_unindexed; DROP INDEX messages_prefixed; DROP TABLE mailbox_acl; DROP TABLE delegations;
		DROP TABLE quota_accounts; DROP TABLE quota_domains; DROP TABLE quota_server;
		ALTER TABLE accounts DROP COLUMN shared;
		DROP TABLE mailbox_metadata; DROP TABLE server_metadata;
		DROP TABLE private_seen; ALTER TABLE mailboxes DROP COLUMN shared_seen;
		DROP TABLE sieve_scripts; DROP TABLE sieve_duplicates; DROP TABLE fetch_uids; DROP TABLE fetch_sources;
		DROP TABLE vanished; DROP TABLE mailbox_tombstones; DROP TABLE access_tokens; ALTER TABLE accounts DROP COLUMN modseq;
		ALTER TABLE mailboxes DROP COLUMN created_modseq; ALTER TABLE mailboxes DROP COLUMN meta_modseq;
		DROP TABLE uploads;
		DROP TABLE content_fields; DROP TABLE content_text_pending; DROP TABLE content_text_dead;
		DROP TABLE email_submissions; DROP TABLE contact_terms; DROP TABLE contacts;
		DROP TABLE content_text;
		CREATE VIRTUAL TABLE content_text USING fts5(
			hdr, body, h_from, h_to, h_cc, h_bcc, h_subject,
			tokenize = 'trigram case_sensitive 1', detail = none
		);
		INSERT INTO content_text (rowid, hdr, body, h_from, h_to, h_cc, h_bcc, h_subject)
			SELECT content_id, 'SUBJECT: X', 'BODY TEXT', 'OLD SENDER <OLD@EXAMPLE.ORG>', '', '', '', 'X' FROM content_indexed;
		PRAGMA user_version = 13;`, nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	st = openTest(t, dir)
	defer st.Close()
	var schema string
	if err := st.read(ctx, func(conn *sqlite.Conn) error {
		return execConn(conn, "SELECT sql FROM sqlite_schema WHERE name = 'content_text'", func(s *sqlite.Stmt) error {
			schema = s.ColumnText(0)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(schema, "detail = full") || strings.Contains(schema, "h_from") {
		t.Errorf("content_text after the migrations: %s", schema)
	}
	queries := []store.TextQuery{
		{Field: store.TextFrom, Needle: "OLD@EXAMPLE"},
		{Field: store.TextSubject, Needle: "X"},
		{Field: store.TextBody, Needle: "BODY TEXT"},
		{Field: store.TextAll, Needle: "SUBJECT: X"},
	}
	for _, when := range []string{"after the migration", "after the flush"} {
		res, err := st.SearchText(ctx, inbox.ID, queries, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range res.Hits {
			if !slices.Equal(h, []uint32{d.UID}) {
				t.Errorf("query %d %s: hits %v, want [%d]", i, when, h, d.UID)
			}
		}
		if p, _ := pendingCounts(t, st); when == "after the migration" && p != 1 {
			t.Errorf("%d contents pending after the migration, want 1", p)
		}
		if err := st.FlushText(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p, i := pendingCounts(t, st); p != 0 || i != 1 {
		t.Errorf("after the flush: %d pending, %d indexed; want 0, 1", p, i)
	}
}

// TestTextWaiting: the idle poll's read sees pending text and dead
// entries, and nothing once they are done.
func TestTextWaiting(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	if st.textWaiting(ctx) {
		t.Fatal("waiting in an empty store")
	}
	d := deliverBody(t, st, inbox.ID, "SOMETHING")
	if !st.textWaiting(ctx) {
		t.Error("pending text not seen")
	}
	if err := st.FlushText(ctx); err != nil {
		t.Fatal(err)
	}
	if st.textWaiting(ctx) {
		t.Error("waiting after the flush")
	}
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{d.UID}); err != nil {
		t.Fatal(err)
	}
	if !st.textWaiting(ctx) {
		t.Error("dead entry not seen")
	}
}
