package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mailroom/internal/dataimport"
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

// readFile and writeUnlessExists are the shared-file reads and
// create-unless-there-is-one writes of certificates; reads are rare (a
// start, a certificate autocert does not have in memory yet), so the lock
// UpdateFile takes costs nothing that matters.
func readFile(ctx context.Context, files Files, name string) ([]byte, bool, error) {
	return dataimport.Read(ctx, files, name)
}

func writeUnlessExists(ctx context.Context, files Files, name string, data []byte) (bool, error) {
	return dataimport.Put(ctx, files, name, data)
}

// importDir copies the regular files of dir into the shared files, each
// as prefix+its name unless the store has one of that name, once per
// installation (dataimport.Once). The files stay where they are, so that a
// downgrade still finds them. It returns how many it copied.
func importDir(ctx context.Context, files Files, kind, dir, prefix string, logger *slog.Logger) (int, error) {
	n, err := dataimport.Once(ctx, files, kind, dir, func() (int, error) {
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
			wrote, err := dataimport.Put(ctx, files, prefix+e.Name(), data)
			if err != nil {
				return n, fmt.Errorf("tlsconf: importing %s: %w", filepath.Join(dir, e.Name()), err)
			}
			if wrote {
				n++
			}
		}
		return n, nil
	})
	if n > 0 {
		logger.Info("tlsconf: imported files from the data directory into the store; the originals stay in place but are no longer used",
			"dir", dir, "files", n)
	}
	return n, err
}
