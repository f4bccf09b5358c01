// Package backup makes, restores and checks backups of a Mailroom
// installation: a plain directory with the database (SQLite's file, or a
// pg_dump of the PostgreSQL database), the SQLite store's body files, the
// data directory's other files, and a manifest listing all of it with
// sizes and SHA-256 hashes.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Format is the version of the backup layout and manifest.
const Format = 1

// ManifestName is the manifest's file in a backup. It is written last: a
// directory without it is an unfinished backup.
const ManifestName = "manifest.json"

// Backends of a backup.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Manifest describes a backup.
type Manifest struct {
	Format   int       `json:"format"`
	Mailroom string    `json:"mailroom,omitempty"` // the version that made it
	Backend  string    `json:"backend"`
	Schema   int       `json:"schema"` // the store's schema version
	Created  time.Time `json:"created"`
	// Since is the backup whose unchanged bodies were hard-linked.
	Since  string `json:"since,omitempty"`
	Counts Counts `json:"counts"`
	// Database is mail.db (SQLite) or database.pgdump (PostgreSQL).
	Database File   `json:"database"`
	Bodies   []File `json:"bodies,omitempty"` // SQLite's body files, by reference
	Files    []File `json:"files,omitempty"`  // the data directory's other files
}

// Counts are what the backup's store held.
type Counts struct {
	Accounts  int64 `json:"accounts"`
	Mailboxes int64 `json:"mailboxes"`
	Messages  int64 `json:"messages"`
	Contents  int64 `json:"contents"`
	Bodies    int64 `json:"bodies"` // body files (SQLite)
	BodyBytes int64 `json:"body_bytes"`
	Linked    int64 `json:"linked"` // body files hard-linked from Since
}

// File is one file of a backup: Path is relative to the backup (with /),
// except for bodies, whose Path is the store's reference (the file is
// blobs/objects/REF).
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// maxManifest bounds what ReadManifest reads: a manifest lists about 130
// bytes per body, so this is some 8 million body files.
const maxManifest = 1 << 30

// ParseManifest reads and checks a manifest.
func ParseManifest(r io.Reader) (*Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(data) > maxManifest {
		return nil, errors.New("manifest: larger than 1 GiB")
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if m.Format != Format {
		return fmt.Errorf("format %d, this mailroom reads %d", m.Format, Format)
	}
	if m.Backend != BackendSQLite && m.Backend != BackendPostgres {
		return fmt.Errorf("unknown backend %q", m.Backend)
	}
	if m.Backend == BackendPostgres && len(m.Bodies) > 0 {
		return errors.New("a PostgreSQL backup lists body files")
	}
	if err := m.Database.check(false); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	for _, f := range m.Bodies {
		if err := f.check(true); err != nil {
			return fmt.Errorf("body: %w", err)
		}
	}
	for _, f := range m.Files {
		if err := f.check(false); err != nil {
			return fmt.Errorf("file: %w", err)
		}
	}
	return nil
}

// check refuses a path that would leave the backup (or the data
// directory, on restore) and a malformed hash.
func (f File) check(body bool) error {
	p := f.Path
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("bad path %q", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("bad path %q", p)
		}
	}
	if body && strings.Count(p, "/") != 1 {
		return fmt.Errorf("bad body reference %q", p)
	}
	if f.Size < 0 {
		return fmt.Errorf("%s: negative size", p)
	}
	if len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
		return fmt.Errorf("%s: bad sha256 %q", p, f.SHA256)
	}
	return nil
}

// ReadManifest reads dir's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is no finished backup: %w", dir, err)
		}
		return nil, err
	}
	defer f.Close()
	m, err := ParseManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return m, nil
}

// writeManifest writes the manifest durably, last: written, fsynced,
// renamed into place, the directory fsynced.
func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
