package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// TestRethreadMigrated: mail from before conversations, as the migration
// leaves it (undone and run again on a live database), is grouped by
// RethreadAccount.
func TestRethreadMigrated(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE thread_keys") })
	if i < 0 {
		t.Fatal("no thread migration")
	}
	storetest.RunRethreadMigrated(t, st, func(t *testing.T) {
		conn := connect(t, dsn)
		undo := `DROP TABLE thread_keys; DROP INDEX messages_thread; ALTER TABLE messages DROP COLUMN thread_id;`
		if _, err := conn.Exec(context.Background(), undo+migrations[i]); err != nil {
			t.Fatal(err)
		}
	})
}

// TestThreadKeysGoWithAccount: deleting an account deletes its thread keys.
func TestThreadKeysGoWithAccount(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	ctx := context.Background()
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
	for i := range 3 {
		m, err := st.Stage(ctx, strings.NewReader(fmt.Sprintf("Message-ID: <%d@x>\r\nReferences: <0@x>\r\nSubject: s\r\n\r\nx\r\n", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	conn := connect(t, dsn)
	count := func() int {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM thread_keys").Scan(&n); err != nil {
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
