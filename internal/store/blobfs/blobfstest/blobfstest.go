// Package blobfstest makes the body store's disk fill up or fail on demand,
// for tests: a real full disk cannot be had on purpose. It is imported by
// tests only.
package blobfstest

import (
	"io/fs"
	"os"
	"sync"
	"syscall"

	"mailroom/internal/store/blobfs"
)

// Disk is a fault injector for blobfs.Options.WrapFile. The zero value, or
// New's, lets everything through.
type Disk struct {
	mu      sync.Mutex
	room    int64 // bytes that still fit; < 0: no limit
	syncErr error
}

// New returns a Disk with no limit.
func New() *Disk { return &Disk{room: -1} }

// Fill makes the disk full once room more bytes are written: writes past
// that fail with ENOSPC, as the kernel reports it (an *fs.PathError).
func (d *Disk) Fill(room int64) {
	d.mu.Lock()
	d.room = room
	d.mu.Unlock()
}

// FailSync makes every fsync fail with err (nil: succeed again).
func (d *Disk) FailSync(err error) {
	d.mu.Lock()
	d.syncErr = err
	d.mu.Unlock()
}

// Free lifts the limit and the fsync failure.
func (d *Disk) Free() {
	d.mu.Lock()
	d.room, d.syncErr = -1, nil
	d.mu.Unlock()
}

// Wrap is a blobfs.Options.WrapFile.
func (d *Disk) Wrap(f *os.File) blobfs.File { return &file{d: d, f: f} }

type file struct {
	d *Disk
	f *os.File
}

func (x *file) Write(p []byte) (int, error) {
	x.d.mu.Lock()
	room := x.d.room
	n := int64(len(p))
	if room >= 0 && n > room {
		n = room
	}
	if room >= 0 {
		x.d.room -= n
	}
	x.d.mu.Unlock()
	k, err := x.f.Write(p[:n])
	if err == nil && k < len(p) {
		err = &fs.PathError{Op: "write", Path: x.f.Name(), Err: syscall.ENOSPC}
	}
	return k, err
}

func (x *file) Sync() error {
	x.d.mu.Lock()
	err := x.d.syncErr
	x.d.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "sync", Path: x.f.Name(), Err: err}
	}
	return x.f.Sync()
}
