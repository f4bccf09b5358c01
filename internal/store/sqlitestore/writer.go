package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
	"mailroom/internal/store/blobfs"
)

// maxBatch bounds how many write requests share one transaction, so one
// batch cannot hold the write lock for long.
const maxBatch = 256

// Request states: a request is cancelled only if its caller gives up before
// the writer starts it; once started, the caller waits for the outcome.
const (
	reqPending int32 = iota
	reqRunning
	reqCancelled
)

type writeReq struct {
	fn       func(tx *txn) error
	syncDirs []string // blob directories to fsync before the commit
	// lazy: the change acknowledges no message, so its commit need not be
	// fsynced on its own (see writeLazy).
	lazy bool
	// background: the indexer's (textpending.go), which is not what makes
	// the writer busy.
	background bool
	state      atomic.Int32
	done       chan error
}

// changelog kinds, for other processes reading the log.
const (
	changeMessages  = 1 // messages of MailboxID changed up to ModSeq
	changeMailboxes = 2 // the account's mailbox list changed
	changeAccount   = 3 // the account (settings, credentials, existence) changed
	changeACL       = 4 // the access control list of MailboxID changed
)

type changeRow struct {
	account, mailbox int64
	modseq           uint64
	kind             int
}

// txn is one write request's view of the batch transaction. Events and
// changelog rows are kept per request so a request rolled back to its
// savepoint publishes nothing.
type txn struct {
	conn    *sqlite.Conn
	now     time.Time
	events  []store.Event
	changes []changeRow
	trash   []string
	// deadText counts the index entries this request left to the indexer
	// to delete (dropText).
	deadText int64
	// usage are the request's changes to quota usage, applied (and
	// checked) at its end by applyUsage (quota.go).
	usage store.QuotaDeltas
	// prev is, per mailbox whose modseq the request bumped, its highest
	// modseq before the first bump: with one counter per account a
	// mailbox's modseqs have gaps, so the catch-up (catchup.go) cannot
	// derive it from the events.
	prev map[int64]uint64
}

// notePrev records a mailbox's modseq before the request's first bump of it.
func (tx *txn) notePrev(mailboxID int64, modseq uint64) {
	if tx.prev == nil {
		tx.prev = map[int64]uint64{}
	}
	if _, ok := tx.prev[mailboxID]; !ok {
		tx.prev[mailboxID] = modseq
	}
}

func (tx *txn) exec(query string, args ...any) error {
	return sqlitex.Execute(tx.conn, query, &sqlitex.ExecOptions{Args: args})
}

func (tx *txn) query(query string, fn func(stmt *sqlite.Stmt) error, args ...any) error {
	return sqlitex.Execute(tx.conn, query, &sqlitex.ExecOptions{Args: args, ResultFunc: fn})
}

func (tx *txn) publish(e store.Event) { tx.events = append(tx.events, e) }

func (tx *txn) changed(account, mailbox int64, modseq uint64, kind int) {
	tx.changes = append(tx.changes, changeRow{account, mailbox, modseq, kind})
}

// write runs fn inside the writer's next batch transaction and waits until
// that transaction is durable (or failed).
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) error {
	return s.writeSync(ctx, "", fn)
}

// writeSync is write, with the blob directory syncDir fsynced before the
// commit. A full disk's error is store.ErrInsufficientStorage.
func (s *Store) writeSync(ctx context.Context, syncDir string, fn func(tx *txn) error) error {
	r := &writeReq{fn: fn}
	if syncDir != "" {
		r.syncDirs = []string{syncDir}
	}
	return storageFull(s.queueWrite(ctx, r))
}

// writeLazy is write for changes that acknowledge no message: flags,
// copies, moves and expunges. A batch of only such changes is not
// fsynced by itself (synchronous=NORMAL for that commit): a power loss may
// undo the last of them, never anything before a commit that was fsynced,
// because the WAL is written in order and a sync covers everything before
// it. So a message acknowledged to a client (SMTP 250, APPEND OK: always a
// full sync) is never lost, and what a power loss can undo is a suffix of
// flag changes, copies, moves and expunges, consistent as a whole: an
// expunged message is back, a moved message is back in its old mailbox,
// never in neither. This is Dovecot's
// mail_fsync=optimized trade, and it takes the fsync off STORE, EXPUNGE
// and FETCH setting \Seen. An expunge that frees body files syncs before
// it removes them (runBatch).
func (s *Store) writeLazy(ctx context.Context, fn func(tx *txn) error) error {
	return storageFull(s.queueWrite(ctx, &writeReq{fn: fn, lazy: true}))
}

func (s *Store) queueWrite(ctx context.Context, r *writeReq) error {
	r.done = make(chan error, 1)
	select {
	case <-s.closed:
		return store.ErrClosed
	case s.writeq <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-s.writerDone:
		// The writer drained the queue and stopped; a request it never saw
		// was not applied.
		select {
		case err := <-r.done:
			return err
		default:
			return store.ErrClosed
		}
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqCancelled) {
			return ctx.Err()
		}
		// Already running: the outcome must be reported, not guessed.
		return <-r.done
	}
}

// writer owns the write connection and commits requests in batches.
func (s *Store) writer() {
	defer s.wg.Done()
	defer close(s.writerDone)
	var trashDone []string // bodies removed after the last commit; their trash rows go next
	for {
		var first *writeReq
		select {
		case first = <-s.writeq:
		case <-s.closed:
			// Finish what was queued before Close.
			for {
				select {
				case r := <-s.writeq:
					trashDone = s.runBatch([]*writeReq{r}, trashDone)
				default:
					return
				}
			}
		}
		batch := []*writeReq{first}
		busy := !first.background
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writeq:
				batch = append(batch, r)
				busy = busy || !r.background
			default:
				break collect
			}
		}
		if busy {
			s.lastWrite.Store(time.Now().UnixNano())
		}
		// Changes that need no sync of their own commit first, in their own
		// transaction, so a STORE is not kept waiting for the fsync of an
		// APPEND that happened to queue beside it.
		lazy, full := splitLazy(batch)
		if len(lazy) > 0 {
			trashDone = s.runBatch(lazy, trashDone)
		}
		if len(full) > 0 {
			trashDone = s.runBatch(full, trashDone)
		}
	}
}

// splitLazy parts a batch into the requests that may commit without a sync
// of their own (writeLazy) and the others, each in queue order.
func splitLazy(batch []*writeReq) (lazy, full []*writeReq) {
	for _, r := range batch {
		if r.lazy {
			lazy = append(lazy, r)
		} else {
			full = append(full, r)
		}
	}
	return lazy, full
}

// syncWAL makes the commits in the write-ahead log durable, as a
// synchronous=FULL commit would have: fsync applies to the file, whichever
// descriptor asks.
func (s *Store) syncWAL() error {
	f, err := os.Open(filepath.Join(s.opts.Dir, "mail.db-wal"))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// setSyncFull sets the write connection's synchronous level for the
// coming commit: FULL (the commit is fsynced) or NORMAL (see writeLazy).
func (s *Store) setSyncFull(full bool) error {
	if full == s.syncFull {
		return nil
	}
	level := "NORMAL"
	if full {
		level = "FULL"
	}
	if err := sqlitex.ExecuteTransient(s.wconn, "PRAGMA synchronous = "+level, nil); err != nil {
		return err
	}
	s.syncFull = full
	return nil
}

// runBatch commits a batch and reports each request's outcome. It returns
// the bodies whose files it removed.
func (s *Store) runBatch(batch []*writeReq, trashDone []string) []string {
	// Bodies must be durable in their directories before a row points at them.
	synced := map[string]error{}
	live := batch[:0:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqPending, reqRunning) {
			continue
		}
		var err error
		for _, dir := range r.syncDirs {
			if e, ok := synced[dir]; ok {
				err = e
			} else {
				err = s.blobs.SyncDir(dir)
				synced[dir] = err
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			r.done <- fmt.Errorf("store: %w", err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return trashDone
	}

	conn := s.wconn
	full := false
	for _, r := range live {
		full = full || !r.lazy
	}
	if err := s.setSyncFull(full); err != nil {
		err = fmt.Errorf("store: set the sync level: %w", err)
		for _, r := range live {
			r.done <- err
		}
		return trashDone
	}
	results := make([]error, len(live))
	var events []store.Event
	prev := map[int64]uint64{} // per mailbox, its modseq before the batch
	var trash []string
	var deadText int64
	start := time.Now()
	err := func() (err error) {
		end, err := sqlitex.ImmediateTransaction(conn)
		if err != nil {
			return err
		}
		defer end(&err)
		for _, ref := range trashDone {
			if err := sqlitex.Execute(conn, "DELETE FROM blob_trash WHERE blob = ?", &sqlitex.ExecOptions{Args: []any{ref}}); err != nil {
				return err
			}
		}
		now := time.Now()
		var changes []changeRow
		for i, r := range live {
			tx := &txn{conn: conn, now: now}
			results[i] = runSavepoint(conn, func() error {
				if err := r.fn(tx); err != nil {
					return err
				}
				// In the savepoint: a request over quota leaves nothing.
				return tx.applyUsage()
			})
			if results[i] == nil {
				events = append(events, tx.events...)
				for mb, m := range tx.prev {
					if _, ok := prev[mb]; !ok {
						prev[mb] = m
					}
				}
				changes = append(changes, tx.changes...)
				trash = append(trash, tx.trash...)
				deadText += tx.deadText
			}
		}
		for _, c := range changes {
			if err := sqlitex.Execute(conn, `INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created) VALUES (?, ?, ?, ?, ?, ?)`,
				&sqlitex.ExecOptions{Args: []any{s.origin, c.account, c.mailbox, int64(c.modseq), c.kind, now.Unix()}}); err != nil {
				return err
			}
		}
		return nil
	}()
	if err == nil {
		s.opts.Observer.Commit(time.Since(start), len(live))
	}
	if err != nil {
		err = fmt.Errorf("store: commit: %w", err)
		for _, r := range live {
			r.done <- err
		}
		return trashDone
	}
	// Bodies no message refers to any more go before the callers hear back,
	// so an expunged message's file is gone once Expunge returns. Only
	// once the commit that released them is durable, though: a batch
	// committed without its own sync (writeLazy) gets one now, or keeps its
	// files for the start-up recovery (blob_trash lists them).
	if !full && len(trash) > 0 {
		if err := s.syncWAL(); err != nil {
			s.log.Error("sync the write-ahead log before removing bodies; they go at the next start", "err", err)
			trash = nil
		}
	}
	if len(trash) > 0 {
		// While a backup or verify holds removals off, the files stay and
		// blob_trash keeps listing them for the next sweep (emptyTrash).
		if release, ok := s.blobs.MayRemove(); ok {
			for _, ref := range trash {
				if err := s.blobs.Remove(ref); err != nil && !errors.Is(err, blobfs.ErrBadRef) {
					s.log.Warn("remove body", "blob", ref, "err", err)
				}
			}
			release()
		} else {
			trash = nil
		}
	}
	if deadText > 0 {
		s.deadText.Add(deadText)
		s.kickIndexer()
	}
	s.publish(events, prev, false)
	for i, r := range live {
		r.done <- results[i]
	}
	return trash
}

// runSavepoint runs fn inside a savepoint, rolling back only fn's work if it fails.
func runSavepoint(conn *sqlite.Conn, fn func() error) (err error) {
	if err := sqlitex.Execute(conn, "SAVEPOINT req", nil); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: internal error: %v", p)
		}
		if err != nil {
			if rerr := sqlitex.Execute(conn, "ROLLBACK TO req", nil); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		if rerr := sqlitex.Execute(conn, "RELEASE req", nil); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return fn()
}
