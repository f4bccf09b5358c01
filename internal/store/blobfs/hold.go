package blobfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Holding off removals. A backup copies the database and then the body
// files its copy refers to; a verification reads the rows and then looks
// for their files. Either way the live store may expunge a message in
// between and remove its body, and the copy would refer to a file that is
// gone. So whoever removes bodies (the store's writer and its trash
// sweep) first takes remove.lock shared, without waiting, and a backup or
// verification holds it exclusively: while it does, removals are skipped
// and stay in the store's trash list for a later sweep. The lock is a
// flock, so it works between processes (a backup command and serve) and
// goes when a holder dies.

const removeLock = "remove.lock"

// ErrNoFlock is returned by HoldRemovals where the file system has no flock.
var ErrNoFlock = errors.New("blobfs: the file system does not support flock: removals of bodies cannot be held off (stop serve for a backup)")

// HoldRemovals waits until no removal is under way and holds off further
// ones until release is called (or the process ends).
func (b *FS) HoldRemovals(ctx context.Context) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(b.root, removeLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("blobfs: hold removals: %w", err)
	}
	// A removal takes milliseconds; poll rather than block in flock, so
	// that ctx can end the wait.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if noFlock(err) {
			f.Close()
			return nil, ErrNoFlock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("blobfs: hold removals: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("blobfs: hold removals: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// MayRemove reports whether bodies may be removed now: ok is false while
// a backup or verification holds removals off. When ok, call release once
// the removals are done. Where the file system has no flock, removals
// always may go (and HoldRemovals refuses).
func (b *FS) MayRemove() (release func(), ok bool) {
	f, err := os.OpenFile(filepath.Join(b.root, removeLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false // cannot tell: keep the bodies for a later sweep
	}
	if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err != nil && !noFlock(err) {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}
