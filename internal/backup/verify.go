package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

// Check verifies a backup directory without changing it: every file the
// manifest lists is there with its size and SHA-256; for SQLite, the
// database copy passes the store's checks (sqlitestore.VerifyDir) and
// holds what the manifest counted; for PostgreSQL, pg_restore can read the
// dump's table of contents. Problems go to report; the error is for a
// check that could not run.
func Check(ctx context.Context, dir, pgBin string, report func(store.Problem)) (*Manifest, store.VerifySummary, error) {
	var sum store.VerifySummary
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, sum, fmt.Errorf("verify: %w", err)
	}
	problem := func(format string, args ...any) {
		report(store.Problem{Check: "backup", Detail: fmt.Sprintf(format, args...)})
	}
	checkFile := func(rel string, want File) {
		got, err := hashFile(dir, rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problem("%s is missing", rel)
		case err != nil:
			problem("%s: %v", rel, err)
		case got.Size != want.Size:
			problem("%s is %d bytes, the manifest says %d", rel, got.Size, want.Size)
		case got.SHA256 != want.SHA256:
			problem("%s has sha256 %s, the manifest says %s", rel, got.SHA256, want.SHA256)
		}
	}
	checkFile(m.Database.Path, m.Database)
	for _, b := range m.Bodies {
		if err := ctx.Err(); err != nil {
			return m, sum, fmt.Errorf("verify: %w", err)
		}
		checkFile(filepath.ToSlash(filepath.Join(bodiesDir, b.Path)), b)
	}
	for _, f := range m.Files {
		checkFile(f.Path, f)
	}
	switch m.Backend {
	case BackendSQLite:
		if m.Schema != sqlitestore.SchemaVersion() {
			return m, sum, fmt.Errorf("verify: the backup's schema is version %d, this mailroom's %d: check it with the mailroom that made it (%s)", m.Schema, sqlitestore.SchemaVersion(), m.Mailroom)
		}
		sum, err = sqlitestore.VerifyDir(ctx, dir, report)
		if err != nil {
			return m, sum, err
		}
		c := m.Counts
		if sum.Accounts != c.Accounts || sum.Messages != c.Messages || sum.Contents != c.Contents || sum.Blobs != c.Bodies {
			problem("the database holds %d accounts, %d messages, %d contents, %d body files; the manifest counted %d, %d, %d, %d",
				sum.Accounts, sum.Messages, sum.Contents, sum.Blobs, c.Accounts, c.Messages, c.Contents, c.Bodies)
		}
	case BackendPostgres:
		if err := runPG(ctx, pgBin, "pg_restore", "--list", "--file=/dev/null", filepath.Join(dir, dumpFile)); err != nil {
			problem("the dump cannot be read: %v", err)
		}
		sum = store.VerifySummary{Accounts: m.Counts.Accounts, Mailboxes: m.Counts.Mailboxes, Messages: m.Counts.Messages, Contents: m.Counts.Contents}
	}
	return m, sum, nil
}
