package mailimport

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// State is what an import of one source into one account has done, kept
// in StateDir/<sha256 of account and path>.json and replaced (written,
// fsynced, renamed, directory fsynced) after every durable batch.
type State struct {
	Account string `json:"account"`
	Path    string `json:"path"`
	Kind    string `json:"kind"` // "mbox" or "maildir"
	// mbox: the file as last seen, and the offset up to which every
	// message is imported (a "From " line or the end).
	Size   int64 `json:"size,omitempty"`
	MTime  int64 `json:"mtime_ns,omitempty"`
	Offset int64 `json:"offset,omitempty"`
	// Maildir: per folder directory ("" the root), the last file name
	// imported in name order (the part before ":2,"), and whether the
	// whole folder is.
	Folders map[string]string `json:"folders,omitempty"`
}

func statePath(dir, account, path string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + path))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".json")
}

func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("import state %s: %w", path, err)
	}
	return &s, nil
}

func (s *State) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	if err := WriteFileDurable(path, append(b, '\n')); err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	return nil
}

// WriteFileDurable replaces path with b: written to a temporary file,
// fsynced, renamed over path, and the directory fsynced, so a crash
// leaves the old file or the new one, never a torn one.
func WriteFileDurable(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
