package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/term"

	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/store/storecopy"
)

const storeUsage = "usage: mailroom store copy|verify --from DATA_DIR|DSN --to DATA_DIR|DSN"

// cmdStore is `mailroom store copy`: a whole installation from one store
// to another (SQLite's data directory to PostgreSQL and back), verified;
// and `mailroom store verify`, the verification alone, on two stores.
func cmdStore(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 || (args[0] != "copy" && args[0] != "verify") {
		return usagef("%s", storeUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("store "+sub, flag.ContinueOnError)
	from := fs.String("from", "", "the source: a SQLite data directory or a PostgreSQL DSN")
	to := fs.String("to", "", "the destination, empty or new: a data directory or a DSN")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 || *from == "" || *to == "" {
		return usagef("%s", storeUsage)
	}
	if *from == *to {
		return usagef("store %s: --from and --to are the same store", sub)
	}

	src, closeSrc, err := openCopySource(ctx, *from)
	if err != nil {
		return err
	}
	defer closeSrc()
	pw := storecopy.NewProgressWriter(sio.err, isTerminal(sio.err))
	if sub == "verify" {
		// Both ends only read: the destination is opened as a source.
		dst, closeDst, err := openCopySource(ctx, *to)
		if err != nil {
			return err
		}
		defer closeDst()
		rep, err := storecopy.Verify(ctx, src, dst, storecopy.Options{Progress: pw.Update})
		if rep != nil {
			if perr := rep.Print(sio.out); perr != nil && err == nil {
				err = perr
			}
		}
		if err != nil {
			return fmt.Errorf("store verify: %w", err)
		}
		return nil
	}
	dst, closeDst, err := openCopyDestination(ctx, *to)
	if err != nil {
		return err
	}
	defer closeDst()

	rep, err := storecopy.Copy(ctx, src, dst, storecopy.Options{Progress: pw.Update})
	if rep != nil {
		if perr := rep.Print(sio.out); perr != nil && err == nil {
			err = perr
		}
	}
	var mm *storecopy.MismatchError
	switch {
	case errors.As(err, &mm):
		return fmt.Errorf("store copy: %w (the destination holds the copy as written: do not switch to it; empty it before trying again)", err)
	case errors.Is(err, storecopy.ErrNotEmpty):
		return fmt.Errorf("store copy: %w", err)
	case err != nil:
		return fmt.Errorf("store copy: %w (nothing was committed to the destination)", err)
	}
	return nil
}

// isDSN tells a PostgreSQL connection string (a postgres:// URL or
// libpq's key=value form) from a data directory.
func isDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || strings.Contains(s, "=")
}

func openCopySource(ctx context.Context, loc string) (storecopy.Source, func(), error) {
	if isDSN(loc) {
		t, err := pgstore.OpenTransfer(ctx, loc, false)
		if err != nil {
			return nil, nil, fmt.Errorf("store: %w", err)
		}
		return t, func() { t.Close() }, nil
	}
	if _, err := os.Stat(filepath.Join(loc, "mail.db")); err != nil {
		return nil, nil, fmt.Errorf("store: %s is no data directory: %w", loc, err)
	}
	unlock, err := lockServe(loc)
	if err != nil {
		return nil, nil, err
	}
	t, err := sqlitestore.OpenTransfer(ctx, loc, false)
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	return t, func() { t.Close(); unlock() }, nil
}

func openCopyDestination(ctx context.Context, loc string) (storecopy.Destination, func(), error) {
	if isDSN(loc) {
		t, err := pgstore.OpenTransfer(ctx, loc, true)
		if err != nil {
			return nil, nil, fmt.Errorf("store copy: destination: %w", err)
		}
		return t, func() { t.Close() }, nil
	}
	if err := os.MkdirAll(loc, 0o700); err != nil {
		return nil, nil, fmt.Errorf("store copy: destination: %w", err)
	}
	unlock, err := lockServe(loc)
	if err != nil {
		return nil, nil, err
	}
	t, err := sqlitestore.OpenTransfer(ctx, loc, true)
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("store copy: destination: %w", err)
	}
	return t, func() { t.Close(); unlock() }, nil
}

// lockServe takes the lock `mailroom serve` holds on its data directory
// (internal/server), so that no server starts on either end during the
// copy, and one already running is found. (Nothing can tell whether
// servers use a PostgreSQL database: stop them first.)
func lockServe(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "serve.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: a mailroom serve is running on %s: stop it first", dir)
	}
	return func() { f.Close() }, nil
}

// isTerminal reports whether w is a terminal (for the progress bar).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
