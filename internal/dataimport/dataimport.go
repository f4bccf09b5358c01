// Package dataimport moves what older versions kept in files of the data
// directory (certificates, DKIM keys, cached MTA-STS policies, TLS-RPT
// records) into the store's shared files, once per installation, so that
// every node of an installation has them. The files stay in place: a
// downgrade still finds them.
package dataimport

import (
	"context"
	"fmt"
	"time"
)

// Files is the atomic read-modify-write of one shared file
// (store.SharedFiles.UpdateFile), all an import needs.
type Files interface {
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) (data []byte, write bool, err error)) error
}

// marker names the shared file that records that kind was imported: what
// the store later replaced or deleted must not come back from the old copy
// left on disk.
func marker(kind string) string { return "import/" + kind }

// Once runs copyAll unless kind ("dkim", "tlsrpt" …) was imported before,
// then records that it was, with the time and dir, for an operator who
// wonders. copyAll returns how many items it imported; Once returns that
// (0 when it did not run).
func Once(ctx context.Context, files Files, kind, dir string, copyAll func() (int, error)) (int, error) {
	_, done, err := Read(ctx, files, marker(kind))
	if err != nil || done {
		return 0, err
	}
	n, err := copyAll()
	if err != nil {
		return n, err
	}
	if _, err := Put(ctx, files, marker(kind), fmt.Appendf(nil, "%s from %s\n", time.Now().UTC().Format(time.RFC3339), dir)); err != nil {
		return n, fmt.Errorf("importing %s: %w", dir, err)
	}
	return n, nil
}

// Put stores data as name unless there is such a file already (what the
// store has wins over an old copy on disk), and reports whether it wrote.
func Put(ctx context.Context, files Files, name string, data []byte) (bool, error) {
	wrote := false
	err := files.UpdateFile(ctx, name, func(_ []byte, exists bool) ([]byte, bool, error) {
		wrote = !exists
		return data, !exists, nil
	})
	return wrote, err
}

// Read reads a shared file through UpdateFile, which tells a missing file
// from a failing store without knowing the store's errors.
func Read(ctx context.Context, files Files, name string) (data []byte, exists bool, err error) {
	err = files.UpdateFile(ctx, name, func(old []byte, ok bool) ([]byte, bool, error) {
		data, exists = old, ok
		return nil, false, nil
	})
	return data, exists, err
}
