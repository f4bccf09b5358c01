package blobfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"mailroom/internal/store/blob"
)

// Store is FS seen through the blob.Store interface. sqlitestore uses FS
// itself, for what only files have: one directory fsync shared by a batch
// of deliveries (SyncDir), and the crash sweeps (CleanTmp, RecentRefs).
// Store makes each Commit durable on its own instead (the blob's file and
// its directory fsynced), as blob.Writer promises. Same files, same
// references: the two views can be used side by side.
type Store struct{ fs *FS }

// Blobs returns the blob.Store view of b.
func (b *FS) Blobs() *Store { return &Store{fs: b} }

var _ blob.Store = (*Store)(nil)

// Create implements blob.Store.
func (s *Store) Create(ctx context.Context) (blob.Writer, error) {
	w, err := s.fs.Create()
	if err != nil {
		return nil, err
	}
	return &storeWriter{w: w}, nil
}

type storeWriter struct {
	w    *Writer
	done bool
}

func (w *storeWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("blobfs: write after commit or abort")
	}
	return w.w.Write(p)
}

func (w *storeWriter) Size() int64 { return w.w.Size() }

func (w *storeWriter) Commit(ctx context.Context) (string, error) {
	if w.done {
		return "", errors.New("blobfs: commit after commit or abort")
	}
	w.done = true
	ref, err := w.w.Commit()
	if err != nil {
		return "", err
	}
	if err := w.w.fs.SyncDir(Dir(ref)); err != nil {
		// Not known to be durable: not a body anyone may point at.
		w.w.fs.Remove(ref)
		return "", err
	}
	return ref, nil
}

func (w *storeWriter) Abort() {
	if !w.done {
		w.done = true
		w.w.Abort()
	}
}

// Open implements blob.Store.
func (s *Store) Open(ctx context.Context, ref string) (blob.Reader, error) {
	f, err := s.fs.Open(ref)
	if err != nil {
		return nil, mapErr(err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blobfs: %w", err)
	}
	return &reader{File: f, size: info.Size()}, nil
}

// reader is the blob's file: os.File's ReadAt already has io.ReaderAt's
// semantics and is safe for concurrent use (pread).
type reader struct {
	*os.File
	size int64
}

func (r *reader) Size() int64 { return r.size }

// Remove implements blob.Store.
func (s *Store) Remove(ctx context.Context, ref string) error {
	return mapErr(s.fs.Remove(ref))
}

// mapErr adds blob's sentinel errors to FS's, keeping FS's (and the path)
// in the message and in the chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBadRef):
		return fmt.Errorf("%w: %w", blob.ErrBadRef, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", blob.ErrNotFound, err)
	}
	return err
}
