package sqlitestore

import (
	"errors"
	"syscall"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// storageFull marks an error that says the disk is full as
// store.ErrInsufficientStorage, keeping its text and its cause: a body file
// that cannot grow (ENOSPC, or EDQUOT for the service user's disk quota)
// or SQLite's SQLITE_FULL for the database and its WAL.
func storageFull(err error) error {
	if err == nil || errors.Is(err, store.ErrInsufficientStorage) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || sqlite.ErrCode(err).ToPrimary() == sqlite.ResultFull {
		return fullError{err}
	}
	return err
}

type fullError struct{ err error }

func (e fullError) Error() string   { return e.err.Error() }
func (e fullError) Unwrap() []error { return []error{e.err, store.ErrInsufficientStorage} }
