package pgstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"mailroom/internal/store/blob"
	"mailroom/internal/store/blob/blobtest"
	"mailroom/internal/store/pgstore/pgtest"
)

// Bodies in PostgreSQL pass the conformance suite every blob store passes.
func TestBlobConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return openStore(t, pgtest.NewDatabase(t)).Blobs()
	})
}

func putBlob(t testing.TB, b blob.Store, data []byte) string {
	t.Helper()
	ctx := context.Background()
	w, err := b.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// With tiny chunks every (offset, length) of a body crosses chunk
// boundaries in every way; the reader uses the chunk size recorded with
// the body, not its own, so a later change of chunkSize keeps old bodies
// readable.
func TestBlobSmallChunks(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	small := &Blobs{pool: st.pool, chunkSize: 5}
	want := []byte("0123456789abcdefghijklm") // 23 bytes: 4 full chunks and 3
	ref := putBlob(t, small, want)
	var chunks int
	if err := st.pool.QueryRow(ctx, "SELECT count(*) FROM blob_chunks").Scan(&chunks); err != nil || chunks != 5 {
		t.Fatalf("%d chunks (%v), want 5", chunks, err)
	}
	r, err := st.Blobs().Open(ctx, ref) // default chunk size
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for off := 0; off <= len(want)+2; off++ {
		for size := 0; size <= len(want)+2; size++ {
			p := make([]byte, size)
			n, err := r.ReadAt(p, int64(off))
			wantN := max(0, min(size, len(want)-off))
			if n != wantN || !bytes.Equal(p[:n], want[min(off, len(want)):min(off, len(want))+wantN]) {
				t.Fatalf("ReadAt(%d, %d) = %q, %v", size, off, p[:n], err)
			}
			// Short: io.EOF. Full: nil, or io.EOF at the end (io.ReaderAt).
			if (wantN < size && err != io.EOF) || (wantN == size && err != nil && err != io.EOF) {
				t.Fatalf("ReadAt(%d, %d): err %v", size, off, err)
			}
		}
	}
}

// A body still being written, or left by a writer that died, is not there
// for readers: its reference was never handed out, and guessing it finds
// nothing.
func TestBlobIncompleteNotFound(t *testing.T) {
	ctx := context.Background()
	b := openStore(t, pgtest.NewDatabase(t)).Blobs()
	w, err := b.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write(make([]byte, chunkSize+10)) // one chunk in the database already
	ref := formatRef(w.(*pgWriter).id)
	if _, err := b.Open(ctx, ref); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open of an incomplete body = %v, want ErrNotFound", err)
	}
}

// Aborting removes what was written; a failed chunk write fails the body
// instead of committing a short one.
func TestBlobAbortAndFailure(t *testing.T) {
	st := openStore(t, pgtest.NewDatabase(t))
	b := st.Blobs()
	w, err := b.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 3*chunkSize))
	w.Abort()
	var n int
	if err := st.pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM blobs) + (SELECT count(*) FROM blob_chunks)").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows left after Abort (%v)", n, err)
	}

	// The client goes away mid-body: the context of Create is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	w, err = b.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, chunkSize+1))
	cancel()
	if _, err := w.Write(make([]byte, chunkSize)); err == nil {
		t.Error("Write with a cancelled context succeeded")
	}
	if ref, err := w.Commit(context.Background()); err == nil {
		t.Errorf("Commit after a failed chunk returned %q", ref)
	}
}

// A chunk lost to damage is an error, never a short or wrong body.
func TestBlobDamaged(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	b := st.Blobs()
	ref := putBlob(t, b, bytes.Repeat([]byte("x"), 3*chunkSize))
	id, _ := parseRef(ref)
	if _, err := st.pool.Exec(ctx, "DELETE FROM blob_chunks WHERE blob_id = $1 AND seq = 1", id); err != nil {
		t.Fatal(err)
	}
	r, err := b.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size())); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Errorf("reading a body with a chunk missing: %v, want a damage error", err)
	}
	// Read in range of the missing chunk only, and of the intact ones.
	if _, err := r.ReadAt(make([]byte, 10), chunkSize+5); err == nil {
		t.Error("ReadAt in the missing chunk succeeded")
	}
	if n, err := r.ReadAt(make([]byte, 10), 5); n != 10 || err != nil {
		t.Errorf("ReadAt in an intact chunk = %d, %v", n, err)
	}
	// Removed while a reader has it open: not found.
	if err := b.Remove(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 10), 0); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("ReadAt of a removed body = %v, want ErrNotFound", err)
	}
}

// The body goes in the transaction that drops its last reference: if that
// transaction rolls back, the body is still there; if it commits, it is
// gone with it. A reference to another blob store goes to blob_trash.
func TestReleaseBlobInTransaction(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	b := st.Blobs()
	ref := putBlob(t, b, []byte("body"))
	var contentID int64
	if err := st.pool.QueryRow(ctx, "INSERT INTO contents (blob, size, structure, refs) VALUES ($1, 4, '', 1) RETURNING id", ref).Scan(&contentID); err != nil {
		t.Fatal(err)
	}
	drop := func(tx *txn) error {
		if _, err := tx.exec("DELETE FROM contents WHERE id = $1", contentID); err != nil {
			return err
		}
		return tx.releaseBlob(ref)
	}
	rollback := errors.New("rolled back on purpose")
	if err := st.write(ctx, func(tx *txn) error {
		if err := drop(tx); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if r, err := b.Open(ctx, ref); err != nil {
		t.Fatalf("body gone after its release rolled back: %v", err)
	} else {
		r.Close()
	}
	if err := st.write(ctx, drop); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, ref); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open after the release committed = %v, want ErrNotFound", err)
	}

	if err := st.write(ctx, func(tx *txn) error { return tx.releaseBlob("s3:bucket/key") }); err != nil {
		t.Fatal(err)
	}
	var trash string
	if err := st.pool.QueryRow(ctx, "SELECT blob FROM blob_trash").Scan(&trash); err != nil || trash != "s3:bucket/key" {
		t.Errorf("blob_trash = %q, %v", trash, err)
	}
	if err := st.write(ctx, func(tx *txn) error { return tx.releaseBlob("pg:x") }); !errors.Is(err, blob.ErrBadRef) {
		t.Errorf("release of a malformed pg reference = %v, want ErrBadRef", err)
	}
}

// Sweep removes old leftovers only: incomplete bodies and complete ones
// no contents row references; young ones may be another node's in flight.
func TestBlobSweep(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	b := st.Blobs()
	mk := func(complete bool, age int, referenced bool) int64 {
		t.Helper()
		var id int64
		if err := st.pool.QueryRow(ctx, `INSERT INTO blobs (chunk_size, complete, created)
			VALUES (5, $1, extract(epoch FROM now())::bigint - $2) RETURNING id`, complete, age).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := st.pool.Exec(ctx, "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, 0, 'abc')", id); err != nil {
			t.Fatal(err)
		}
		if referenced {
			if _, err := st.pool.Exec(ctx, "INSERT INTO contents (blob, size, structure, refs) VALUES ($1, 3, '', 1)", formatRef(id)); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	const hour = 3600
	oldIncomplete := mk(false, 2*hour, false)
	youngIncomplete := mk(false, 60, false)
	oldOrphan := mk(true, 2*hour, false)
	youngOrphan := mk(true, 60, false)
	oldReferenced := mk(true, 2*hour, true)
	n, err := b.Sweep(ctx, 1*hour*1e9)
	if err != nil || n != 2 {
		t.Errorf("Sweep = %d, %v; want 2", n, err)
	}
	rows, err := st.pool.Query(ctx, "SELECT id FROM blobs ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var left []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		left = append(left, id)
	}
	if want := []int64{youngIncomplete, youngOrphan, oldReferenced}; fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("left %v, want %v (swept %d and %d)", left, want, oldIncomplete, oldOrphan)
	}
	var chunks int
	st.pool.QueryRow(ctx, "SELECT count(*) FROM blob_chunks").Scan(&chunks)
	if chunks != 3 {
		t.Errorf("%d chunks left, want 3", chunks)
	}
}

func TestParseRef(t *testing.T) {
	for _, ref := range []string{"pg:1", "pg:42", "pg:9223372036854775807"} {
		id, err := parseRef(ref)
		if err != nil || formatRef(id) != ref {
			t.Errorf("parseRef(%q) = %d, %v", ref, id, err)
		}
	}
	for _, ref := range []string{"", "pg:", "pg:0", "pg:01", "pg:-1", "pg:+1", "pg: 1", "pg:1 ", "pg:9223372036854775808",
		"PG:1", "s3:1", "2026120618/abc", "pg:1x", "pg:１"} {
		if id, err := parseRef(ref); !errors.Is(err, blob.ErrBadRef) {
			t.Errorf("parseRef(%q) = %d, %v; want ErrBadRef", ref, id, err)
		}
	}
}

// A reference parses only in its one canonical form, and never panics.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"pg:1", "pg:0", "pg:", "pg:9223372036854775807", "pg:99999999999999999999", "s3:x", "", "pg:-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		id, err := parseRef(ref)
		if err != nil {
			if !errors.Is(err, blob.ErrBadRef) {
				t.Fatalf("parseRef(%q): %v is not ErrBadRef", ref, err)
			}
			return
		}
		if id <= 0 || formatRef(id) != ref {
			t.Fatalf("parseRef(%q) = %d, which formats as %q", ref, id, formatRef(id))
		}
	})
}

// BenchmarkBlobChunkSize writes and reads back an 8 MB body with several
// chunk sizes, the measurement behind chunkSize:
// go test -run X -bench BlobChunkSize -benchtime 5x ./internal/store/pgstore/
func BenchmarkBlobChunkSize(b *testing.B) {
	st, err := Open(context.Background(), Options{DSN: pgtest.NewDatabase(b), MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// Like a large attachment: base64 of incompressible bytes, in lines.
	raw := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{}).Read(raw)
	var body []byte
	for enc := base64.StdEncoding.EncodeToString(raw); len(enc) > 0; {
		n := min(76, len(enc))
		body = append(append(body, enc[:n]...), "\r\n"...)
		enc = enc[n:]
	}
	for _, cs := range []int{16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		blobs := &Blobs{pool: st.pool, chunkSize: cs}
		b.Run(fmt.Sprintf("write/%dK", cs>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				ref := putBlob(b, blobs, body)
				blobs.Remove(context.Background(), ref)
			}
		})
		ref := putBlob(b, blobs, body)
		b.Run(fmt.Sprintf("read/%dK", cs>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			p := make([]byte, 64<<10)
			for b.Loop() {
				r, err := blobs.Open(context.Background(), ref)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, io.NewSectionReader(r, 0, r.Size()), p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("range4K/%dK", cs>>10), func(b *testing.B) {
			r, err := blobs.Open(context.Background(), ref)
			if err != nil {
				b.Fatal(err)
			}
			p := make([]byte, 4096)
			off := int64(0)
			for b.Loop() {
				if _, err := r.ReadAt(p, off); err != nil {
					b.Fatal(err)
				}
				off = (off + 1000003) % (int64(len(body)) - 4096)
			}
		})
	}
}

// The transaction that records a reference to a body makes sure the body
// is there, and a Sweep running at the same moment does not take it for an
// orphan: blocked on the row, it rechecks and leaves it.
func TestUseBlobAgainstSweep(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	b := st.Blobs()

	gone := putBlob(t, b, []byte("gone"))
	b.Remove(ctx, gone)
	w, err := b.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	incomplete := formatRef(w.(*pgWriter).id)
	for _, ref := range []string{gone, incomplete} {
		if err := st.write(ctx, func(tx *txn) error { return tx.useBlob(ref) }); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("useBlob(%s) = %v, want ErrNotFound", ref, err)
		}
	}

	// A body staged two hours ago (a slow delivery), not yet referenced.
	ref := putBlob(t, b, []byte("late but delivered"))
	id, _ := parseRef(ref)
	if _, err := st.pool.Exec(ctx, "UPDATE blobs SET created = created - 7200 WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	inTx := make(chan struct{})
	release := make(chan struct{})
	delivered := make(chan error, 1)
	go func() {
		first := true
		delivered <- st.write(ctx, func(tx *txn) error {
			if err := tx.useBlob(ref); err != nil {
				return err
			}
			if _, err := tx.exec("INSERT INTO contents (blob, size, structure, refs) VALUES ($1, 18, '', 1)", ref); err != nil {
				return err
			}
			if first {
				first = false
				close(inTx)
				<-release
			}
			return nil
		})
	}()
	<-inTx
	swept := make(chan int64, 1)
	go func() {
		n, err := b.Sweep(ctx, time.Hour)
		if err != nil {
			t.Error(err)
		}
		swept <- n
	}()
	// Wait until the Sweep waits for the delivery's row lock.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := st.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM blobs%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Sweep never waited for the delivery's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if err := <-delivered; err != nil {
		t.Fatal(err)
	}
	if n := <-swept; n != 0 {
		t.Errorf("Sweep removed %d bodies, want 0", n)
	}
	r, err := b.Open(ctx, ref)
	if err != nil {
		t.Fatalf("the delivered body was swept: %v", err)
	}
	r.Close()
}
