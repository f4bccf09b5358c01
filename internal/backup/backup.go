package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/sqlitestore"
)

// Options are what a backup needs besides the store.
type Options struct {
	DataDir string // the node's data directory (its other files are copied)
	Dest    string // the new backup directory: must not exist, or be empty
	// Since is an earlier backup (SQLite): its body files that are still
	// in use are hard-linked instead of copied.
	Since   string
	Version string // the mailroom version, for the manifest
	// PGBin is the directory of pg_dump and pg_restore ("": $PATH).
	PGBin string
	// PGCompress is pg_dump's gzip level, 0 (none) to 9. Its own default
	// (6) took six times as long as 1 for an 11% smaller dump of the test
	// account (docs/benchmarks.md): bodies are mostly base64 of
	// compressed attachments.
	PGCompress int
	// Log, if set, gets a line per phase.
	Log io.Writer
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// SQLiteSnapshotter is the SQLite store as a backup uses it.
type SQLiteSnapshotter interface {
	Snapshot(ctx context.Context, dbPath string) (sqlitestore.Snapshot, func(), error)
}

// PostgresSnapshotter is the PostgreSQL store as a backup uses it.
type PostgresSnapshotter interface {
	Snapshot(ctx context.Context) (pgstore.Snapshot, func(), error)
}

// The layout of a backup.
const (
	dbFile    = "mail.db"
	dumpFile  = "database.pgdump"
	bodiesDir = "blobs/objects"
	filesDir  = "files"
)

// SQLite backs up a SQLite store while it serves. The database is copied
// with SQLite's online backup (one consistent snapshot) while removals of
// body files are held off, then every body file the copy refers to is
// copied (or linked from opts.Since) before removals resume: so the backup
// has every body its database needs, whatever was expunged meanwhile.
func SQLite(ctx context.Context, st SQLiteSnapshotter, opts Options) (m *Manifest, err error) {
	start := time.Now()
	var prev map[string]File
	if opts.Since != "" {
		pm, err := ReadManifest(opts.Since)
		if err != nil {
			return nil, fmt.Errorf("backup: --since: %w", err)
		}
		if pm.Backend != BackendSQLite {
			return nil, fmt.Errorf("backup: --since %s is a %s backup", opts.Since, pm.Backend)
		}
		prev = make(map[string]File, len(pm.Bodies))
		for _, b := range pm.Bodies {
			prev[b.Path] = b
		}
	}
	if err := makeDest(opts.Dest, opts.DataDir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(opts.Dest) // ours: made empty above
		}
	}()
	m = &Manifest{Format: Format, Mailroom: opts.Version, Backend: BackendSQLite, Created: start.UTC(), Since: opts.Since}
	snap, release, err := st.Snapshot(ctx, filepath.Join(opts.Dest, dbFile))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m.Schema = snap.Schema
	m.Counts = Counts{Accounts: snap.Accounts, Mailboxes: snap.Mailboxes, Messages: snap.Messages, Contents: snap.Contents}
	opts.logf("database copied in %v: %d accounts, %d messages, %d body files to copy", time.Since(start).Round(time.Millisecond), snap.Accounts, snap.Messages, len(snap.Bodies))
	err = copyBodies(ctx, snap.Bodies, prev, opts, m)
	release()
	if err != nil {
		return nil, err
	}
	if m.Database, err = hashFile(opts.Dest, dbFile); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := finish(ctx, m, opts); err != nil {
		return nil, err
	}
	opts.logf("backup of %d messages, %d body files (%d linked) done in %v", m.Counts.Messages, m.Counts.Bodies, m.Counts.Linked, time.Since(start).Round(time.Millisecond))
	return m, nil
}

func copyBodies(ctx context.Context, bodies []sqlitestore.SnapshotBody, prev map[string]File, opts Options, m *Manifest) error {
	m.Bodies = make([]File, 0, len(bodies))
	made := map[string]bool{}
	for _, b := range bodies {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		rel := filepath.Join(bodiesDir, filepath.FromSlash(b.Ref))
		dst := filepath.Join(opts.Dest, rel)
		if dir := filepath.Dir(dst); !made[dir] {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			made[dir] = true
		}
		// Bodies are immutable: one of the earlier backup with the same
		// reference and size is this body.
		if p, ok := prev[b.Ref]; ok && p.Size == b.Size {
			if err := os.Link(filepath.Join(opts.Since, bodiesDir, filepath.FromSlash(b.Ref)), dst); err == nil {
				m.Bodies = append(m.Bodies, p)
				m.Counts.Bodies++
				m.Counts.BodyBytes += p.Size
				m.Counts.Linked++
				continue
			}
		}
		f, err := copyFile(b.Path, dst)
		if err != nil {
			return fmt.Errorf("backup: body %s: %w", b.Ref, err)
		}
		if f.Size != b.Size {
			return fmt.Errorf("backup: body %s is %d bytes, the database says %d", b.Ref, f.Size, b.Size)
		}
		f.Path = b.Ref
		m.Bodies = append(m.Bodies, f)
		m.Counts.Bodies++
		m.Counts.BodyBytes += f.Size
	}
	return nil
}

// Postgres backs up a PostgreSQL store with pg_dump (custom format) from
// a snapshot exported by the store, so that the manifest's counts are
// those of the dump.
func Postgres(ctx context.Context, st PostgresSnapshotter, dsn string, opts Options) (m *Manifest, err error) {
	start := time.Now()
	if opts.Since != "" {
		return nil, errors.New("backup: --since is for SQLite backups (a PostgreSQL backup is one dump; see docs/operations.md for WAL archiving)")
	}
	if err := makeDest(opts.Dest, opts.DataDir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(opts.Dest)
		}
	}()
	snap, release, err := st.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m = &Manifest{Format: Format, Mailroom: opts.Version, Backend: BackendPostgres, Created: start.UTC(), Schema: snap.Schema,
		Counts: Counts{Accounts: snap.Accounts, Mailboxes: snap.Mailboxes, Messages: snap.Messages, Contents: snap.Contents}}
	if opts.PGCompress < 0 || opts.PGCompress > 9 {
		return nil, fmt.Errorf("backup: compression level %d is not 0 to 9", opts.PGCompress)
	}
	err = runPG(ctx, opts.PGBin, "pg_dump", "--format=custom", fmt.Sprintf("--compress=%d", opts.PGCompress), "--snapshot="+snap.ID, "--file="+filepath.Join(opts.Dest, dumpFile), "--dbname="+dsn)
	release()
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if m.Database, err = hashFile(opts.Dest, dumpFile); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := finish(ctx, m, opts); err != nil {
		return nil, err
	}
	opts.logf("backup of %d messages (dump %d bytes) done in %v", m.Counts.Messages, m.Database.Size, time.Since(start).Round(time.Millisecond))
	return m, nil
}

// runPG runs a PostgreSQL client program, with its standard error in the
// error.
func runPG(ctx context.Context, binDir, name string, args ...string) error {
	prog := name
	if binDir != "" {
		prog = filepath.Join(binDir, name)
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// finish copies the data directory's other files, makes everything
// durable and writes the manifest.
func finish(ctx context.Context, m *Manifest, opts Options) error {
	files, err := copyDataFiles(ctx, opts.DataDir, filepath.Join(opts.Dest, filesDir))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m.Files = files
	if err := syncFS(opts.Dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := writeManifest(opts.Dest, m); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// makeDest creates the backup directory, which must be new or empty, and
// not inside the data directory (whose files it copies).
func makeDest(dest, dataDir string) error {
	if dest == "" {
		return errors.New("backup: no destination")
	}
	if dataDir != "" {
		absDest, err1 := filepath.Abs(dest)
		absData, err2 := filepath.Abs(dataDir)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("backup: %w", errors.Join(err1, err2))
		}
		if rel, err := filepath.Rel(absData, absDest); err == nil && filepath.IsLocal(rel) || absDest == absData {
			return fmt.Errorf("backup: %s is inside the data directory %s: back up elsewhere", dest, dataDir)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err := os.Mkdir(dest, 0o700)
	if errors.Is(err, fs.ErrExist) {
		entries, rerr := os.ReadDir(dest)
		if rerr != nil {
			return fmt.Errorf("backup: %w", rerr)
		}
		if len(entries) > 0 {
			return fmt.Errorf("backup: %s exists and is not empty: back up into a new directory", dest)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// skipData is what of the data directory is not copied as a file: the
// store (copied as a snapshot above), the locks, and SQLite's temporary
// files.
func skipData(rel string) bool {
	switch rel {
	case "mail.db", "mail.db-wal", "mail.db-shm", "mail.db-journal", "mail.db.restoring", "blobs", "serve.lock":
		return true
	}
	return false
}

// copyDataFiles copies the regular files of dataDir (but the store) into
// dst, keeping the tree.
func copyDataFiles(ctx context.Context, dataDir, dst string) ([]File, error) {
	if dataDir == "" {
		return nil, nil
	}
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a PostgreSQL node that never wrote a file there
	}
	var files []File
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dataDir {
				return nil // removed meanwhile
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil || rel == "." {
			return err
		}
		if skipData(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // directories are made as needed; no links, sockets
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		f, err := copyFile(path, target)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		f.Path = filepath.ToSlash(filepath.Join(filesDir, rel))
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", dataDir, err)
	}
	return files, nil
}

// copyFile copies src to a new file dst and hashes it on the way. It does
// not fsync: syncFS does it once for the whole backup.
func copyFile(src, dst string) (File, error) {
	in, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer in.Close()
	mode := os.FileMode(0o600)
	if info, err := in.Stat(); err == nil {
		mode = info.Mode().Perm()
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return File{}, fmt.Errorf("copy %s: %w", src, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// hashFile is the File of rel in dir.
func hashFile(dir, rel string) (File, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return File{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// syncFS makes everything written under dir durable with one syncfs(2)
// (the file system dir is on), rather than an fsync per file: a backup
// writes many small files.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
