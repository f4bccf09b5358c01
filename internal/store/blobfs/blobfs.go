// Package blobfs keeps message bodies as immutable files.
//
// A body is written to tmp/, fsynced, and renamed into objects/<hour>/; the
// object directory is fsynced before any database row refers to it, so a
// body that the database knows is always durable. Objects are grouped by the
// hour they were written in, so the many deliveries of one busy moment share
// one directory and one directory fsync (group commit).
//
// A file in tmp/ is locked (flock) by the process writing it for as long as
// it is there, so the leftovers of a crash (whose locks the kernel released)
// can be told from bodies another live process is receiving: see CleanTmp.
package blobfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FS is a directory of immutable blobs.
type FS struct {
	root string
	opts Options
	now  func() time.Time
}

// Options configure Open.
type Options struct {
	// WrapFile, if set, is given each new blob's file, and the blob's bytes
	// and its fsync go through what it returns. Tests use it to make writes
	// fail as on a full or failing disk, which cannot be had on purpose.
	WrapFile func(*os.File) File
}

// File is what writing a blob does with its file.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
}

// Open opens (creating if needed) the blob directory at root.
func Open(root string, opts Options) (*FS, error) {
	for _, d := range []string{root, filepath.Join(root, "tmp"), filepath.Join(root, "objects")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("blobfs: %w", err)
		}
	}
	return &FS{root: root, opts: opts, now: time.Now}, nil
}

// Writer writes one new blob.
type Writer struct {
	fs   *FS
	f    *os.File
	w    File // f, or what Options.WrapFile made of it
	size int64
}

// Create starts a new blob in tmp/, locked until Commit or Abort.
func (b *FS) Create() (*Writer, error) {
	f, err := b.createLocked()
	if err != nil {
		return nil, fmt.Errorf("blobfs: create: %w", err)
	}
	w := &Writer{fs: b, f: f, w: f}
	if b.opts.WrapFile != nil {
		w.w = b.opts.WrapFile(f)
	}
	return w, nil
}

// createLocked creates a file in tmp/ and locks it. Between the two the
// file is unlocked and would look like a crash's leftover, so both happen
// under a shared lock of tmp.lock, which CleanTmp holds exclusively while
// it looks. A file system without flock (some network and FUSE ones)
// leaves the file unlocked, and CleanTmp falls back to its age there.
func (b *FS) createLocked() (*os.File, error) {
	guard, err := b.lockTmp(syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	if guard != nil {
		defer guard.Close()
	}
	f, err := os.CreateTemp(filepath.Join(b.root, "tmp"), "in-*")
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX); err != nil && !noFlock(err) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// lockTmp takes tmp.lock (beside tmp/, so no clean removes it) shared or
// exclusive; closing the file releases it. It returns nil, nil where the
// file system has no flock.
func (b *FS) lockTmp(how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(b.root, "tmp.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		if noFlock(err) {
			return nil, nil
		}
		return nil, err
	}
	return f, nil
}

// flock applies flock(2) to f without taking its descriptor out of Go's
// poller (as f.Fd() would).
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return &fs.PathError{Op: "flock", Path: f.Name(), Err: ferr}
	}
	return nil
}

// noFlock reports a file system that does not implement flock.
func noFlock(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS)
}

// Write appends to the blob.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.size += int64(n)
	return n, err // an *fs.PathError naming the file, or the WrapFile's error
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Abort removes the unfinished blob. It is removed before its file is
// closed, while still locked, so no cleaner can take it for a leftover.
func (w *Writer) Abort() {
	os.Remove(w.f.Name())
	w.f.Close()
}

// Commit fsyncs the blob and moves it into the object tree. It returns the
// blob's reference. The caller must SyncDir(ref) before recording the
// reference anywhere durable.
func (w *Writer) Commit() (ref string, err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if err := w.w.Sync(); err != nil {
		return "", fmt.Errorf("blobfs: fsync: %w", err)
	}
	var rnd [10]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("blobfs: %w", err)
	}
	now := w.fs.now().UTC()
	shard := now.Format("2006010215")
	ref = shard + "/" + fmt.Sprintf("%x", now.UnixNano()) + "-" + hex.EncodeToString(rnd[:])
	dir := filepath.Join(w.fs.root, "objects", shard)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("blobfs: %w", err)
	}
	// Renamed while still open and locked: closed first, the file would
	// look like a crash's leftover to a cleaner until the rename.
	if err := os.Rename(w.f.Name(), w.fs.path(ref)); err != nil {
		return "", fmt.Errorf("blobfs: %w", err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.fs.path(ref))
		return "", fmt.Errorf("blobfs: close: %w", err)
	}
	return ref, nil
}

// Dir returns the directory a reference lives in, for SyncDir batching.
func Dir(ref string) string {
	shard, _, _ := strings.Cut(ref, "/")
	return shard
}

// SyncDir fsyncs the object directory of shard (see Dir), and the objects
// directory itself so a newly created shard directory is durable too.
func (b *FS) SyncDir(shard string) error {
	for _, d := range []string{filepath.Join(b.root, "objects", shard), filepath.Join(b.root, "objects")} {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blobfs: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blobfs: fsync %s: %w", dir, err)
	}
	return nil
}

func (b *FS) path(ref string) string {
	return filepath.Join(b.root, "objects", filepath.FromSlash(ref))
}

// ErrBadRef is returned for a reference that is not one of ours.
var ErrBadRef = errors.New("blobfs: malformed reference")

func checkRef(ref string) error {
	shard, name, ok := strings.Cut(ref, "/")
	if !ok || len(shard) != 10 || name == "" || strings.ContainsAny(name, `/\`) || strings.Contains(ref, "..") {
		return fmt.Errorf("%w %q", ErrBadRef, ref)
	}
	return nil
}

// Open opens a blob for reading.
func (b *FS) Open(ref string) (*os.File, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	f, err := os.Open(b.path(ref))
	if err != nil {
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	return f, nil
}

// Remove deletes a blob. Removing a blob that is already gone is not an error.
func (b *FS) Remove(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if err := os.Remove(b.path(ref)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobfs: %w", err)
	}
	return nil
}

// CleanTmp removes the unfinished blobs in tmp/ that no live process is
// writing, whatever their age, and returns how many it removed: the
// leftovers of a crash in the middle of a write.
//
// Age cannot tell a leftover from a body being received: an admin command
// or a second store on the same data may be writing into tmp/ right now,
// and a crash leftover may be seconds old. The flock each writer holds on
// its file until Commit or Abort can: the kernel drops it when its process
// dies, so a file whose lock can be taken is a leftover. CleanTmp removes
// it while holding that lock. A writer creates and locks its file under a
// shared lock of tmp.lock, which CleanTmp holds exclusively, so it never
// sees a new file in the moment before its writer locked it. Where the
// file system has no flock, only files older than staleAge go.
func (b *FS) CleanTmp() (int, error) {
	guard, err := b.lockTmp(syscall.LOCK_EX)
	if err != nil {
		return 0, fmt.Errorf("blobfs: clean tmp: %w", err)
	}
	if guard != nil {
		defer guard.Close()
	}
	dir := filepath.Join(b.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("blobfs: clean tmp: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if b.cleanOne(filepath.Join(dir, e.Name())) {
			removed++
		}
	}
	return removed, nil
}

// staleAge is how old a file in tmp/ must be to be removed where flock
// does not work: no body takes an hour to receive.
const staleAge = time.Hour

func (b *FS) cleanOne(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // gone meanwhile (committed or aborted), or not ours to read
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !noFlock(err) || !info.ModTime().Before(b.now().Add(-staleAge)) {
			return false // EWOULDBLOCK: a live writer holds it
		}
	}
	// Removed while locked: the file is ours until it is gone.
	// The name may have been committed away and reused since it was
	// opened: remove it only if it is still this file.
	if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, info) {
		return false
	}
	return os.Remove(path) == nil
}

// RecentRefs lists the blobs in the shards written within the last window,
// for the orphan sweep after a crash between Commit and the database commit.
func (b *FS) RecentRefs(window time.Duration) ([]string, error) {
	var refs []string
	now := b.now().UTC()
	seen := map[string]bool{}
	for t := now.Add(-window); !t.After(now.Add(time.Hour)); t = t.Add(time.Hour) {
		shard := t.Format("2006010215")
		if seen[shard] {
			continue
		}
		seen[shard] = true
		entries, err := os.ReadDir(filepath.Join(b.root, "objects", shard))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("blobfs: %w", err)
		}
		for _, e := range entries {
			refs = append(refs, shard+"/"+e.Name())
		}
	}
	return refs, nil
}

// EachRef calls fn with the reference of every blob in the object tree,
// shard by shard (one directory listing in memory at a time), stopping at
// fn's first error. A verification counts the bodies no row names with it.
func (b *FS) EachRef(fn func(ref string) error) error {
	shards, err := os.ReadDir(filepath.Join(b.root, "objects"))
	if err != nil {
		return fmt.Errorf("blobfs: %w", err)
	}
	for _, shard := range shards {
		if !shard.IsDir() || len(shard.Name()) != 10 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(b.root, "objects", shard.Name()))
		if err != nil {
			return fmt.Errorf("blobfs: %w", err)
		}
		for _, e := range entries {
			if err := fn(shard.Name() + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// ModTime returns when a blob was written.
func (b *FS) ModTime(ref string) (time.Time, error) {
	info, err := os.Stat(b.path(ref))
	if err != nil {
		return time.Time{}, fmt.Errorf("blobfs: %w", err)
	}
	return info.ModTime(), nil
}

var _ io.Writer = (*Writer)(nil)

// Size returns a blob's size in bytes.
func (b *FS) Size(ref string) (int64, error) {
	if err := checkRef(ref); err != nil {
		return 0, err
	}
	info, err := os.Stat(b.path(ref))
	if err != nil {
		return 0, fmt.Errorf("blobfs: %w", err)
	}
	return info.Size(), nil
}

// Path returns the file of a blob, for copying it elsewhere (a backup).
func (b *FS) Path(ref string) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	return b.path(ref), nil
}

// OpenExisting opens the blob directory at root for reading, creating
// nothing: a copy that is only to be checked (a backup) stays as it is.
func OpenExisting(root string) (*FS, error) {
	info, err := os.Stat(filepath.Join(root, "objects"))
	if err != nil {
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("blobfs: %s is not a directory", filepath.Join(root, "objects"))
	}
	return &FS{root: root, now: time.Now}, nil
}
