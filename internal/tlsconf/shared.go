package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Files is where certificates and keys are kept so that every node of an
// installation serves the same ones: the store's shared files
// (store.SharedFiles; declared here, by its consumer, so that tlsconf does
// not depend on the store).
type Files interface {
	WriteFile(ctx context.Context, name string, data []byte) error
	DeleteFile(ctx context.Context, name string) error
	// UpdateFile is an atomic read-modify-write of one file across every
	// node (see store.SharedFiles).
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) (data []byte, write bool, err error)) error
}

// storeTimeout bounds a store operation that has no caller's context:
// autocert's Cache.Delete, and the start-up work of New.
const storeTimeout = 30 * time.Second

// readFile reads a shared file. It goes through UpdateFile, which tells a
// missing file from a failing store without knowing the store's errors;
// reads here are rare (a start, a certificate autocert does not have in
// memory yet), so the lock UpdateFile takes costs nothing that matters.
func readFile(ctx context.Context, files Files, name string) (data []byte, exists bool, err error) {
	err = files.UpdateFile(ctx, name, func(old []byte, ok bool) ([]byte, bool, error) {
		data, exists = old, ok
		return nil, false, nil
	})
	return data, exists, err
}

// writeUnlessExists stores data as name unless there is such a file
// already, and reports whether it wrote.
func writeUnlessExists(ctx context.Context, files Files, name string, data []byte) (bool, error) {
	wrote := false
	err := files.UpdateFile(ctx, name, func(_ []byte, exists bool) ([]byte, bool, error) {
		wrote = !exists
		return data, !exists, nil
	})
	return wrote, err
}

// importMarker names the shared file that records that a data directory's
// files of one kind were imported, so that they are imported once: files
// the store later replaced or deleted must not come back from an old copy
// left on disk.
func importMarker(kind string) string { return "import/" + kind }

// importDone reports whether kind was imported already.
func importDone(ctx context.Context, files Files, kind string) (bool, error) {
	_, done, err := readFile(ctx, files, importMarker(kind))
	return done, err
}

// markImported records that kind was imported, with the time and where
// from, for an operator who wonders.
func markImported(ctx context.Context, files Files, kind, from string, now time.Time) error {
	_, err := writeUnlessExists(ctx, files, importMarker(kind), fmt.Appendf(nil, "%s from %s\n", now.UTC().Format(time.RFC3339), from))
	return err
}

// importDir copies the regular files of dir into the shared files, each
// as prefix+its name unless the store has one of that name, once per
// installation (importMarker(kind)). The files stay where they are, so
// that a downgrade still finds them. It returns how many it copied.
func importDir(ctx context.Context, files Files, kind, dir, prefix string, logger *slog.Logger, now time.Time) (int, error) {
	if done, err := importDone(ctx, files, kind); err != nil || done {
		return 0, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("tlsconf: importing %s: %w", dir, err)
	}
	n := 0
	for _, e := range ents {
		// Dot files are the temporary files of an interrupted write.
		if !e.Type().IsRegular() || e.Name()[0] == '.' {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return n, fmt.Errorf("tlsconf: importing %s: %w", dir, err)
		}
		wrote, err := writeUnlessExists(ctx, files, prefix+e.Name(), data)
		if err != nil {
			return n, fmt.Errorf("tlsconf: importing %s: %w", filepath.Join(dir, e.Name()), err)
		}
		if wrote {
			n++
		}
	}
	if err := markImported(ctx, files, kind, dir, now); err != nil {
		return n, fmt.Errorf("tlsconf: importing %s: %w", dir, err)
	}
	if n > 0 {
		logger.Info("tlsconf: imported files from the data directory into the store; the originals stay in place but are no longer used",
			"dir", dir, "files", n)
	}
	return n, nil
}
