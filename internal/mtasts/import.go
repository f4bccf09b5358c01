package mtasts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mailroom/internal/dataimport"
	"os"
	"path/filepath"
	"strings"
)

// Updater is the atomic read-modify-write of a shared file
// (store.SharedFiles.UpdateFile), which ImportDir needs besides Files.
type Updater interface {
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) (data []byte, write bool, err error)) error
}

// ImportDir copies the policies older versions cached in dir
// (<domain>.json, the data directory's mta-sts/) into the shared files,
// once per installation, each unless the store has one for the domain,
// and leaves the files in place (a downgrade still finds them). Cached
// policies matter: RFC 8461 section 10.2 protects mail with them while an
// attacker blocks the fetch. It returns how many it copied, and logs it.
func ImportDir(ctx context.Context, files Updater, dir string, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := dataimport.Once(ctx, files, "mta-sts", dir, func() (int, error) {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("mtasts: importing %s: %w", dir, err)
		}
		n := 0
		for _, e := range ents {
			domain, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || !e.Type().IsRegular() || !validHost(domain) {
				continue // a temporary file of an interrupted write, say
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return n, fmt.Errorf("mtasts: importing %s: %w", dir, err)
			}
			var ent entry
			if json.Unmarshal(data, &ent) != nil {
				continue
			}
			if _, err := Parse([]byte(ent.Body)); err != nil {
				continue
			}
			wrote, err := dataimport.Put(ctx, files, filePrefix+domain, data)
			if err != nil {
				log.Warn("MTA-STS policy from the data directory not imported", "domain", domain, "err", err)
				continue
			}
			if wrote {
				n++
			}
		}
		return n, nil
	})
	if n > 0 {
		log.Info("mtasts: imported cached policies from the data directory into the store; the files stay in place but are no longer used",
			"dir", dir, "policies", n)
	}
	return n, err
}
