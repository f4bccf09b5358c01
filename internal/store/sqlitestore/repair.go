package sqlitestore

import (
	"fmt"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Migration 14 was changed after it had been released: main ran its first
// form (commit bff0a07) for a while before the header fields moved from
// content_text_pending (and content_text) to a table of their own,
// content_fields (commit c117982). A database that ran the first form
// reached version 14 with h_ columns in content_text_pending and no
// content_fields, and every later version believes otherwise: migration
// 15 fails on it as soon as any mail is indexed, and deliveries fail
// ("NOT NULL constraint failed: content_text_pending.h_from").
// repairMigration14 gives such a database the shape migration 14 makes
// now, keeping every field. It looks at the tables rather than the
// version, since both forms say 14, and changes nothing in a database of
// the current form. migrate runs it before migration 15 and once more
// when the migrations are done, for a database that went past 15 while
// its index was empty.
func repairMigration14(conn *sqlite.Conn) error {
	pendingFields, err := hasColumn(conn, "content_text_pending", "h_from")
	if err != nil {
		return err
	}
	fields, err := hasTable(conn, "content_fields")
	if err != nil {
		return err
	}
	if !pendingFields && fields {
		return nil
	}
	script := ""
	if !fields {
		script += `
CREATE TABLE content_fields (
	content_id INTEGER PRIMARY KEY,
	h_from TEXT NOT NULL, h_to TEXT NOT NULL, h_cc TEXT NOT NULL, h_bcc TEXT NOT NULL, h_subject TEXT NOT NULL
);`
		// Before migration 15 the indexed entries still hold their
		// fields, as the current migration 14 expects; after it no
		// entries had any (content_text was empty when 15 passed).
		textFields, err := hasColumn(conn, "content_text", "h_from")
		if err != nil {
			return err
		}
		if textFields {
			script += `
INSERT INTO content_fields (content_id, h_from, h_to, h_cc, h_bcc, h_subject)
	SELECT t.rowid, t.h_from, t.h_to, t.h_cc, t.h_bcc, t.h_subject FROM content_text t
	WHERE t.rowid IN (SELECT content_id FROM content_indexed);`
		}
	}
	if pendingFields {
		// Today's deliveries write a pending entry's fields to
		// content_fields at once.
		script += `
INSERT OR REPLACE INTO content_fields (content_id, h_from, h_to, h_cc, h_bcc, h_subject)
	SELECT content_id, h_from, h_to, h_cc, h_bcc, h_subject FROM content_text_pending;
CREATE TABLE content_text_pending_repaired (
	content_id INTEGER PRIMARY KEY,
	hdr TEXT NOT NULL, body TEXT NOT NULL, grams TEXT NOT NULL
);
INSERT INTO content_text_pending_repaired (content_id, hdr, body, grams)
	SELECT content_id, hdr, body, grams FROM content_text_pending;
DROP TABLE content_text_pending;
ALTER TABLE content_text_pending_repaired RENAME TO content_text_pending;`
	}
	if err := sqlitex.ExecuteScript(conn, script, nil); err != nil {
		return fmt.Errorf("repairing the first form of migration 14: %w", err)
	}
	return nil
}

// Migration 1 was changed after it had been released too: the first
// release (commit 408d5fd, accounts but no protocol yet) made contents
// without the body column and its blob index, and no pop3_hidden.
// repairMigration1 adds them where they are missing; migrate runs it
// before migration 2 and once more when the migrations are done.
func repairMigration1(conn *sqlite.Conn) error {
	body, err := hasColumn(conn, "contents", "body")
	if err != nil || body {
		return err
	}
	err = sqlitex.ExecuteScript(conn, `
ALTER TABLE contents ADD COLUMN body BLOB;
CREATE INDEX IF NOT EXISTS contents_blob ON contents (blob) WHERE blob != '';
CREATE TABLE IF NOT EXISTS pop3_hidden (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	msgid      INTEGER NOT NULL,
	PRIMARY KEY (account_id, msgid)
) WITHOUT ROWID;`, nil)
	if err != nil {
		return fmt.Errorf("repairing the first form of migration 1: %w", err)
	}
	return nil
}

// repairAfterMigrations runs the repairs, in a transaction, on a database
// that needs one; one that does not (all but a few) costs three reads.
func repairAfterMigrations(conn *sqlite.Conn) (err error) {
	pendingFields, err := hasColumn(conn, "content_text_pending", "h_from")
	if err != nil {
		return err
	}
	fields, err := hasTable(conn, "content_fields")
	if err != nil {
		return err
	}
	body, err := hasColumn(conn, "contents", "body")
	if err != nil || !pendingFields && fields && body {
		return err
	}
	end, err := sqlitex.ImmediateTransaction(conn)
	if err != nil {
		return fmt.Errorf("repairing the schema: %w", err)
	}
	defer end(&err)
	if err := repairMigration1(conn); err != nil {
		return err
	}
	return repairMigration14(conn)
}

func hasTable(conn *sqlite.Conn, table string) (bool, error) {
	found := false
	err := sqlitex.ExecuteTransient(conn, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", &sqlitex.ExecOptions{
		Args:       []any{table},
		ResultFunc: func(*sqlite.Stmt) error { found = true; return nil },
	})
	if err != nil {
		return false, fmt.Errorf("looking for table %s: %w", table, err)
	}
	return found, nil
}

func hasColumn(conn *sqlite.Conn, table, column string) (bool, error) {
	found := false
	err := sqlitex.ExecuteTransient(conn, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", &sqlitex.ExecOptions{
		Args:       []any{table, column},
		ResultFunc: func(*sqlite.Stmt) error { found = true; return nil },
	})
	if err != nil {
		return false, fmt.Errorf("looking for column %s.%s: %w", table, column, err)
	}
	return found, nil
}
