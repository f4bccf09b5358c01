package mailimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailroom/internal/store"
)

// Options says what to import where.
type Options struct {
	Store   store.Store
	Account string // the account's address
	Source  string // an mbox file or a Maildir (Maildir++) directory
	// StateDir keeps one small progress file per account and source
	// (data_dir/import).
	StateDir string
	// Folder is where an mbox goes (default INBOX); a Maildir's folders
	// go where their names say.
	Folder string
	// A batch is delivered in one store transaction when it has this
	// many messages or bytes (defaults 200 and 8 MiB).
	BatchMessages int
	BatchBytes    int64
	// Progress, if set, is called after every message and batch.
	Progress func(Progress)

	afterBatch func() // tests: called after each durable batch
}

// Progress is how far an import is.
type Progress struct {
	Messages int
	Bytes    int64 // of the source read so far (mbox) or of the messages staged
	// Total is the mbox size in bytes, or a Maildir's message count:
	// Progress.Done says which is counted.
	TotalBytes    int64
	TotalMessages int
	Elapsed       time.Duration
}

// FolderResult counts what went into one folder.
type FolderResult struct {
	Messages int
	Bytes    int64
}

// Result is what an import did.
type Result struct {
	Folders map[string]*FolderResult
	Skipped []Skip
	// AlreadyDone: the state said everything was imported before.
	AlreadyDone bool
	// Resumed: an earlier run had imported part of it.
	Resumed bool
	Elapsed time.Duration
}

// Messages is the number of messages imported.
func (r *Result) Messages() (n int, bytes int64) {
	for _, f := range r.Folders {
		n += f.Messages
		bytes += f.Bytes
	}
	return n, bytes
}

// Import imports the source into the account. It can be interrupted
// (the context) and run again: what a durable batch delivered is never
// delivered twice.
func Import(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Folder == "" {
		opts.Folder = "INBOX"
	}
	if opts.BatchMessages <= 0 {
		opts.BatchMessages = 200
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 8 << 20
	}
	src, err := filepath.Abs(opts.Source)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", opts.Source, err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	acct, err := opts.Store.Account(ctx, opts.Account)
	if err != nil {
		return nil, fmt.Errorf("import: account %s: %w", opts.Account, err)
	}
	im := &importer{
		ctx: ctx, opts: opts, st: opts.Store, account: acct.ID, start: start,
		res:       &Result{Folders: map[string]*FolderResult{}},
		mailboxes: map[string]int64{},
		statePath: statePath(opts.StateDir, acct.Email, src),
	}
	state, err := loadState(im.statePath)
	if err != nil {
		return nil, err
	}
	state.Account, state.Path = acct.Email, src
	im.state = state
	switch {
	case !fi.IsDir():
		err = im.mbox(src, fi, opts.Folder)
	case isMaildirTree(src):
		err = im.maildir(src)
	default:
		var files []string
		files, err = mboxTreeFiles(src)
		if err == nil && len(files) == 0 {
			err = errNoMail
		}
		if err == nil {
			err = im.mboxTree(src, files)
		} else {
			err = fmt.Errorf("import %s: %w", src, err)
		}
	}
	im.res.Elapsed = time.Since(start)
	return im.res, err
}

type importer struct {
	ctx       context.Context
	opts      Options
	st        store.Store
	account   int64
	start     time.Time
	res       *Result
	mailboxes map[string]int64
	state     *State
	statePath string

	// An mbox tree's progress counts all its files: the sizes of those
	// before the current one, and the total.
	tree                  bool
	priorBytes, treeBytes int64

	batch      []store.Delivery
	batchInfo  []pendingInfo
	batchBytes int64
	progress   Progress
}

// pendingInfo is what a staged message of the batch will count for.
type pendingInfo struct {
	folder string
	size   int64
}

// mailbox returns the id of the folder name, created if missing; a
// missing name that means a special-use folder (Sent Messages, Spam…)
// is the account's folder of that use if it has one.
func (im *importer) mailbox(name string) (int64, error) {
	if id, ok := im.mailboxes[name]; ok {
		return id, nil
	}
	mb, err := im.st.Mailbox(im.ctx, im.account, name)
	if errors.Is(err, store.ErrNotFound) {
		if use := SpecialUseOf(name); use != "" {
			list, lerr := im.st.MailboxList(im.ctx, im.account)
			if lerr != nil {
				return 0, fmt.Errorf("list mailboxes: %w", lerr)
			}
			for _, m := range list {
				if m.SpecialUse == use {
					im.mailboxes[name] = m.ID
					return m.ID, nil
				}
			}
		}
		mb, err = im.st.CreateMailbox(im.ctx, im.account, name, "")
		if err != nil {
			return 0, fmt.Errorf("create mailbox %s: %w", name, err)
		}
	} else if err != nil {
		return 0, fmt.Errorf("mailbox %s: %w", name, err)
	}
	im.mailboxes[name] = mb.ID
	return mb.ID, nil
}

// SpecialUseOf maps the folder names other servers and clients give
// special-use folders.
func SpecialUseOf(name string) store.SpecialUse {
	switch strings.ToLower(name) {
	case "sent", "sent items", "sent messages", "sent mail":
		return store.SpecialSent
	case "drafts", "draft":
		return store.SpecialDrafts
	case "trash", "deleted items", "deleted messages", "bin":
		return store.SpecialTrash
	case "junk", "spam", "junk e-mail", "junk mail":
		return store.SpecialJunk
	case "archive", "archives":
		return store.SpecialArchive
	}
	return ""
}

// add stages one message from body and queues it for the next batch.
// A message the source could not give whole (ErrTruncated) is skipped.
func (im *importer) add(folder string, body io.Reader, flags store.Flags, keywords func() []string, date func() time.Time) (staged bool, err error) {
	if _, err := im.mailbox(folder); err != nil {
		return false, err
	}
	msg, err := im.st.Stage(im.ctx, body)
	if err != nil {
		if errors.Is(err, ErrTruncated) {
			return false, nil
		}
		return false, fmt.Errorf("stage message: %w", err)
	}
	if err := im.queue(folder, msg, flags, keywords(), date()); err != nil {
		msg.Discard()
		return false, err
	}
	return true, nil
}

// queue adds a staged message to the batch.
func (im *importer) queue(folder string, msg store.Staged, flags store.Flags, keywords []string, date time.Time) error {
	id, err := im.mailbox(folder)
	if err != nil {
		return err
	}
	kw, _ := store.NormalizeKeywords(keywords)
	im.batch = append(im.batch, store.Delivery{Msg: msg, Targets: []store.Target{{
		MailboxID: id, Flags: flags, Keywords: kw, InternalDate: date,
	}}})
	im.batchInfo = append(im.batchInfo, pendingInfo{folder: folder, size: msg.Size()})
	im.batchBytes += msg.Size()
	return nil
}

func (im *importer) full() bool {
	return len(im.batch) >= im.opts.BatchMessages || im.batchBytes >= im.opts.BatchBytes
}

// flush delivers the batch in one transaction and then records the new
// state durably (mark updates it): a crash between the two imports the
// batch again on the next run; the other order could lose it.
func (im *importer) flush(mark func(*State)) error {
	if len(im.batch) > 0 {
		if err := im.ctx.Err(); err != nil {
			im.discard()
			return err
		}
		if _, err := im.st.DeliverAll(im.ctx, im.batch); err != nil {
			im.discard()
			return fmt.Errorf("deliver %d messages: %w", len(im.batch), err)
		}
		for _, p := range im.batchInfo {
			f := im.res.Folders[p.folder]
			if f == nil {
				f = &FolderResult{}
				im.res.Folders[p.folder] = f
			}
			f.Messages++
			f.Bytes += p.size
		}
	}
	im.batch, im.batchInfo, im.batchBytes = im.batch[:0], im.batchInfo[:0], 0
	mark(im.state)
	if err := im.state.save(im.statePath); err != nil {
		return err
	}
	if im.opts.afterBatch != nil {
		im.opts.afterBatch()
	}
	return nil
}

// discard removes the staged bodies of a batch that was not delivered.
func (im *importer) discard() {
	for _, d := range im.batch {
		d.Msg.Discard()
	}
	im.batch, im.batchInfo, im.batchBytes = im.batch[:0], im.batchInfo[:0], 0
}

func (im *importer) report() {
	if im.opts.Progress != nil {
		im.progress.Elapsed = time.Since(im.start)
		im.opts.Progress(im.progress)
	}
}

// mbox imports an mbox file into folder from where the state says the
// last run stopped.
func (im *importer) mbox(path string, fi os.FileInfo, folder string) error {
	st := im.state
	size := fi.Size()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	if st.Kind != "" && st.Kind != "mbox" {
		return fmt.Errorf("import %s: the state file %s is of a %s import: remove it to start again", path, im.statePath, st.Kind)
	}
	if st.Offset > 0 {
		if st.Offset > size || !startsMessage(f, st.Offset, size) {
			return fmt.Errorf("import %s: the file changed other than by growing since the last import: remove %s to import it all again", path, im.statePath)
		}
		if st.Offset == size {
			im.res.AlreadyDone = true
			return nil
		}
		im.res.Resumed = true
	}
	format, err := DetectMboxFormat(io.NewSectionReader(f, 0, size))
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	st.Kind, st.Size, st.MTime = "mbox", size, fi.ModTime().UnixNano()
	base := st.Offset // st.Offset moves with every batch
	r := NewMboxReader(f, base, size, format)
	if im.tree {
		im.progress.TotalBytes = im.treeBytes
	} else {
		im.progress = Progress{TotalBytes: size - base}
	}
	for {
		if err := im.ctx.Err(); err != nil {
			im.discard()
			return err
		}
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			im.discard()
			return fmt.Errorf("import %s: %w", path, err)
		}
		ok, err := im.add(folder, m.Body, 0,
			func() []string { return m.Keywords },
			func() time.Time { return m.Date })
		if err != nil {
			im.discard()
			return fmt.Errorf("import %s at offset %d: %w", path, m.Offset, err)
		}
		// Flags are read with the header, so only now complete.
		if ok {
			im.batch[len(im.batch)-1].Targets[0].Flags = m.Flags
			im.progress.Messages++
		} else {
			im.res.Skipped = append(im.res.Skipped, Skip{Offset: m.Offset, Bytes: m.End() - m.Offset, Reason: ErrTruncated.Error()})
		}
		im.progress.Bytes = m.End() - base
		if im.tree {
			im.progress.Bytes = im.priorBytes + m.End()
		}
		im.report()
		if im.full() {
			end := m.End()
			if err := im.flush(func(s *State) { s.Offset = end }); err != nil {
				return err
			}
		}
	}
	im.res.Skipped = append(r.Skipped(), im.res.Skipped...)
	// The reader has read to the end: garbage and a truncated message at
	// the end are passed too, and a re-run starts after them.
	if err := im.flush(func(s *State) { s.Offset = size }); err != nil {
		return err
	}
	return nil
}

// startsMessage reports whether a message starts at off, after blank
// lines (a writer may have added the one before its separator), or off
// is the end: a grown mbox still has its old messages before it.
func startsMessage(f io.ReaderAt, off, size int64) bool {
	if off == size {
		return true
	}
	var buf [9]byte
	n, _ := f.ReadAt(buf[:], off)
	b := strings.TrimLeft(string(buf[:n]), "\r\n")
	return strings.HasPrefix(b, "From ") || off+int64(n) == size && strings.TrimSpace(b) == ""
}

// sortedNames lists a directory's regular file names, sorted.
func sortedNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
