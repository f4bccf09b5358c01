package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"mailroom/internal/store/pgstore"
)

// RestoreOptions say where a backup goes.
type RestoreOptions struct {
	DataDir string
	Backend string // BackendSQLite or BackendPostgres: the configuration's
	DSN     string // for BackendPostgres
	// Force restores over a data directory (or database) that is not
	// empty: the store in it is replaced.
	Force bool
	PGBin string
	Log   io.Writer
}

func (o RestoreOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// ErrNotEmpty is a restore refused because its destination holds data.
var ErrNotEmpty = errors.New("not empty")

// Restore puts the backup in src into the configured store and data
// directory. Every file is checked against the manifest's size and hash
// as it is copied; a difference stops the restore. The SQLite database
// is put in place last, so an interrupted restore leaves no store that
// looks whole. No server may run on the destination meanwhile (the
// caller holds serve's lock).
func Restore(ctx context.Context, src string, opts RestoreOptions) (*Manifest, error) {
	start := time.Now()
	m, err := ReadManifest(src)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if m.Backend != opts.Backend {
		return nil, fmt.Errorf("restore: %s is a %s backup, the configuration's store is %s", src, m.Backend, opts.Backend)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	switch m.Backend {
	case BackendSQLite:
		err = restoreSQLite(ctx, src, m, opts)
	case BackendPostgres:
		err = restorePostgres(ctx, src, m, opts)
	}
	if err != nil {
		return nil, err
	}
	opts.logf("restored %d accounts, %d messages (%s backup, %d body files) from %s (made %s) in %v", m.Counts.Accounts, m.Counts.Messages,
		m.Backend, len(m.Bodies), src, m.Created.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	return m, nil
}

// dataDirEmpty tells whether dir holds nothing but what an empty
// installation may: serve's lock (the caller holds it) and lost+found.
func dataDirEmpty(dir string, backend string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		switch e.Name() {
		case "serve.lock", "lost+found":
			continue
		}
		return false, nil
	}
	return true, nil
}

func restoreSQLite(ctx context.Context, src string, m *Manifest, opts RestoreOptions) error {
	empty, err := dataDirEmpty(opts.DataDir, m.Backend)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !empty {
		if !opts.Force {
			return fmt.Errorf("restore: %w: data directory %s holds files: restore into an empty one (or --force to replace its store)", ErrNotEmpty, opts.DataDir)
		}
		for _, name := range []string{"mail.db", "mail.db-wal", "mail.db-shm", "mail.db-journal", "blobs"} {
			if err := os.RemoveAll(filepath.Join(opts.DataDir, name)); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
		}
	}
	made := map[string]bool{}
	for _, b := range m.Bodies {
		rel := filepath.Join(bodiesDir, filepath.FromSlash(b.Path))
		dst := filepath.Join(opts.DataDir, rel)
		if dir := filepath.Dir(dst); !made[dir] {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			made[dir] = true
		}
		if err := restoreFile(ctx, filepath.Join(src, rel), dst, b); err != nil {
			return err
		}
	}
	if err := restoreDataFiles(ctx, src, m, opts); err != nil {
		return err
	}
	tmp := filepath.Join(opts.DataDir, "mail.db.restoring")
	os.Remove(tmp)
	if err := restoreFile(ctx, filepath.Join(src, dbFile), tmp, m.Database); err != nil {
		return err
	}
	if err := syncFS(opts.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(opts.DataDir, dbFile)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(opts.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func restorePostgres(ctx context.Context, src string, m *Manifest, opts RestoreOptions) error {
	n, err := pgstore.CountTables(ctx, opts.DSN)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if n > 0 && !opts.Force {
		return fmt.Errorf("restore: %w: the database has %d tables: restore into a new database (createdb), or --force to replace what it has", ErrNotEmpty, n)
	}
	if empty, err := dataDirEmpty(opts.DataDir, m.Backend); err != nil {
		return fmt.Errorf("restore: %w", err)
	} else if !empty && !opts.Force && len(m.Files) > 0 {
		return fmt.Errorf("restore: %w: data directory %s holds files (--force to overwrite them)", ErrNotEmpty, opts.DataDir)
	}
	// The dump is checked whole before anything is restored from it.
	dump := filepath.Join(src, dumpFile)
	got, err := hashFile(src, dumpFile)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if got.Size != m.Database.Size || got.SHA256 != m.Database.SHA256 {
		return fmt.Errorf("restore: %s differs from the manifest (%d bytes, sha256 %s; the manifest says %d, %s)", dump, got.Size, got.SHA256, m.Database.Size, m.Database.SHA256)
	}
	args := []string{"--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname=" + opts.DSN}
	if n > 0 {
		args = append(args, "--clean", "--if-exists")
	}
	if err := runPG(ctx, opts.PGBin, "pg_restore", append(args, dump)...); err != nil {
		return fmt.Errorf("restore: %w (nothing was restored: pg_restore runs in one transaction)", err)
	}
	if err := restoreDataFiles(ctx, src, m, opts); err != nil {
		return err
	}
	return syncFS(opts.DataDir)
}

func restoreDataFiles(ctx context.Context, src string, m *Manifest, opts RestoreOptions) error {
	for _, f := range m.Files {
		rel, err := filepath.Rel(filesDir, filepath.FromSlash(f.Path))
		if err != nil || rel == "." || filepath.IsAbs(rel) || rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
			return fmt.Errorf("restore: manifest file %q is not under %s/", f.Path, filesDir)
		}
		dst := filepath.Join(opts.DataDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
		if err := restoreFile(ctx, filepath.Join(src, filepath.FromSlash(f.Path)), dst, f); err != nil {
			return err
		}
	}
	return nil
}

// restoreFile copies one file of the backup, checking it against want.
func restoreFile(ctx context.Context, from, to string, want File) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	got, err := copyFile(from, to)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if got.Size != want.Size || got.SHA256 != want.SHA256 {
		os.Remove(to)
		return fmt.Errorf("restore: %s differs from the manifest (%d bytes, sha256 %s; the manifest says %d, %s): the backup is damaged", from, got.Size, got.SHA256, want.Size, want.SHA256)
	}
	return nil
}
