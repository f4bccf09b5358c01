package selfcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"mailroom/internal/config"
)

// CheckConfig loads and validates the configuration file; ok is false when
// it cannot be used, and the other checks cannot run.
func CheckConfig(path string) (cfg config.Config, r Result, ok bool) {
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, Result{"configuration " + path, Fail, err.Error()}, false
	}
	return cfg, Result{"configuration " + path, OK, fmt.Sprintf("valid; hostname %s, %s store", cfg.Hostname, cfg.Store.Backend)}, true
}

// CheckDataDir reports whether serve can write in the data directory, by
// creating and removing a file there.
func CheckDataDir(dir string) Result {
	label := "data_dir " + dir
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Result{label, Warn, "does not exist yet: serve creates it; make sure its parent is writable by the service's user"}
	case err != nil:
		return Result{label, Fail, err.Error()}
	case !st.IsDir():
		return Result{label, Fail, "is not a directory: fix data_dir"}
	}
	f, err := os.CreateTemp(dir, ".mailroom-check-*")
	if err != nil {
		return Result{label, Fail, fmt.Sprintf("not writable (%v): give the service's user the directory (chown)", err)}
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return Result{label, Fail, fmt.Sprintf("removing %s: %v", filepath.Base(name), err)}
	}
	return Result{label, OK, "writable"}
}
