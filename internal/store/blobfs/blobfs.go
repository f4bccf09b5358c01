// Package blobfs keeps message bodies as immutable files.
//
// A body is written to tmp/, fsynced, and renamed into objects/<hour>/; the
// object directory is fsynced before any database row refers to it, so a
// body that the database knows is always durable. Objects are grouped by the
// hour they were written in, so the many deliveries of one busy moment share
// one directory and one directory fsync (group commit).
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
	"time"
)

// FS is a directory of immutable blobs.
type FS struct {
	root string
	now  func() time.Time
}

// Open opens (creating if needed) the blob directory at root.
func Open(root string) (*FS, error) {
	for _, d := range []string{root, filepath.Join(root, "tmp"), filepath.Join(root, "objects")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("blobfs: %w", err)
		}
	}
	return &FS{root: root, now: time.Now}, nil
}

// Writer writes one new blob.
type Writer struct {
	fs   *FS
	f    *os.File
	size int64
}

// Create starts a new blob in tmp/.
func (b *FS) Create() (*Writer, error) {
	f, err := os.CreateTemp(filepath.Join(b.root, "tmp"), "in-*")
	if err != nil {
		return nil, fmt.Errorf("blobfs: create: %w", err)
	}
	return &Writer{fs: b, f: f}, nil
}

// Write appends to the blob.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Abort removes the unfinished blob.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
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
	if err := w.f.Sync(); err != nil {
		return "", fmt.Errorf("blobfs: fsync: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return "", fmt.Errorf("blobfs: close: %w", err)
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
	if err := os.Rename(w.f.Name(), w.fs.path(ref)); err != nil {
		return "", fmt.Errorf("blobfs: %w", err)
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

// CleanTmp removes unfinished blobs older than age: the leftovers of a crash
// in the middle of a write.
func (b *FS) CleanTmp(age time.Duration) error {
	dir := filepath.Join(b.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blobfs: %w", err)
	}
	cutoff := b.now().Add(-age)
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
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

// ModTime returns when a blob was written.
func (b *FS) ModTime(ref string) (time.Time, error) {
	info, err := os.Stat(b.path(ref))
	if err != nil {
		return time.Time{}, fmt.Errorf("blobfs: %w", err)
	}
	return info.ModTime(), nil
}

var _ io.Writer = (*Writer)(nil)
