package imapmigrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/store"
)

// Store is what a migration reads of the account and stages bodies in.
type Store interface {
	Account(ctx context.Context, email string) (store.Account, error)
	MailboxList(ctx context.Context, accountID int64) ([]store.Mailbox, error)
	MessageList(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error)
	OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error)
	Stage(ctx context.Context, r io.Reader) (store.Staged, error)
	// UpdateFlags is the store's, not the mailbox service's: the source's
	// flags are not lessons for the junk filter (the service tells it of
	// $Junk and $NotJunk set, and it would add its own keyword, which the
	// next run would take off again). Sessions still see the change,
	// through the change feed.
	UpdateFlags(ctx context.Context, mailboxID int64, upd store.FlagUpdate) (store.FlagResult, error)
}

// Mail is how a migration changes the account: the mailbox service, so
// that open IMAP sessions and web pages see the messages arrive and the
// search index gets their text at delivery.
type Mail interface {
	AppendAll(ctx context.Context, deliveries []store.Delivery) ([]store.Delivered, error)
	CreateMailbox(ctx context.Context, accountID int64, name string, use store.SpecialUse) (store.Mailbox, error)
}

// Options says what to copy where.
type Options struct {
	Store    Store
	Mail     Mail
	Account  string // the account's address here
	Source   Source
	Password string // never stored nor logged
	// InsecureTLS accepts any certificate of the source (a test server's
	// self-signed one).
	InsecureTLS bool
	// Connections to the source in parallel (default 4).
	Connections int
	// StateDir keeps what was copied (data_dir/import).
	StateDir string
	// A batch is delivered in one transaction when it has this many
	// messages or bytes (defaults 200 and 8 MiB).
	BatchMessages int
	BatchBytes    int64
	// Progress, if set, is called (from several goroutines, one at a
	// time) after every message copied.
	Progress func(Progress)
}

// Progress is how far a migration is.
type Progress struct {
	Messages, TotalMessages int
	Bytes, TotalBytes       int64
	Folder                  string // a folder being copied
	Elapsed                 time.Duration
}

// FolderResult is what a run did to one folder.
type FolderResult struct {
	Source string // the folder's name at the source
	Copied int
	Bytes  int64
	// Matched are messages of a folder whose UIDVALIDITY changed (or
	// that had mail before the first run) found here already, by
	// content, and not copied again.
	Matched      int
	FlagsUpdated int
	// Recopied: the source's UIDVALIDITY changed since the last run.
	Recopied bool
	// ChangedSince: only the flags changed since the last run were
	// fetched (CONDSTORE), not every message's.
	ChangedSince bool
}

// Result is what a run did.
type Result struct {
	Folders map[string]*FolderResult // by our folder name
	Elapsed time.Duration
}

// Totals sums the folders.
func (r *Result) Totals() (copied int, bytes int64, flags int) {
	for _, f := range r.Folders {
		copied += f.Copied
		bytes += f.Bytes
		flags += f.FlagsUpdated
	}
	return
}

// ErrBusy is returned when another migration of the same account from
// the same source runs.
var ErrBusy = errors.New("another migration of this account from this source is running")

// run is one migration run.
type run struct {
	opts    Options
	account store.Account
	dir     string
	state   *State
	res     *Result
	start   time.Time

	mu       sync.Mutex // guards res, progress
	progress Progress
}

// plan is one folder to copy: where, and the source UIDs still to copy.
type plan struct {
	folder   folder
	ourID    int64
	validity uint32
	fm       *folderMap
	todo     []uint32
	sizes    []int64
	fs       *FolderState
	modseq   uint64        // the source's HIGHESTMODSEQ when examined
	maxUID   uint32        // the highest source UID seen
	dedupe   *contentIndex // nil unless messages may be here already
	result   *FolderResult
}

// Migrate copies the source account into the account. It can be
// interrupted (the context) and run again: a message whose batch was
// delivered is never copied twice.
func Migrate(ctx context.Context, opts Options) (*Result, error) {
	r := &run{opts: opts, start: time.Now(), res: &Result{Folders: map[string]*FolderResult{}}}
	if r.opts.Connections <= 0 {
		r.opts.Connections = 4
	}
	if r.opts.BatchMessages <= 0 {
		r.opts.BatchMessages = 200
	}
	if r.opts.BatchBytes <= 0 {
		r.opts.BatchBytes = 8 << 20
	}
	acct, err := opts.Store.Account(ctx, opts.Account)
	if err != nil {
		return nil, fmt.Errorf("migrate: account %s: %w", opts.Account, err)
	}
	r.account = acct
	r.dir = stateDir(opts.StateDir, acct.Email, opts.Source.String())
	unlock, err := lockDir(r.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r.state, err = loadState(r.dir); err != nil {
		return nil, err
	}
	r.state.Account, r.state.Source = acct.Email, opts.Source.String()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cn, err := dial(ctx, opts.Source, opts.Password, opts.InsecureTLS)
	if err != nil {
		return nil, err
	}
	defer cn.logout()
	folders, err := cn.listFolders()
	if err != nil {
		return nil, err
	}
	var plans, todo []*plan
	for _, f := range folders {
		p, err := r.planFolder(ctx, cn, f)
		if err != nil {
			return r.done(), err
		}
		plans = append(plans, p)
		if len(p.todo) > 0 {
			todo = append(todo, p)
		}
	}
	if err := r.copyAll(ctx, todo); err != nil {
		return r.done(), err
	}
	// Every folder is done: the next run may ask for what changed since.
	for _, p := range plans {
		if p.fs != nil && p.fs.UIDValidity == p.validity {
			p.fs.CompleteUID = max(p.fs.CompleteUID, p.maxUID)
			p.fs.HighestModSeq = p.modseq
		}
	}
	return r.done(), r.state.save(r.dir)
}

func (r *run) done() *Result {
	r.res.Elapsed = time.Since(r.start)
	return r.res
}

// lockDir makes sure one run at a time uses a state directory: two would
// copy the same messages twice. The lock goes with the process.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("migration state: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("migration state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("migration state: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// ourMailbox finds or creates the folder f goes into: a special-use
// folder goes into ours of the same use, if there is one.
func (r *run) ourMailbox(ctx context.Context, f folder) (store.Mailbox, error) {
	list, err := r.opts.Store.MailboxList(ctx, r.account.ID)
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("list mailboxes: %w", err)
	}
	if f.Use != "" {
		for _, m := range list {
			if m.SpecialUse == f.Use {
				return m, nil
			}
		}
	}
	for _, m := range list {
		if m.Name == f.Ours {
			return m, nil
		}
	}
	mb, err := r.opts.Mail.CreateMailbox(ctx, r.account.ID, f.Ours, f.Use)
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("create mailbox %s: %w", f.Ours, err)
	}
	return mb, nil
}

// planFolder examines a source folder, updates the flags of what earlier
// runs copied, and lists what is left to copy.
func (r *run) planFolder(ctx context.Context, cn *conn, f folder) (*plan, error) {
	mb, err := r.ourMailbox(ctx, f)
	if err != nil {
		return nil, err
	}
	f.Ours = mb.Name
	sel, err := cn.examine(f.Source)
	if err != nil {
		return nil, err
	}
	res := &FolderResult{Source: f.Source}
	r.mu.Lock()
	if prev := r.res.Folders[mb.Name]; prev != nil {
		// Two source folders into one of ours (INBOX.Sent and Sent).
		res = prev
	} else {
		r.res.Folders[mb.Name] = res
	}
	r.mu.Unlock()
	fs := r.state.Folders[f.Source]
	fresh := fs == nil
	if fresh {
		fs = &FolderState{Map: mapFileName(f.Source)}
		r.state.Folders[f.Source] = fs
	}
	fm, err := openMap(filepath.Join(r.dir, fs.Map))
	if err != nil {
		return nil, err
	}
	p := &plan{folder: f, ourID: mb.ID, validity: sel.UIDValidity, fm: fm, result: res}
	ours, err := r.opts.Store.MessageList(ctx, mb.ID)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", mb.Name, err)
	}
	changed := !fresh && fs.UIDValidity != sel.UIDValidity
	if changed {
		if err := fm.reset(); err != nil {
			return nil, err
		}
		res.Recopied = true
		fs.CompleteUID, fs.HighestModSeq = 0, 0
	}
	if fs.Ours != mb.Name {
		fs.CompleteUID, fs.HighestModSeq = 0, 0
	}
	p.fs, p.modseq = fs, sel.HighestModSeq
	if changed || fs.Ours != mb.Name {
		// Messages may be here already: the folder's earlier copy, or
		// mail of the folder we copy into. They are recognised by
		// content rather than copied twice.
		p.dedupe = &contentIndex{}
	}
	fs.UIDValidity, fs.Ours = sel.UIDValidity, mb.Name
	if err := r.state.save(r.dir); err != nil {
		return nil, err
	}
	if sel.NumMessages == 0 {
		return p, nil
	}
	mapped := fm.snapshot()
	if p.dedupe != nil && len(ours) > len(mapped) {
		if err := p.dedupe.build(ctx, r.opts.Store, mb.ID, ours, mapped); err != nil {
			return nil, err
		}
	}
	if p.dedupe != nil && p.dedupe.empty() {
		p.dedupe = nil
	}
	return p, r.scanFolder(ctx, cn, p, ours, mapped)
}

// scanFolder fetches the flags and sizes of every message of the selected
// folder (cheap: no bodies), updates the flags of the messages copied
// before, and lists the others as to do.
func (r *run) scanFolder(ctx context.Context, cn *conn, p *plan, ours []store.MessageMeta, mapped map[uint32]uint32) error {
	byUID := make(map[uint32]*store.MessageMeta, len(ours))
	for i := range ours {
		byUID[ours[i].UID] = &ours[i]
	}
	changes := map[string]*change{}
	// Every message's UID, flags and size; or, when the last run finished
	// the folder and the source has CONDSTORE, the messages above those
	// it saw, and the flags changed since of the others.
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	var cmd *imapclient.FetchCommand
	since := p.fs.HighestModSeq
	changedSince := since > 0 && p.modseq > 0 && p.fs.CompleteUID > 0 && cn.c.Caps().Has(imap.CapCondStore)
	if changedSince {
		r.mu.Lock()
		p.result.ChangedSince = true
		r.mu.Unlock()
		if err := r.scanChanged(ctx, cn, p, since, mapped, byUID, changes); err != nil {
			return err
		}
		var above imap.UIDSet
		above.AddRange(imap.UID(p.fs.CompleteUID+1), 0)
		cmd = cn.c.Fetch(above, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true})
	} else {
		cmd = cn.c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true})
	}
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return fmt.Errorf("fetch flags of %q: %w", p.folder.Source, err)
		}
		uid := uint32(buf.UID)
		if uid == 0 || changedSince && uid <= p.fs.CompleteUID {
			continue // "N:*" always answers the last message
		}
		p.maxUID = max(p.maxUID, uid)
		ourUID, ok := mapped[uid]
		if !ok {
			p.todo = append(p.todo, uid)
			p.sizes = append(p.sizes, buf.RFC822Size)
			continue
		}
		noteChange(changes, byUID[ourUID], buf.Flags)
	}
	if err := cmd.Close(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("fetch flags of %q: %w", p.folder.Source, err)
	}
	return r.applyChanges(ctx, p, changes)
}

// change is a set of our messages that get the same flags.
type change struct {
	flags store.Flags
	kw    []string
	uids  []uint32
}

// noteChange adds our message m to the changes if the source's flags
// differ from its own.
func noteChange(changes map[string]*change, m *store.MessageMeta, flags []imap.Flag) {
	if m == nil {
		return // deleted here: left deleted
	}
	fl, kw := flagsOf(flags)
	if fl == m.Flags && strings.Join(kw, " ") == strings.Join(m.Keywords, " ") {
		return
	}
	key := fl.String() + "\x00" + strings.Join(kw, " ")
	c := changes[key]
	if c == nil {
		c = &change{flags: fl, kw: kw}
		changes[key] = c
	}
	c.uids = append(c.uids, m.UID)
}

// scanChanged fetches the flags changed since modseq of the messages up
// to CompleteUID (RFC 7162 CHANGEDSINCE).
func (r *run) scanChanged(ctx context.Context, cn *conn, p *plan, since uint64, mapped map[uint32]uint32, byUID map[uint32]*store.MessageMeta, changes map[string]*change) error {
	var upTo imap.UIDSet
	upTo.AddRange(1, imap.UID(p.fs.CompleteUID))
	cmd := cn.c.Fetch(upTo, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: since})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return fmt.Errorf("fetch changed flags of %q: %w", p.folder.Source, err)
		}
		if ourUID, ok := mapped[uint32(buf.UID)]; ok {
			noteChange(changes, byUID[ourUID], buf.Flags)
		}
	}
	if err := cmd.Close(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("fetch changed flags of %q: %w", p.folder.Source, err)
	}
	return nil
}

// applyChanges stores the flag changes, one request per set of flags.
func (r *run) applyChanges(ctx context.Context, p *plan, changes map[string]*change) error {
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := changes[k]
		res, err := r.opts.Store.UpdateFlags(ctx, p.ourID, store.FlagUpdate{UIDs: c.uids, Op: store.FlagsReplace, Flags: c.flags, Keywords: c.kw})
		if err != nil {
			return fmt.Errorf("update flags in %s: %w", p.folder.Ours, err)
		}
		r.mu.Lock()
		p.result.FlagsUpdated += len(res.Updated)
		r.mu.Unlock()
	}
	return nil
}
