package imapmigrate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"mailroom/internal/mailimport"
)

// The state of a migration of one source account into one account lives
// in StateDir/<hash of account and source>/: state.json names the source
// folders copied, with their UIDVALIDITY, and one .map file per folder
// lists, one "sourceUID ourUID" line each, the messages copied. The map is
// only appended to (fsynced after each durable batch), so a run costs
// writes in proportion to what it copies, whatever the folder's size.
type State struct {
	Account string                  `json:"account"`
	Source  string                  `json:"source"`
	Folders map[string]*FolderState `json:"folders"` // by source name
}

// FolderState is one source folder.
type FolderState struct {
	UIDValidity uint32 `json:"uidvalidity"`
	Ours        string `json:"ours"` // the folder it is copied into
	Map         string `json:"map"`  // the map file's name in the state directory
	// After a run that finished the folder: every source UID up to
	// CompleteUID is copied (or was gone), and the source's
	// HIGHESTMODSEQ then. With CONDSTORE, the next run fetches only the
	// flags changed since, and the messages above CompleteUID.
	CompleteUID   uint32 `json:"complete_uid,omitempty"`
	HighestModSeq uint64 `json:"highest_modseq,omitempty"`
}

func stateDir(dir, account, source string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + source))
	return filepath.Join(dir, "migrate-"+hex.EncodeToString(sum[:12]))
}

func loadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &State{Folders: map[string]*FolderState{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migration state: %w", err)
	}
	s, err := parseState(b)
	if err != nil {
		return nil, fmt.Errorf("migration state %s: %w", dir, err)
	}
	return s, nil
}

// parseState reads state.json and checks what later reads trust: map
// file names are plain names inside the state directory.
func parseState(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.Folders == nil {
		s.Folders = map[string]*FolderState{}
	}
	for name, f := range s.Folders {
		if f == nil || f.Map == "" || f.Map != filepath.Base(f.Map) || f.Map == "." || f.Map == ".." || f.Map == "state.json" {
			return nil, fmt.Errorf("folder %q: bad map file name", name)
		}
	}
	return &s, nil
}

func (s *State) save(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("migration state: %w", err)
	}
	if err := mailimport.WriteFileDurable(filepath.Join(dir, "state.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("migration state: %w", err)
	}
	return nil
}

func mapFileName(folder string) string {
	sum := sha256.Sum256([]byte(folder))
	return hex.EncodeToString(sum[:12]) + ".map"
}

// maxMapLine bounds a line of a map file ("4294967295 4294967295").
const maxMapLine = 32

// readMap reads a map file: source UID to our UID, and the length of
// its complete lines. A last line without its newline is what a crash
// mid-append leaves: it is ignored (its batch is copied again). Anything
// else malformed is an error.
func readMap(r io.Reader) (map[uint32]uint32, int64, error) {
	m := map[uint32]uint32{}
	br := bufio.NewReaderSize(r, 4096)
	var valid int64
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if err == io.EOF {
			return m, valid, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxMapLine {
			return nil, 0, fmt.Errorf("line %d: too long", n)
		}
		if err != nil {
			return nil, 0, err
		}
		src, ours, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		if !ok {
			return nil, 0, fmt.Errorf("line %d: not \"sourceUID ourUID\"", n)
		}
		s, err1 := strconv.ParseUint(string(src), 10, 32)
		o, err2 := strconv.ParseUint(string(ours), 10, 32)
		if err1 != nil || err2 != nil || s == 0 || o == 0 {
			return nil, 0, fmt.Errorf("line %d: not \"sourceUID ourUID\"", n)
		}
		m[uint32(s)] = uint32(o)
		valid += int64(len(line))
	}
}

// folderMap is one folder's map, in memory and in its append-only file.
type folderMap struct {
	mu   sync.Mutex
	path string
	m    map[uint32]uint32
}

func openMap(path string) (*folderMap, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &folderMap{path: path, m: map[uint32]uint32{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migration map: %w", err)
	}
	defer f.Close()
	m, valid, err := readMap(f)
	if err != nil {
		return nil, fmt.Errorf("migration map %s: %w", path, err)
	}
	// Cut a torn last line, so the next append starts a line of its own.
	if fi, err := f.Stat(); err == nil && fi.Size() > valid {
		if err := os.Truncate(path, valid); err != nil {
			return nil, fmt.Errorf("migration map: %w", err)
		}
	}
	return &folderMap{path: path, m: m}, nil
}

func (fm *folderMap) snapshot() map[uint32]uint32 {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	out := make(map[uint32]uint32, len(fm.m))
	for k, v := range fm.m {
		out[k] = v
	}
	return out
}

// reset empties the map (the folder's UIDVALIDITY changed).
func (fm *folderMap) reset() error {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	fm.m = map[uint32]uint32{}
	if err := os.Remove(fm.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("migration map: %w", err)
	}
	return nil
}

// add records pairs durably: appended and fsynced, then in memory.
func (fm *folderMap) add(src, ours []uint32) error {
	if len(src) == 0 {
		return nil
	}
	var b []byte
	for i := range src {
		b = strconv.AppendUint(b, uint64(src[i]), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(ours[i]), 10)
		b = append(b, '\n')
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	f, err := os.OpenFile(fm.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("migration map: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("migration map %s: %w", fm.path, err)
	}
	for i := range src {
		fm.m[src[i]] = ours[i]
	}
	return nil
}
