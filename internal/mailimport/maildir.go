package mailimport

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/imap/wire"
	"mailroom/internal/store"
)

// maildirFolder is one folder of a Maildir++ tree.
type maildirFolder struct {
	dir  string // relative to the root: "" or ".Lists.Dev"
	name string // the mailbox: "INBOX" or "Lists/Dev"
}

// maildirFile is one message file.
type maildirFile struct {
	key  string // the unique name, before ":2,"
	path string
	info string // the flag letters after ":2,"
}

// maildirFolders lists the root (INBOX) and its Maildir++ folders (".Sent",
// ".Lists.Dev"), those that have a cur/ or new/ directory.
func maildirFolders(root string) ([]maildirFolder, error) {
	var out []maildirFolder
	if isMaildir(root) {
		out = append(out, maildirFolder{dir: "", name: "INBOX"})
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || !strings.HasPrefix(n, ".") || n == "." || n == ".." || !isMaildir(filepath.Join(root, n)) {
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(n, "."), ".", store.Delimiter)
		// Dovecot and Courier write folder names in IMAP's modified
		// UTF-7 (".Entw&APw-rfe"); a name that is not (Dovecot's UTF-8
		// layout) is kept as it is.
		if d, err := wire.DecodeMUTF7(name); err == nil {
			name = d
		}
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		out = append(out, maildirFolder{dir: n, name: name})
	}
	return out, nil
}

// isMaildirTree: the root or one of its dot-directories is a Maildir.
func isMaildirTree(root string) bool {
	folders, err := maildirFolders(root)
	return err == nil && len(folders) > 0
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// maildirFiles lists a folder's messages in new/ and cur/, by unique name.
func maildirFiles(dir string) ([]maildirFile, error) {
	var out []maildirFile
	for _, sub := range []string{"new", "cur"} {
		names, err := sortedNames(filepath.Join(dir, sub))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			key, info, _ := strings.Cut(n, ":2,")
			out = append(out, maildirFile{key: key, path: filepath.Join(dir, sub, n), info: info})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// dovecotKeywords reads a dovecot-keywords file: "N keyword" lines; the
// letter a is keyword 0, b 1 … z 25.
func dovecotKeywords(path string) map[byte]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[byte]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, kw, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		i, err := strconv.Atoi(n)
		if ok && err == nil && i >= 0 && i < 26 && store.ValidKeyword(kw) {
			out[byte('a'+i)] = kw
		}
	}
	return out
}

// maildirFlags maps the letters after ":2," as Dovecot does.
func maildirFlags(info string, keywords map[byte]string) (store.Flags, []string) {
	var f store.Flags
	var kw []string
	for i := 0; i < len(info); i++ {
		switch c := info[i]; c {
		case 'D':
			f |= store.FlagDraft
		case 'F':
			f |= store.FlagFlagged
		case 'P':
			kw = append(kw, "$Forwarded")
		case 'R':
			f |= store.FlagAnswered
		case 'S':
			f |= store.FlagSeen
		case 'T':
			f |= store.FlagDeleted
		default:
			if k, ok := keywords[c]; ok {
				kw = append(kw, k)
			}
		}
	}
	return f, kw
}

// maildir imports a Maildir++ tree, folder by folder, each in name order
// after the last name the state has for it.
func (im *importer) maildir(root string) error {
	st := im.state
	if st.Kind != "" && st.Kind != "maildir" {
		return fmt.Errorf("import %s: the state file %s is of an %s import: remove it to start again", root, im.statePath, st.Kind)
	}
	st.Kind = "maildir"
	if st.Folders == nil {
		st.Folders = map[string]string{}
	}
	folders, err := maildirFolders(root)
	if err != nil {
		return fmt.Errorf("import %s: %w", root, err)
	}
	if len(folders) == 0 {
		return fmt.Errorf("import %s: neither an mbox file nor a Maildir (no cur/ or new/)", root)
	}
	// The files left to import, counted first for the progress's ETA.
	todo := make([][]maildirFile, len(folders))
	for i, fo := range folders {
		files, err := maildirFiles(filepath.Join(root, fo.dir))
		if err != nil {
			return fmt.Errorf("import %s: %w", root, err)
		}
		last, seen := st.Folders[fo.dir]
		if seen {
			im.res.Resumed = true
		}
		n := sort.Search(len(files), func(j int) bool { return !seen || files[j].key > last })
		todo[i] = files[n:]
		im.progress.TotalMessages += len(todo[i])
	}
	if im.progress.TotalMessages == 0 && im.res.Resumed {
		im.res.AlreadyDone = true
		return nil
	}
	rootKW := dovecotKeywords(filepath.Join(root, "dovecot-keywords"))
	for i, fo := range folders {
		kws := rootKW
		if fo.dir != "" {
			kws = dovecotKeywords(filepath.Join(root, fo.dir, "dovecot-keywords"))
		}
		for _, mf := range todo[i] {
			if err := im.ctx.Err(); err != nil {
				im.discard()
				return err
			}
			if err := im.maildirFile(fo, mf, kws); err != nil {
				im.discard()
				return err
			}
			if im.full() {
				dir, key := fo.dir, mf.key
				if err := im.flush(func(s *State) { s.Folders[dir] = key }); err != nil {
					return err
				}
			}
		}
		dir, key := fo.dir, st.Folders[fo.dir]
		if n := len(todo[i]); n > 0 {
			key = todo[i][n-1].key
		}
		if err := im.flush(func(s *State) { s.Folders[dir] = key }); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) maildirFile(fo maildirFolder, mf maildirFile, kws map[byte]string) error {
	f, err := os.Open(mf.path)
	if os.IsNotExist(err) {
		// Moved by a client since the listing (flags changed): skipped.
		im.res.Skipped = append(im.res.Skipped, Skip{Offset: -1, Where: mf.path, Reason: "gone since the listing"})
		return nil
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	flags, kw := maildirFlags(mf.info, kws)
	if _, err := im.add(fo.name, &crlfReader{r: bufio.NewReaderSize(f, 32<<10)}, flags,
		func() []string { return kw }, func() time.Time { return fi.ModTime() }); err != nil {
		return fmt.Errorf("import %s: %w", mf.path, err)
	}
	im.progress.Messages++
	im.progress.Bytes += fi.Size()
	im.report()
	return nil
}

// crlfReader makes bare LF line endings CRLF.
type crlfReader struct {
	r      *bufio.Reader
	prevCR bool
	lf     bool // a LF is owed after the CR just returned
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.lf {
			p[n] = '\n'
			n++
			c.lf, c.prevCR = false, false
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		if b == '\n' && !c.prevCR {
			p[n] = '\r'
			n++
			c.lf = true
			continue
		}
		p[n] = b
		n++
		c.prevCR = b == '\r'
	}
	return n, nil
}
