package storecopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openSQLite(t testing.TB, dir string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPG(t testing.TB, dsn string) *pgstore.Store {
	t.Helper()
	st, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// filledSQLite makes a SQLite installation with fill, closed again.
func filledSQLite(t testing.TB) (dir string, fx fixture, want string) {
	t.Helper()
	dir = t.TempDir()
	st := openSQLite(t, dir)
	fx = fill(t, st)
	want = snapshot(t, st, fx.uploads...)
	ok(t, st.Close())
	return dir, fx, want
}

// copyStores runs Copy between two transfers opened for it.
func copyStores(t testing.TB, src Source, dst Destination) (*Report, error) {
	t.Helper()
	var out bytes.Buffer
	pw := NewProgressWriter(&out, false)
	rep, err := Copy(context.Background(), src, dst, Options{Progress: pw.Update, BatchRows: 7})
	t.Logf("progress:\n%s", out.String())
	if rep != nil {
		var b strings.Builder
		ok(t, rep.Print(&b))
		t.Logf("report:\n%s", b.String())
	}
	return rep, err
}

func sqliteSource(t testing.TB, dir string) *sqlitestore.Transfer {
	t.Helper()
	tr := must(sqlitestore.OpenTransfer(context.Background(), dir, false))
	t.Cleanup(func() { tr.Close() })
	return tr
}

func sqliteDest(t testing.TB, dir string) *sqlitestore.Transfer {
	t.Helper()
	tr := must(sqlitestore.OpenTransfer(context.Background(), dir, true))
	t.Cleanup(func() { tr.Close() })
	return tr
}

func pgTransfer(t testing.TB, dsn string, write bool) *pgstore.Transfer {
	t.Helper()
	tr := must(pgstore.OpenTransfer(context.Background(), dsn, write))
	t.Cleanup(func() { tr.Close() })
	return tr
}

// dirDigest hashes every file under dir (names and bytes): the source of
// a copy must come out of it unchanged. Except SQLite's WAL index and an
// empty WAL, which a read-only connection creates where the server's
// last close had removed them: they hold no data.
func dirDigest(t testing.TB, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	ok(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, "-shm") || (strings.HasSuffix(path, "-wal") && len(b) == 0) {
			return nil
		}
		h.Write([]byte(path))
		h.Write(b)

		return nil
	}))
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// A whole installation goes from SQLite to PostgreSQL and back to a new
// SQLite directory; each store's API shows the same mail, the same IMAP
// state and the same accounts, and the checksums agree end to end.
func TestCopySQLiteToPostgresAndBack(t *testing.T) {
	defer recoverFailure(t)
	ctx := context.Background()
	dir, fx, want := filledSQLite(t)
	before := dirDigest(t, dir)

	dsn := pgtest.NewDatabase(t)
	src := sqliteSource(t, dir)
	rep1, err := copyStores(t, src, pgTransfer(t, dsn, true))
	ok(t, err)
	ok(t, src.Close())
	if after := dirDigest(t, dir); after != before {
		t.Error("the copy changed the source's files")
	}
	// Every table the fixture fills was copied, bodies as blobs. Tables
	// that later migrations add are copied and verified all the same;
	// until fill puts rows in them, they are only named here.
	filled := map[string]bool{}
	for _, name := range strings.Fields(`access_tokens account_settings accounts aliases app_passwords contact_terms contacts contents delegations dmarc_results email_submissions
		domains expunged junk_models junk_tokens junk_trained mailboxes messages pop3_hidden queue
		queue_recipients sieve_duplicates sieve_scripts subscriptions uploads vacation_replies vanished web_sessions`) {
		filled[name] = true
	}
	for _, ts := range rep1.Source.Tables {
		switch {
		case filled[ts.Name] && ts.Rows == 0:
			t.Errorf("table %s copied no rows: the fixture should fill it", ts.Name)
		case !filled[ts.Name] && ts.Name != "changelog" && ts.Rows == 0:
			t.Logf("table %s is empty in the fixture: add some to fill", ts.Name)
		}
		delete(filled, ts.Name)
	}
	for name := range filled {
		t.Errorf("table %s was not copied", name)
	}
	if rep1.Source.Bodies != 4+3 || rep1.Source.BodyBytes < 4<<20 {
		t.Errorf("copied %d bodies of %d bytes, want the fixture's 4 large messages and 3 uploads", rep1.Source.Bodies, rep1.Source.BodyBytes)
	}

	pg := openPG(t, dsn)
	if got := snapshot(t, pg, fx.uploads...); got != want {
		t.Fatalf("PostgreSQL after the copy:\n%s\nwant (SQLite):\n%s", got, want)
	}
	ok(t, login(t, pg, fx.appPassword))
	if err := login(t, pg, "wrong"); err == nil {
		t.Error("a wrong password logged in on the copy")
	}
	inbox := must(pg.Mailbox(ctx, 1, "INBOX")) // ann is account 1
	body := must(pg.OpenBody(ctx, inbox.ID, fx.bigUID))
	got := make([]byte, body.Size())
	must(body.ReadAt(got, 0))
	body.Close()
	if !bytes.Equal(got, append([]byte("X-Spam: no\r\n"), fx.big...)) {
		t.Error("the large body reads back different on PostgreSQL")
	}
	// The vacation log came along: no second notice within the interval.
	if again := must(pg.ClaimVacationReply(ctx, 1, "friend@example.org", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), 24*time.Hour)); again {
		t.Error("vacation reply log lost: a second notice would go out")
	}
	// The queue is there and can be claimed.
	batches := must(pg.ClaimQueued(ctx, "test", time.Now().Add(time.Hour), time.Minute, 10))
	if len(batches) != 3 {
		t.Errorf("claimed %d queue batches, want 3", len(batches))
	}
	ok(t, pg.ReleaseQueued(ctx, "test"))
	ok(t, pg.Close())

	// Back to a new SQLite directory, from PostgreSQL's snapshot.
	dir2 := filepath.Join(t.TempDir(), "back")
	rep2, err := copyStores(t, pgTransfer(t, dsn, false), sqliteDest(t, dir2))
	ok(t, err)
	for i, ts := range rep1.Source.Tables {
		if rep2.Destination.Tables[i] != ts {
			t.Errorf("table %s: %+v after the round trip, %+v at the start", ts.Name, rep2.Destination.Tables[i], ts)
		}
	}
	if rep2.Destination.BodiesSHA256 != rep1.Source.BodiesSHA256 {
		t.Error("bodies differ after the round trip")
	}
	back := openSQLite(t, dir2)
	if got := snapshot(t, back, fx.uploads...); got != want {
		t.Fatalf("SQLite after the round trip:\n%s\nwant:\n%s", got, want)
	}
	ok(t, login(t, back, fx.appPassword))
	if acct, _, err := back.LookupAccessToken(ctx, fx.accessToken); err != nil || acct.ID != 1 {
		t.Errorf("ann's access token after the round trip: account %d, %v", acct.ID, err)
	}

	// Ids and UIDs continue where the source left off on both copies: a
	// mailbox id deleted on the source is not handed out again, and a new
	// delivery gets the next UID and a higher MODSEQ.
	for name, st := range map[string]store.Store{"postgres": openPG(t, dsn), "sqlite": back} {
		mb := must(st.CreateMailbox(ctx, 1, "New", ""))
		if mb.ID <= fx.deletedBox {
			t.Errorf("%s: new mailbox got id %d, not above the deleted %d", name, mb.ID, fx.deletedBox)
		}
		old := must(st.Mailbox(ctx, 1, "INBOX"))
		d := deliver(t, st, storetest.Message("after", "the move\r\n"), store.Target{MailboxID: old.ID})
		if d[0].UID != old.UIDNext || d[0].ModSeq <= old.HighestModSeq || d[0].UIDValidity != old.UIDValidity {
			t.Errorf("%s: delivery after the move got %+v, mailbox was %+v", name, d[0], old)
		}
	}
}

// A destination changed after the copy fails verification, saying what
// differs: a row of a table, and a body's bytes.
func TestVerifyFindsCorruption(t *testing.T) {
	defer recoverFailure(t)
	ctx := context.Background()
	dir, _, _ := filledSQLite(t)
	dsn := pgtest.NewDatabase(t)
	_, err := copyStores(t, sqliteSource(t, dir), pgTransfer(t, dsn, true))
	ok(t, err)

	verify := func() error {
		t.Helper()
		src := sqliteSource(t, dir)
		dst := pgTransfer(t, dsn, false)
		defer src.Close()
		defer dst.Close()
		rep, err := Verify(ctx, src, dst, Options{})
		if rep != nil {
			var b strings.Builder
			ok(t, rep.Print(&b))
			t.Logf("verify:\n%s", b.String())
		}
		return err
	}
	ok(t, verify())

	conn := must(pgx.Connect(ctx, dsn))
	defer conn.Close(ctx)
	must(conn.Exec(ctx, "UPDATE messages SET flags = flags # 1 WHERE (mailbox_id, uid) = (SELECT mailbox_id, uid FROM messages ORDER BY mailbox_id, uid LIMIT 1)"))
	err = verify()
	var mm *MismatchError
	if !errors.As(err, &mm) || len(mm.Diffs) != 1 || !strings.Contains(mm.Diffs[0], "table messages") {
		t.Fatalf("changed flags: verify = %v, want a mismatch in table messages", err)
	}
	must(conn.Exec(ctx, "UPDATE messages SET flags = flags # 1 WHERE (mailbox_id, uid) = (SELECT mailbox_id, uid FROM messages ORDER BY mailbox_id, uid LIMIT 1)"))
	ok(t, verify())

	// One byte of one body's last chunk.
	must(conn.Exec(ctx, `UPDATE blob_chunks SET data = overlay(data PLACING '\x00'::bytea FROM 10 FOR 1)
		WHERE (blob_id, seq) = (SELECT blob_id, max(seq) FROM blob_chunks GROUP BY blob_id ORDER BY blob_id LIMIT 1)`))
	err = verify()
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "table contents") || !strings.Contains(err.Error(), "bodies") {
		t.Fatalf("changed body: verify = %v, want mismatches in contents and bodies", err)
	}

	// A deleted row: the counts differ.
	must(conn.Exec(ctx, "DELETE FROM web_sessions WHERE token_hash = (SELECT token_hash FROM web_sessions ORDER BY token_hash LIMIT 1)"))
	if err := verify(); err == nil || !strings.Contains(err.Error(), "table web_sessions: 3 rows on the source, 2 on the destination") {
		t.Fatalf("deleted row: verify = %v", err)
	}
}

// A body file damaged on a SQLite destination fails verification too.
func TestVerifyFindsDamagedBodyFile(t *testing.T) {
	defer recoverFailure(t)
	dir, _, _ := filledSQLite(t)
	dir2 := t.TempDir()
	_, err := copyStores(t, sqliteSource(t, dir), sqliteDest(t, dir2))
	ok(t, err)
	var files []string
	ok(t, filepath.WalkDir(filepath.Join(dir2, "blobs", "objects"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	}))
	if len(files) != 4+3 { // the large messages and the uploads
		t.Fatalf("%d body files on the destination, want 7", len(files))
	}
	f := must(os.OpenFile(files[0], os.O_WRONLY, 0))
	must(f.WriteAt([]byte("!"), 100))
	ok(t, f.Close())
	_, err = Verify(context.Background(), sqliteSource(t, dir), sqliteSource(t, dir2), Options{})
	var mm *MismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "bodies: 7 each, but their bytes differ") {
		t.Fatalf("verify = %v, want a body mismatch", err)
	}
}

// A destination that holds anything is refused, untouched: a copy never
// merges two installations.
func TestCopyRefusesNonEmptyDestination(t *testing.T) {
	defer recoverFailure(t)
	ctx := context.Background()
	dir, _, _ := filledSQLite(t)
	dsn := pgtest.NewDatabase(t)
	pg := openPG(t, dsn)
	must(pg.CreateDomain(ctx, "already.example"))
	ok(t, pg.Close())
	_, err := copyStores(t, sqliteSource(t, dir), pgTransfer(t, dsn, true))
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "table domains has 1 rows") {
		t.Fatalf("copy into a store with a domain: %v", err)
	}
	pg = openPG(t, dsn)
	if ds := must(pg.Domains(ctx)); len(ds) != 1 || ds[0].Name != "already.example" {
		t.Errorf("destination changed: %+v", ds)
	}
}

// A column only one side has stops the copy before it starts, naming it,
// as does a table only the source has that holds rows; a table only one
// side has that is empty is left out, with a note.
func TestCopyBetweenDifferentSchemas(t *testing.T) {
	defer recoverFailure(t)
	ctx := context.Background()
	dir, _, _ := filledSQLite(t)
	dsn := pgtest.NewDatabase(t)
	openPG(t, dsn).Close()
	conn := must(pgx.Connect(ctx, dsn))
	defer conn.Close(ctx)
	must(conn.Exec(ctx, "CREATE TABLE node_leases (id bigint PRIMARY KEY); ALTER TABLE domains ADD COLUMN note text"))
	_, err := copyStores(t, sqliteSource(t, dir), pgTransfer(t, dsn, true))
	if err == nil || !strings.Contains(err.Error(), "columns of domains only on the destination: note") {
		t.Fatalf("copy between different columns: %v", err)
	}
	if strings.Contains(err.Error(), "node_leases") {
		t.Errorf("an empty table only on the destination stopped the copy: %v", err)
	}

	must(conn.Exec(ctx, "ALTER TABLE domains DROP COLUMN note"))
	rep, err := copyStores(t, sqliteSource(t, dir), pgTransfer(t, dsn, true))
	ok(t, err)
	if len(rep.Notes) != 1 || rep.Notes[0] != "table node_leases is only on the destination, and left empty" {
		t.Errorf("notes %q", rep.Notes)
	}

	// Back from PostgreSQL: fine while node_leases is empty, refused
	// once it holds a row that SQLite has no place for.
	rep, err = copyStores(t, pgTransfer(t, dsn, false), sqliteDest(t, t.TempDir()))
	ok(t, err)
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "only on the source, and empty") {
		t.Errorf("notes %q", rep.Notes)
	}
	must(conn.Exec(ctx, "INSERT INTO node_leases VALUES (1)"))
	_, err = copyStores(t, pgTransfer(t, dsn, false), sqliteDest(t, t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "table node_leases, only on the source, holds 1 rows") {
		t.Fatalf("copy with rows in a table the destination lacks: %v", err)
	}
}

// A source whose schema is older than the binary is refused, not migrated
// (a copy never writes its source).
func TestSourceSchemaMustBeCurrent(t *testing.T) {
	defer recoverFailure(t)
	dir, _, _ := filledSQLite(t)
	before := dirDigest(t, dir)
	dsn := pgtest.NewDatabase(t)
	openPG(t, dsn).Close()
	conn := must(pgx.Connect(context.Background(), dsn))
	defer conn.Close(context.Background())
	must(conn.Exec(context.Background(), "UPDATE mailroom_schema SET version = version + 1"))
	if _, err := pgstore.OpenTransfer(context.Background(), dsn, false); err == nil || !strings.Contains(err.Error(), "newer than this mailroom") {
		t.Errorf("newer PostgreSQL schema: %v", err)
	}
	if _, err := sqlitestore.OpenTransfer(context.Background(), filepath.Join(t.TempDir(), "none"), false); err == nil {
		t.Error("a directory without mail.db opened as a source")
	}
	if dirDigest(t, dir) != before {
		t.Error("source changed")
	}
}

// lineReader streams n bytes of CRLF lines, never holding them whole.
type lineReader struct {
	left int64
	line []byte
	pos  int
}

func (r *lineReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		k := copy(p[n:min(len(p), n+int(min(int64(len(r.line)-r.pos), r.left)))], r.line[r.pos:])
		n += k
		r.pos = (r.pos + k) % len(r.line)
		r.left -= int64(k)
	}
	return n, nil
}

// A 50 MB message is streamed through the copy, both ways: the heap never
// holds more than a small part of it.
func TestCopyStreamsLargeBodies(t *testing.T) {
	defer recoverFailure(t)
	if testing.Short() {
		t.Skip("50 MB of mail")
	}
	ctx := context.Background()
	dir := t.TempDir()
	st := openSQLite(t, dir)
	must(st.CreateDomain(ctx, "example.test"))
	acct := must(st.CreateAccount(ctx, "ann@example.test", must(auth.HashPassword("pw", cheapParams))))
	inbox := must(st.Mailbox(ctx, acct.ID, "INBOX"))
	const size = 50 << 20
	header := "Subject: huge\r\n\r\n"
	msg := func() io.Reader {
		return io.MultiReader(strings.NewReader(header), &lineReader{left: size, line: []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789\r\n")})
	}
	h := sha256.New()
	must(io.Copy(h, msg()))
	want := h.Sum(nil)
	must(st.Deliver(ctx, must(st.Stage(ctx, msg())), []store.Target{{MailboxID: inbox.ID}}))
	ok(t, st.Close())

	// peak samples the heap while fn runs.
	peak := func(fn func()) uint64 {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := make(chan struct{})
		done := make(chan uint64)
		go func() {
			var max uint64
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base.HeapAlloc && m.HeapAlloc-base.HeapAlloc > max {
					max = m.HeapAlloc - base.HeapAlloc
				}
				select {
				case <-stop:
					done <- max
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		fn()
		close(stop)
		return <-done
	}
	dsn := pgtest.NewDatabase(t)
	up := peak(func() {
		_, err := Copy(ctx, sqliteSource(t, dir), pgTransfer(t, dsn, true), Options{})
		ok(t, err)
	})
	dir2 := t.TempDir()
	down := peak(func() {
		_, err := Copy(ctx, pgTransfer(t, dsn, false), sqliteDest(t, dir2), Options{})
		ok(t, err)
	})
	t.Logf("heap peak above the start: %d KiB to PostgreSQL, %d KiB back", up>>10, down>>10)
	// Garbage of streamed chunks counts until collected: the bound is
	// well under the message, not a few buffers.
	for what, p := range map[string]uint64{"to PostgreSQL": up, "back": down} {
		if p > size/3 {
			t.Errorf("copy %s: heap grew by %d MiB for a %d MiB message", what, p>>20, size>>20)
		}
	}
	for name, st := range map[string]store.Store{"postgres": openPG(t, dsn), "sqlite": openSQLite(t, dir2)} {
		body := must(st.OpenBody(ctx, inbox.ID, 1))
		h := sha256.New()
		must(io.Copy(h, io.NewSectionReader(body, 0, body.Size())))
		body.Close()
		if !bytes.Equal(h.Sum(nil), want) {
			t.Errorf("%s: the 50 MB body differs", name)
		}
	}
}

// A copy that fails half way (a body missing on the source, or the
// operator's Ctrl-C) commits nothing: the destination has no rows and no
// bodies, and a later copy into it is accepted.
func TestFailedCopyLeavesNothing(t *testing.T) {
	defer recoverFailure(t)
	ctx := context.Background()
	dir, fx, want := filledSQLite(t)
	dsn := pgtest.NewDatabase(t)
	dir2 := t.TempDir()
	empty := func() {
		t.Helper()
		conn := must(pgx.Connect(ctx, dsn))
		defer conn.Close(ctx)
		var n int
		ok(t, conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM domains) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM contents) + (SELECT count(*) FROM blobs) + (SELECT count(*) FROM blob_chunks)").Scan(&n))
		if n != 0 {
			t.Errorf("PostgreSQL destination holds %d rows after a failed copy", n)
		}
		var files int
		ok(t, filepath.WalkDir(filepath.Join(dir2, "blobs", "objects"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files++
			}
			return err
		}))
		if files != 0 {
			t.Errorf("SQLite destination keeps %d body files after a failed copy", files)
		}
	}

	// Cancelled from the progress callback once some rows are written.
	for name, dst := range map[string]Destination{"postgres": pgTransfer(t, dsn, true), "sqlite": sqliteDest(t, dir2)} {
		cctx, cancel := context.WithCancel(ctx)
		_, err := Copy(cctx, sqliteSource(t, dir), dst, Options{BatchRows: 10, Progress: func(p Progress) {
			if p.Bodies > 1 {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled copy: %v", name, err)
		}
	}
	empty()

	// A body file missing on the source.
	var files []string
	ok(t, filepath.WalkDir(filepath.Join(dir, "blobs", "objects"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	}))
	data := must(os.ReadFile(files[len(files)-1]))
	ok(t, os.Remove(files[len(files)-1]))
	for name, dst := range map[string]Destination{"postgres": pgTransfer(t, dsn, true), "sqlite": sqliteDest(t, dir2)} {
		_, err := Copy(ctx, sqliteSource(t, dir), dst, Options{})
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("%s: copy with a body missing: %v", name, err)
		}
	}
	empty()

	// Put right, the copy goes through into the same destinations.
	ok(t, os.WriteFile(files[len(files)-1], data, 0o600))
	_, err := Copy(ctx, sqliteSource(t, dir), pgTransfer(t, dsn, true), Options{})
	ok(t, err)
	if got := snapshot(t, openPG(t, dsn), fx.uploads...); got != want {
		t.Errorf("copy after failed ones:\n%s\nwant:\n%s", got, want)
	}
	_, err = Copy(ctx, sqliteSource(t, dir), sqliteDest(t, dir2), Options{})
	ok(t, err)
}
