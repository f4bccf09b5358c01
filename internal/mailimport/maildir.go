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
	"sync"
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
		if err := im.maildirFolder(fo, todo[i], kws); err != nil {
			im.discard()
			return err
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

// stageConcurrency: Maildir files are staged this many at a time. Each
// Stage ends with an fsync; one after another they make an import as
// slow as the disk's flush latency (some 2 ms a message on the test
// machine), side by side the file system commits them together. The
// memory it costs is a read buffer and a MIME scanner per file.
const stageConcurrency = 8

// stagedFile is one Maildir file as stageFile left it.
type stagedFile struct {
	msg   store.Staged
	flags store.Flags
	kw    []string
	date  time.Time
	size  int64
	gone  bool // moved by a client since the listing
	err   error
}

// maildirFolder imports a folder's files a batch at a time, staging the
// next batch's files while the store delivers the current one: the two
// wait on different things (the body files' fsyncs, the database's
// commit), so side by side an import takes about the longer of the two.
func (im *importer) maildirFolder(fo maildirFolder, files []maildirFile, kws map[byte]string) error {
	type chunk struct {
		files  []maildirFile
		staged chan []stagedFile
	}
	stageAsync := func(start int) *chunk {
		c := &chunk{files: files[start:min(start+im.opts.BatchMessages, len(files))], staged: make(chan []stagedFile, 1)}
		go func() { c.staged <- im.stageFiles(c.files, kws) }()
		return c
	}
	var next *chunk
	if len(files) > 0 {
		next = stageAsync(0)
	}
	for start := 0; next != nil; start += im.opts.BatchMessages {
		cur := next
		staged := <-cur.staged
		next = nil
		if start+im.opts.BatchMessages < len(files) && im.ctx.Err() == nil {
			next = stageAsync(start + im.opts.BatchMessages)
		}
		err := im.ctx.Err()
		if err == nil {
			err = im.maildirChunk(fo, cur.files, staged)
		} else {
			discardStaged(staged)
		}
		if err != nil {
			if next != nil {
				discardStaged(<-next.staged)
			}
			return err
		}
	}
	return nil
}

// stageFiles stages files side by side, stageConcurrency at a time.
func (im *importer) stageFiles(files []maildirFile, kws map[byte]string) []stagedFile {
	staged := make([]stagedFile, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, stageConcurrency)
	for j := range files {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			staged[j] = im.stageFile(files[j], kws)
			<-sem
		}()
	}
	wg.Wait()
	return staged
}

func discardStaged(staged []stagedFile) {
	for _, o := range staged {
		if o.msg != nil {
			o.msg.Discard()
		}
	}
}

// maildirChunk queues staged files in name order, flushing batches as
// they fill: the order of the deliveries, and so of the UIDs, is the
// files' order whatever order their staging ended in. On error it
// discards what it did not queue.
func (im *importer) maildirChunk(fo maildirFolder, chunk []maildirFile, staged []stagedFile) error {
	for j, sf := range staged {
		if sf.err != nil {
			discardStaged(staged)
			return fmt.Errorf("import %s: %w", chunk[j].path, sf.err)
		}
	}
	for j, sf := range staged {
		mf := chunk[j]
		if sf.gone {
			im.res.Skipped = append(im.res.Skipped, Skip{Offset: -1, Where: mf.path, Reason: "gone since the listing"})
		} else {
			if err := im.queue(fo.name, sf.msg, sf.flags, sf.kw, sf.date); err != nil {
				discardStaged(staged[j:])
				return err
			}
			im.progress.Messages++
			im.progress.Bytes += sf.size
			im.report()
		}
		if im.full() {
			dir, key := fo.dir, mf.key
			if err := im.flush(func(s *State) { s.Folders[dir] = key }); err != nil {
				discardStaged(staged[j+1:])
				return err
			}
		}
	}
	return nil
}

// stageFile stages one Maildir file, its line endings made CRLF.
func (im *importer) stageFile(mf maildirFile, kws map[byte]string) stagedFile {
	f, err := os.Open(mf.path)
	if os.IsNotExist(err) {
		return stagedFile{gone: true}
	}
	if err != nil {
		return stagedFile{err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return stagedFile{err: err}
	}
	flags, kw := maildirFlags(mf.info, kws)
	msg, err := im.st.Stage(im.ctx, &crlfReader{r: bufio.NewReaderSize(f, 32<<10)})
	if err != nil {
		return stagedFile{err: fmt.Errorf("stage message: %w", err)}
	}
	return stagedFile{msg: msg, flags: flags, kw: kw, date: fi.ModTime(), size: fi.Size()}
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
