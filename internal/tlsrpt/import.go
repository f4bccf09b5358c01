package tlsrpt

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

// ImportDir adds the days older versions kept in dir (<day>.json, the data
// directory's tlsrpt/) to the records in files, once per installation, and
// leaves the files in place (a downgrade still finds them). It returns
// how many days it imported, and logs it.
func ImportDir(ctx context.Context, files Files, dir string, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := dataimport.Once(ctx, files, "tlsrpt", dir, func() (int, error) {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("tlsrpt: importing %s: %w", dir, err)
		}
		r := &Recorder{files: files, log: log}
		n := 0
		for _, e := range ents {
			d, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || !e.Type().IsRegular() || dayOf(Day(d).Start()) != Day(d) {
				continue // a temporary file of an interrupted save, say
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return n, fmt.Errorf("tlsrpt: importing %s: %w", dir, err)
			}
			var rec DayRecord
			if err := json.Unmarshal(data, &rec); err != nil || rec.Day != Day(d) {
				log.Warn("TLS-RPT records in the data directory unreadable; not imported", "file", e.Name(), "err", err)
				continue
			}
			rec.clean()
			if err := r.merge(ctx, &rec); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	})
	if n > 0 {
		log.Info("tlsrpt: imported records from the data directory into the store; the files stay in place but are no longer used",
			"dir", dir, "days", n)
	}
	return n, err
}
