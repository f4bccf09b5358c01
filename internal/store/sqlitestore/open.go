// Package sqlitestore is Mailroom's embedded mail store: metadata in SQLite
// (WAL mode, synchronous=FULL), message bodies as immutable files (blobfs).
//
// Writes from every goroutine of a process go through one writer connection
// that commits them in batches (group commit): N concurrent deliveries share
// one transaction and one WAL fsync, each in its own savepoint so one failure
// does not fail the others. Reads use a pool of connections and never wait
// for writers (WAL). Other processes on the same data (admin commands) write
// through their own writer; SQLite serialises them and the busy handler
// waits, so "database is locked" never reaches a caller.
package sqlitestore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
	"mailroom/internal/store/blobfs"
)

// Options configure Open.
type Options struct {
	// Dir holds mail.db and the blobs directory.
	Dir    string
	Logger *slog.Logger
	// Maintenance enables the background jobs of a long-running server:
	// cleaning up after a crash, pruning the change log. Admin commands
	// leave it off.
	Maintenance bool
	// ReadConns is the size of the read pool (default 8).
	ReadConns int
	// PollInterval is how often changes written by other processes are
	// looked for (default 200ms).
	PollInterval time.Duration
	// InlineMax is the largest body kept inside the database rather than
	// as a file (default DefaultInlineMax; negative: always a file).
	InlineMax int
	// WrapBlobFile is passed to the body files (blobfs.Options.WrapFile):
	// tests make the disk fill up or fail with it.
	WrapBlobFile func(*os.File) blobfs.File
	// DMARCRows bounds the DMARC report rows kept (default
	// store.MaxDMARCRows); tests make it small.
	DMARCRows int
	// CacheBytes bounds SQLite's page caches, all connections together
	// (default DefaultCacheBytes; see cacheKiB).
	CacheBytes int64
	// Observer is told of commits, feed lag and body bytes (the server's
	// metrics); nil: nothing is observed.
	Observer store.Observer
}

// DefaultCacheBytes is the default Options.CacheBytes. SQLite's page
// cache lives outside the Go heap, one per connection, and a connection
// that served a scan (a search reading every body kept inline, the
// structures a first SORT reads) keeps its cache full until it closes:
// at 32 MiB for each of nine connections the process held some 400 MiB
// after one search of a few thousand messages. The operating system
// caches the database file as well, so a larger cache buys little.
const DefaultCacheBytes = 64 << 20

// cacheKiB splits a page-cache budget: a quarter for the writer, which
// updates the indexes of every delivery, the rest evenly among the
// readers; at least 1 MiB each.
func cacheKiB(total int64, readConns int) (writer, reader int64) {
	writer = max(total/4>>10, 1<<10)
	reader = max((total-total/4)/int64(readConns)>>10, 1<<10)
	return writer, reader
}

// DefaultInlineMax is the default Options.InlineMax. Bodies up to this size
// ride in the batch transaction: one WAL fsync for many deliveries instead
// of a file fsync and a directory fsync each. Most mail is smaller.
const DefaultInlineMax = 64 << 10

// Store is the SQLite implementation of store.Store.
type Store struct {
	opts   Options
	log    *slog.Logger
	reads  *sqlitex.Pool
	blobs  *blobfs.FS
	feed   *store.Feed
	origin int64
	known  knownModSeqs // see catchup.go

	writeq     chan *writeReq
	writerDone chan struct{}
	wconn      *sqlite.Conn
	syncFull   bool // wconn's synchronous level is FULL (the writer's; see setSyncFull)

	stop   context.CancelFunc
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once

	// The indexer's view (textpending.go): whether there may be text to
	// index, about how much, and when the writer last had other work.
	textKick     chan struct{}
	pendingBytes atomic.Int64
	deadText     atomic.Int64 // index entries of removed contents, to delete
	lastWrite    atomic.Int64 // unix nanoseconds
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store in opts.Dir and applies schema migrations.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 8
	}
	if opts.InlineMax == 0 {
		opts.InlineMax = DefaultInlineMax
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	writerKiB, readerKiB := cacheKiB(opts.CacheBytes, opts.ReadConns)
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	blobs, err := blobfs.Open(filepath.Join(opts.Dir, "blobs"), blobfs.Options{WrapFile: opts.WrapBlobFile})
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(opts.Dir, "mail.db")

	wconn, err := sqlite.OpenConn(dbPath, sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dbPath, err)
	}
	if err := prepareConn(wconn, writerKiB); err != nil {
		wconn.Close()
		return nil, err
	}
	if err := migrate(wconn); err != nil {
		wconn.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	reads, err := sqlitex.NewPool(dbPath, sqlitex.PoolOptions{
		Flags:       sqlite.OpenReadWrite | sqlite.OpenWAL,
		PoolSize:    opts.ReadConns,
		PrepareConn: func(c *sqlite.Conn) error { return prepareConn(c, readerKiB) },
	})
	if err != nil {
		wconn.Close()
		return nil, fmt.Errorf("store: open read pool: %w", err)
	}
	feed := store.NewFeed(0)
	if opts.Observer == nil {
		opts.Observer = store.NopObserver{}
	} else {
		// Only when observed: timing each publish costs a clock read.
		feed.ObserveLag(opts.Observer.FeedLag)
	}
	var o [8]byte
	rand.Read(o[:])
	s := &Store{
		opts:       opts,
		log:        opts.Logger,
		reads:      reads,
		blobs:      blobs,
		feed:       feed,
		known:      knownModSeqs{m: map[int64]uint64{}},
		origin:     int64(binary.LittleEndian.Uint64(o[:]) >> 1),
		writeq:     make(chan *writeReq, 256),
		writerDone: make(chan struct{}),
		wconn:      wconn,
		syncFull:   true, // prepareConn's level
		closed:     make(chan struct{}),
		textKick:   make(chan struct{}, 1),
	}
	s.kickIndexer() // what a crash or another process left pending
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(1)
	go s.writer()
	if opts.Maintenance {
		if err := s.recover(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	lastChange, err := s.lastChangeID(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.pollChanges(bg, lastChange)
	s.wg.Add(1)
	go s.textIndexer(bg)
	if opts.Maintenance {
		s.wg.Add(1)
		go s.maintain(bg)
	}
	return s, nil
}

// prepareConn sets a connection up, with a page cache of cacheKiB.
func prepareConn(conn *sqlite.Conn, cacheKiB int64) error {
	for _, p := range []string{
		"PRAGMA journal_mode = WAL",
		// FULL: in WAL mode, every commit is fsynced. NORMAL could lose the
		// last commits on power loss, i.e. mail we answered 250 for.
		"PRAGMA synchronous = FULL",
		"PRAGMA foreign_keys = ON",
		fmt.Sprintf("PRAGMA cache_size = -%d", cacheKiB),
		"PRAGMA temp_store = MEMORY",
	} {
		if err := sqlitex.ExecuteTransient(conn, p, nil); err != nil {
			return fmt.Errorf("store: %s: %w", p, err)
		}
	}
	return nil
}

// Close finishes pending writes and closes the store.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		s.stop()
		s.wg.Wait()
		s.feed.Close()
		err = s.closeConns()
	})
	return err
}

func (s *Store) closeConns() error {
	err1 := s.reads.Close()
	// A final checkpoint keeps the WAL from growing across restarts.
	sqlitex.ExecuteTransient(s.wconn, "PRAGMA wal_checkpoint(TRUNCATE)", nil)
	err2 := s.wconn.Close()
	return errors.Join(err1, err2)
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(accountID int64) *store.Subscription {
	return s.feed.Subscribe(accountID)
}

// read runs fn on a pooled read connection.
func (s *Store) read(ctx context.Context, fn func(conn *sqlite.Conn) error) error {
	select {
	case <-s.closed:
		return store.ErrClosed
	default:
	}
	conn, err := s.reads.Take(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer s.reads.Put(conn)
	return fn(conn)
}

// recover cleans up after a crash: unfinished blob writes, blobs written
// but never committed, and bodies whose removal was interrupted.
func (s *Store) recover(ctx context.Context) error {
	// Every unfinished body no live process is writing, however recent:
	// blobfs tells them apart by the lock a writer holds on its file, so
	// an admin command staging a body right now keeps it.
	n, err := s.blobs.CleanTmp()
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("removed unfinished bodies left by a crash", "files", n)
	}
	if err := s.emptyTrash(ctx); err != nil {
		return err
	}
	refs, err := s.blobs.RecentRefs(48 * time.Hour)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		var known bool
		err := s.read(ctx, func(conn *sqlite.Conn) error {
			// A file is a message's body or an upload's.
			return sqlitex.Execute(conn, "SELECT 1 FROM contents WHERE blob = ?1 AND blob != '' UNION ALL SELECT 1 FROM uploads WHERE blob = ?1", &sqlitex.ExecOptions{
				Args:       []any{ref},
				ResultFunc: func(*sqlite.Stmt) error { known = true; return nil },
			})
		})
		if err != nil {
			return err
		}
		// An unknown blob older than a minute was staged by a process that
		// died before delivering it: nothing was acknowledged for it.
		if !known {
			if mt, err := s.blobs.ModTime(ref); err == nil && time.Since(mt) > time.Minute {
				s.blobs.Remove(ref)
			}
		}
	}
	return nil
}

// emptyTrash removes the files of bodies no message refers to any more.
func (s *Store) emptyTrash(ctx context.Context) error {
	var refs []string
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, "SELECT blob FROM blob_trash", &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error { refs = append(refs, stmt.ColumnText(0)); return nil },
		})
	})
	if err != nil || len(refs) == 0 {
		return err
	}
	release, ok := s.blobs.MayRemove()
	if !ok {
		return nil // a backup or verify is running: the next sweep removes them
	}
	for _, ref := range refs {
		if err := s.blobs.Remove(ref); err != nil {
			s.log.Warn("remove body", "blob", ref, "err", err)
		}
	}
	release()
	return s.write(ctx, func(tx *txn) error {
		for _, ref := range refs {
			if err := sqlitex.Execute(tx.conn, "DELETE FROM blob_trash WHERE blob = ?", &sqlitex.ExecOptions{Args: []any{ref}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// maintain runs the periodic jobs of a long-running server.
func (s *Store) maintain(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cutoff := time.Now().Add(-time.Hour).Unix()
		err := s.write(ctx, func(tx *txn) error {
			return sqlitex.Execute(tx.conn, "DELETE FROM changelog WHERE created < ?", &sqlitex.ExecOptions{Args: []any{cutoff}})
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("prune change log", "err", err)
		}
		if err := s.emptyTrash(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("remove unreferenced bodies", "err", err)
		}
		if err := s.pruneVacationReplies(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("prune vacation replies", "err", err)
		}
		if n, err := s.DeleteExpiredUploads(ctx, time.Now().Add(-store.UploadLifetime)); err != nil && ctx.Err() == nil {
			s.log.Warn("delete expired uploads", "err", err)
		} else if n > 0 {
			s.log.Info("deleted expired uploads", "uploads", n)
		}
		if _, err := s.PruneEmailSubmissions(ctx, time.Now().Add(-store.EmailSubmissionKeep)); err != nil && ctx.Err() == nil {
			s.log.Warn("prune JMAP email submissions", "err", err)
		}
		// An admin command that died while staging left its file meanwhile.
		if n, err := s.blobs.CleanTmp(); err != nil {
			s.log.Warn("remove unfinished bodies", "err", err)
		} else if n > 0 {
			s.log.Info("removed unfinished bodies left by a crash", "files", n)
		}
	}
}

// Dir returns the store's data directory.
func (s *Store) Dir() string { return s.opts.Dir }

// Ping implements store.Store: one read of the database.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.ExecuteTransient(conn, "SELECT 1", nil); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
		return nil
	})
}
