package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

// threadMigration is the migration that added conversations.
func threadMigration(t *testing.T) string {
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE thread_keys") })
	if i < 0 {
		t.Fatal("no thread migration")
	}
	return migrations[i]
}

// TestRethreadMigrated: mail from before conversations, as the migration
// leaves it (undone and run again on a live database), is grouped by
// RethreadAccount.
func TestRethreadMigrated(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	defer st.Close()
	storetest.RunRethreadMigrated(t, st, func(t *testing.T) {
		conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadWrite|sqlite.OpenWAL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		undo := `DROP TABLE thread_keys; DROP INDEX messages_thread; ALTER TABLE messages DROP COLUMN thread_id;`
		if err := sqlitex.ExecuteScript(conn, undo+threadMigration(t), nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestThreadMessagesUsesIndex: listing a thread seeks the thread index
// instead of scanning messages.
func TestThreadMessagesUsesIndex(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	st.Close()
	conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadOnly|sqlite.OpenWAL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var plan []string
	err = sqlitex.Execute(conn, "EXPLAIN QUERY PLAN "+threadMessagesQuery, &sqlitex.ExecOptions{
		Args:       []any{1, 1},
		ResultFunc: func(st *sqlite.Stmt) error { plan = append(plan, st.ColumnText(3)); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "USING INDEX messages_thread (thread_id=? AND mailbox_id=?)") {
		t.Fatalf("plan does not seek messages_thread:\n%s", strings.Join(plan, "\n"))
	}
}

// TestThreadKeysGoWithAccount: deleting an account deletes its thread keys.
func TestThreadKeysGoWithAccount(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	defer st.Close()
	ctx := context.Background()
	inbox := setupInbox(t, st)
	for i := range 3 {
		m, err := st.Stage(ctx, strings.NewReader(fmt.Sprintf("Message-ID: <%d@x>\r\nReferences: <0@x>\r\nSubject: s\r\n\r\nx\r\n", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		if err := st.query(ctx, "SELECT count(*) FROM thread_keys", func(s *sqlite.Stmt) error { n = s.ColumnInt(0); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("%d thread keys, want 3 (ids 0, 1, 2 in one thread)", n)
	}
	if err := st.DeleteAccount(ctx, "demo@example.test"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d thread keys left after DeleteAccount", n)
	}
}
