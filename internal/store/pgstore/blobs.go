package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailroom/internal/store/blob"
)

// Bodies in PostgreSQL. Nodes share no disk, so a body is rows: one in
// blobs, and its bytes in blob_chunks of chunkSize bytes each (the last one
// shorter). A Writer holds one chunk in memory and inserts it when full; a
// Reader's ReadAt asks only for the chunks that cover the range, and only
// the covered part of each (substring in the query), so a 50 MB message is
// never whole in memory on either side.
//
// Durability. Each full chunk is inserted in its own short transaction with
// synchronous_commit off: no WAL flush per chunk. Commit then marks the blob
// complete in a transaction with the default synchronous commit, whose
// flush covers every earlier WAL record, so all the chunks are durable when
// Commit returns the reference; a crash before that leaves an incomplete
// blob, which nobody can open and Sweep removes. The caller records the
// reference in a later transaction (see package blob for why not the same).
// Whatever the operator sets synchronous_commit to, recovery replays a
// prefix of the WAL: a surviving row that references a body implies its
// chunks survived too, and with synchronous replication the standby has
// confirmed them along with Commit's record. Commit follows the server's
// setting rather than forcing "on", like every other transaction, so that
// the durability of an acknowledged message is one setting, the operator's.
//
// Removal. A "pg:" body is rows, so it is deleted in the same transaction
// that drops the last row pointing at it (txn.releaseBlob): the body and its
// references go or stay together, and no trash list is needed for it.
// blob_trash remains for references to a blob store outside the database
// (S3, later), which cannot take part in the transaction.

// chunkSize is the size of a body's chunks: 256 KiB. Larger chunks mean
// fewer rows and round trips (a 50 MB body is 200 rows), and PostgreSQL
// keeps values this big out of line in TOAST anyway (in ~2 KB pieces, so
// the chunk size is not a storage granule); smaller chunks waste less of a
// range read (FETCH BODY[]<start.len> of a few KB reads at most two
// chunks, and only their covered parts travel). 256 KiB keeps each Writer
// and each row in flight well under a megabyte while a whole body costs few
// rows. It is recorded per blob, so changing it later keeps old bodies
// readable.
const chunkSize = 256 << 10

// refPrefix marks this store's references in contents.blob.
const refPrefix = "pg:"

// Blobs is the store's bodies as a blob.Store.
type Blobs struct {
	pool      *pgxpool.Pool
	chunkSize int
}

// Blobs returns the store's blob.Store.
func (s *Store) Blobs() *Blobs { return &Blobs{pool: s.pool, chunkSize: chunkSize} }

var _ blob.Store = (*Blobs)(nil)

// parseRef returns the blob id of a "pg:<id>" reference.
func parseRef(ref string) (int64, error) {
	digits, ok := strings.CutPrefix(ref, refPrefix)
	// Only canonical decimal: one reference per body, so that
	// comparing references as text (the contents_blob index) is sound.
	if !ok || digits == "" || len(digits) > 19 || digits[0] == '0' || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, fmt.Errorf("%w %q", blob.ErrBadRef, ref)
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q", blob.ErrBadRef, ref)
	}
	return id, nil
}

func formatRef(id int64) string { return refPrefix + strconv.FormatInt(id, 10) }

// Create implements blob.Store. It inserts the (incomplete) blob row at
// once, so its id is known and the chunks can reference it.
func (b *Blobs) Create(ctx context.Context) (blob.Writer, error) {
	var id int64
	err := b.pool.QueryRow(ctx, `INSERT INTO blobs (chunk_size, created) VALUES ($1, extract(epoch FROM now())::bigint) RETURNING id`,
		b.chunkSize).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("blob: create: %w", err)
	}
	return &pgWriter{b: b, ctx: ctx, id: id, buf: make([]byte, 0, b.chunkSize)}, nil
}

// pgWriter streams one body in. It keeps the context of Create because
// io.Writer's Write has none: a client that goes away cancels the body.
type pgWriter struct {
	b    *Blobs
	ctx  context.Context
	id   int64
	buf  []byte // the chunk being filled
	seq  int32  // of the chunk in buf
	size int64
	err  error // sticky: once a chunk failed, the body is lost
	done bool
}

var errWriterDone = errors.New("blob: writer already committed or aborted")

func (w *pgWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterDone
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
		w.size += int64(k)
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flush inserts the full chunk in buf, without waiting for its WAL flush
// (see the package comment on durability).
func (w *pgWriter) flush() error {
	err := pgx.BeginFunc(w.ctx, w.b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(w.ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		_, err := tx.Exec(w.ctx, "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)", w.id, w.seq, w.buf)
		return err
	})
	if err != nil {
		w.err = fmt.Errorf("blob: write chunk %d of %s: %w", w.seq, formatRef(w.id), err)
		return w.err
	}
	w.seq++
	w.buf = w.buf[:0]
	return nil
}

func (w *pgWriter) Size() int64 { return w.size }

// Commit implements blob.Writer: the last, partial chunk and the mark
// "complete" go in one synchronously committed transaction.
func (w *pgWriter) Commit(ctx context.Context) (ref string, err error) {
	if w.done {
		return "", errWriterDone
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if w.err != nil {
		return "", w.err
	}
	err = pgx.BeginFunc(ctx, w.b.pool, func(tx pgx.Tx) error {
		if len(w.buf) > 0 {
			if _, err := tx.Exec(ctx, "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)", w.id, w.seq, w.buf); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, "UPDATE blobs SET size = $2, complete = true WHERE id = $1 AND NOT complete", w.id, w.size)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("blob row gone (swept as a leftover?)")
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("blob: commit %s: %w", formatRef(w.id), err)
	}
	w.done = true
	w.buf = nil
	return formatRef(w.id), nil
}

// abortTimeout bounds the clean-up of an aborted body; if it fails, the
// incomplete blob is Sweep's.
const abortTimeout = 30 * time.Second

func (w *pgWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.buf = nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), abortTimeout)
	defer cancel()
	// Best effort: Sweep removes what this does not.
	_, _ = w.b.pool.Exec(ctx, "DELETE FROM blobs WHERE id = $1 AND NOT complete", w.id)
}

// Open implements blob.Store. An incomplete blob (still being written, or
// left by a crash) is not found: no reference to it was ever handed out.
func (b *Blobs) Open(ctx context.Context, ref string) (blob.Reader, error) {
	id, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	r := &pgReader{pool: b.pool, ctx: ctx, id: id}
	err = b.pool.QueryRow(ctx, "SELECT size, chunk_size FROM blobs WHERE id = $1 AND complete", id).Scan(&r.size, &r.chunk)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", blob.ErrNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", ref, err)
	}
	return r, nil
}

// pgReader reads a body. It holds no connection between calls: each ReadAt
// is one query on the pool, so readers are cheap to keep open and safe to
// use concurrently. It keeps Open's context because io.ReaderAt has none.
type pgReader struct {
	pool  *pgxpool.Pool
	ctx   context.Context
	id    int64
	size  int64
	chunk int64
}

func (r *pgReader) Size() int64  { return r.size }
func (r *pgReader) Close() error { return nil }

// ReadAt implements io.ReaderAt, reading the covered part of each chunk
// that overlaps [off, off+len(p)).
func (r *pgReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blob: read %s at negative offset %d", formatRef(r.id), off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size)
	if end == off {
		return 0, nil
	}
	first, last := off/r.chunk, (end-1)/r.chunk
	// For chunk seq (starting at byte seq*chunk of the body), the covered
	// part starts at greatest(off - seq*chunk, 0) and ends at
	// least(end - seq*chunk, chunk); substring counts from 1.
	rows, err := r.pool.Query(r.ctx, `WITH c AS (SELECT seq, data, seq::bigint * $4::bigint AS at FROM blob_chunks
			WHERE blob_id = $1 AND seq BETWEEN $5::integer AND $6::integer)
		SELECT seq, substring(data FROM (greatest($2::bigint - at, 0) + 1)::integer FOR (least($3::bigint - at, $4::bigint) - greatest($2::bigint - at, 0))::integer)
		FROM c ORDER BY seq`,
		r.id, off, end, r.chunk, first, last)
	if err != nil {
		return 0, fmt.Errorf("blob: read %s: %w", formatRef(r.id), err)
	}
	defer rows.Close()
	n := 0
	next := first
	for rows.Next() {
		var seq int64
		var part []byte
		if err := rows.Scan(&seq, &part); err != nil {
			return n, fmt.Errorf("blob: read %s: %w", formatRef(r.id), err)
		}
		start := max(seq*r.chunk, off)
		want := min((seq+1)*r.chunk, end) - start
		if seq != next || int64(len(part)) != want {
			return n, r.damaged(next)
		}
		n += copy(p[start-off:], part)
		next++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("blob: read %s: %w", formatRef(r.id), err)
	}
	if next != last+1 {
		return n, r.damaged(next)
	}
	if end < off+int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// damaged explains a chunk that is missing or of the wrong length: the
// body was removed while being read (its message expunged), which is not
// found, or the rows are damaged, which must not pass for a short body.
func (r *pgReader) damaged(seq int64) error {
	var ok bool
	err := r.pool.QueryRow(r.ctx, "SELECT true FROM blobs WHERE id = $1", r.id).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s removed while being read", blob.ErrNotFound, formatRef(r.id))
	}
	return fmt.Errorf("blob: %s is damaged: chunk %d missing or of the wrong size", formatRef(r.id), seq)
}

// Remove implements blob.Store. The chunks go with the row (ON DELETE
// CASCADE).
func (b *Blobs) Remove(ctx context.Context, ref string) error {
	id, err := parseRef(ref)
	if err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, "DELETE FROM blobs WHERE id = $1", id); err != nil {
		return fmt.Errorf("blob: remove %s: %w", ref, err)
	}
	return nil
}

// execer is what releaseBlob needs of a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// useBlob is for the transaction that records a new reference to a body
// (a delivery's contents row): it fails with blob.ErrNotFound if the body
// is not there (anymore), and otherwise makes sure that Sweep cannot take
// it for an orphan. Locking the row would not do: a Sweep blocked on the
// lock proceeds once it is released, its NOT EXISTS evaluated before the
// new row existed. Updating created does: PostgreSQL rechecks a blocked
// DELETE's condition on the updated row, which is young now, and a Sweep
// that deleted first leaves nothing to update (or, under SERIALIZABLE, a
// serialization failure that write retries).
func (tx *txn) useBlob(ref string) error {
	id, err := parseRef(ref)
	if err != nil {
		return err
	}
	tag, err := tx.exec("UPDATE blobs SET created = extract(epoch FROM now())::bigint WHERE id = $1 AND complete", id)
	if err != nil {
		return fmt.Errorf("use body %s: %w", ref, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("use body %s: %w", ref, blob.ErrNotFound)
	}
	return nil
}

// releaseBlob is for the transaction that drops the last row referencing
// a body: a "pg:" body is deleted right there, so it goes if and only if
// the transaction commits; a reference to any other blob store goes to
// blob_trash, to be removed from that store after the commit.
func (tx *txn) releaseBlob(ref string) error {
	return releaseBlob(tx.ctx, tx, ref)
}

func releaseBlob(ctx context.Context, q execer, ref string) error {
	if ref == "" {
		return nil // an inline body
	}
	if strings.HasPrefix(ref, refPrefix) {
		id, err := parseRef(ref)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, "DELETE FROM blobs WHERE id = $1", id); err != nil {
			return fmt.Errorf("release body %s: %w", ref, err)
		}
		return nil
	}
	if _, err := q.Exec(ctx, "INSERT INTO blob_trash (blob) VALUES ($1) ON CONFLICT DO NOTHING", ref); err != nil {
		return fmt.Errorf("release body %s: %w", ref, err)
	}
	return nil
}

// Sweep removes the bodies a crash left behind and returns how many:
// incomplete ones (a writer died mid-body) and complete ones no contents
// or uploads row references (a node died between Commit and the
// transaction that would have recorded the reference; nothing was
// acknowledged for them).
// Only bodies older than age go, by the database's clock: a younger one
// may be another node's body in flight. (Saying that c.blob is not empty
// lets the lookup use the partial index contents_blob.)
func (b *Blobs) Sweep(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := b.pool.Exec(ctx, `DELETE FROM blobs b WHERE b.created < extract(epoch FROM now())::bigint - $1
		AND (NOT b.complete OR NOT EXISTS (SELECT 1 FROM contents c WHERE c.blob = 'pg:' || b.id AND c.blob != '')
			AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.blob = 'pg:' || b.id))`, int64(age/time.Second))
	if err != nil {
		return 0, fmt.Errorf("blob: sweep: %w", err)
	}
	return tag.RowsAffected(), nil
}
