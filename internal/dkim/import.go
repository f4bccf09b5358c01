package dkim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mailroom/internal/dataimport"
	"os"
	"path/filepath"
	"strings"
)

// ImportDir copies the keys older versions kept in dir
// (<dir>/<domain>/<selector>.<kind>.pem, the data directory's dkim/) into
// files, once per installation, each unless the store has a key of that
// name. The files stay in place, so that a downgrade still finds them.
// Receivers know these keys from DNS: an upgrade must sign with them, not
// with new ones. It returns how many keys it copied, and logs it.
func ImportDir(ctx context.Context, files Files, dir string, logger *slog.Logger) (int, error) {
	n, err := dataimport.Once(ctx, files, "dkim", dir, func() (int, error) {
		domains, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("dkim: importing %s: %w", dir, err)
		}
		n := 0
		for _, d := range domains {
			if !d.IsDir() || checkDomain(d.Name()) != nil {
				continue
			}
			keys, err := os.ReadDir(filepath.Join(dir, d.Name()))
			if err != nil {
				return n, fmt.Errorf("dkim: importing %s: %w", dir, err)
			}
			for _, k := range keys {
				if !k.Type().IsRegular() || !isKeyFile(k.Name()) {
					continue // a temporary file of an interrupted write, say
				}
				path := filepath.Join(dir, d.Name(), k.Name())
				data, err := os.ReadFile(path)
				if err != nil {
					return n, fmt.Errorf("dkim: importing %s: %w", path, err)
				}
				wrote, err := dataimport.Put(ctx, files, domainPrefix(d.Name())+k.Name(), data)
				if err != nil {
					return n, fmt.Errorf("dkim: importing %s: %w", path, err)
				}
				if wrote {
					n++
				}
			}
		}
		return n, nil
	})
	if n > 0 && logger != nil {
		logger.Info("dkim: imported keys from the data directory into the store; the files stay in place but are no longer used",
			"dir", dir, "keys", n)
	}
	return n, err
}

// isKeyFile reports whether name is "<selector>.ed25519.pem" or
// "<selector>.rsa.pem" with a valid selector.
func isKeyFile(name string) bool {
	for _, kind := range []keyKind{kindEd25519, kindRSA} {
		if sel, ok := strings.CutSuffix(name, kind.fileExt); ok && checkSelector(sel) == nil {
			return true
		}
	}
	return false
}
