package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

func openWith(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.MaxConns == 0 {
		opts.MaxConns = 4
	}
	st, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// pgstore passes the whole conformance suite every backend passes, the
// change feed and the queue included: with small bodies inline (the
// default) and with every body a blob.
func TestConformance(t *testing.T) {
	t.Run("InlineBodies", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return openStore(t, pgtest.NewDatabase(t))
		})
	})
	t.Run("BlobBodies", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return openWith(t, Options{DSN: pgtest.NewDatabase(t), InlineMax: -1})
		})
	})
}

// bigMessage is a message of about n bytes whose bytes differ along it,
// so that a chunk read at the wrong offset shows.
func bigMessage(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nSubject: big\r\n\r\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %08d %s\r\n", i, strings.Repeat("x", 60))
	}
	return b.Bytes()
}

func count(t *testing.T, st *Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A body larger than a chunk is one blob shared by every recipient and
// copy; ranges read across chunk boundaries, behind each copy's own
// header prefix, are the delivered bytes; the last reference to go
// deletes the blob in its transaction.
func TestLargeBodySharedAndReleased(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "a@example.test")
	b := newTestAccount(t, st, "b@example.test")
	ia, ib := mustMailbox(t, st, a.ID, "INBOX"), mustMailbox(t, st, b.ID, "INBOX")
	raw := bigMessage(3*chunkSize + 12345)
	m, err := st.Stage(ctx, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("Delivered-To: b@example.test\r\n")
	d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: ia.ID}, {MailboxID: ib.ID, HeaderPrefix: prefix}})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs"); n != 1 {
		t.Fatalf("%d blobs for one body delivered twice", n)
	}
	if n := count(t, st, "SELECT refs FROM contents"); n != 2 {
		t.Fatalf("refs = %d, want 2", n)
	}
	want := append(slices.Clone(prefix), raw...)
	body, err := st.OpenBody(ctx, ib.ID, d[1].UID)
	if err != nil {
		t.Fatal(err)
	}
	if body.Size() != int64(len(want)) {
		t.Fatalf("size %d, want %d", body.Size(), len(want))
	}
	for _, r := range []struct{ off, n int }{{0, 10}, {5, 100}, {chunkSize - 7, 40}, {2*chunkSize + len(prefix) - 3, chunkSize + 9}, {len(want) - 20, 64}} {
		p := make([]byte, r.n)
		n, err := body.ReadAt(p, int64(r.off))
		end := min(r.off+r.n, len(want))
		if n != end-r.off || !bytes.Equal(p[:n], want[r.off:end]) {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, %v: wrong bytes", r.off, r.n, n, err)
		}
		if (end < r.off+r.n) != errors.Is(err, io.EOF) {
			t.Fatalf("ReadAt(%d, %d): error %v", r.off, r.n, err)
		}
	}
	body.Close()
	c, err := st.Copy(ctx, ia.ID, []uint32{d[0].UID}, mustMailbox(t, st, a.ID, "Archive").ID, store.KeepAll)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT refs FROM contents"); n != 3 {
		t.Fatalf("refs after copy = %d, want 3", n)
	}
	for _, x := range []struct {
		mb  int64
		uid uint32
	}{{ia.ID, d[0].UID}, {ib.ID, d[1].UID}} {
		if _, err := st.Expunge(ctx, x.mb, []uint32{x.uid}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, "SELECT count(*) FROM blob_chunks"); n == 0 {
			t.Fatal("body gone while a copy remains")
		}
	}
	if _, err := st.Expunge(ctx, mustMailbox(t, st, a.ID, "Archive").ID, c.DestUIDs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT (SELECT count(*) FROM blobs) + (SELECT count(*) FROM blob_chunks) + (SELECT count(*) FROM contents) + (SELECT count(*) FROM blob_trash)"); n != 0 {
		t.Fatalf("%d rows of the body left after its last copy was expunged", n)
	}
	if _, err := st.OpenBody(ctx, ib.ID, d[1].UID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBody of an expunged message: %v", err)
	}
}

// A staged body never delivered is removed by Discard, and cannot be
// delivered afterwards.
func TestDiscardRemovesBlob(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "a@example.test")
	m, err := st.Stage(ctx, bytes.NewReader(bigMessage(DefaultInlineMax+1)))
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs WHERE complete"); n != 1 {
		t.Fatalf("%d complete blobs after Stage, want 1", n)
	}
	if err := m.Discard(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs"); n != 0 {
		t.Fatalf("%d blobs after Discard", n)
	}
	_, err = st.Deliver(ctx, m, []store.Target{{MailboxID: mustMailbox(t, st, a.ID, "INBOX").ID}})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Deliver after Discard: %v", err)
	}
}

// Two nodes delivering into one mailbox at once hand out every UID once,
// densely, with modseqs increasing in UID order, and the change log has a
// row per delivery for the other nodes.
func TestUIDsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	nodes := []*Store{openStore(t, dsn), openStore(t, dsn)}
	a := newTestAccount(t, nodes[0], "a@example.test")
	inbox := mustMailbox(t, nodes[0], a.ID, "INBOX")
	const perWriter, writersPerNode = 15, 4
	var mu sync.Mutex
	var got []store.Delivered
	var wg sync.WaitGroup
	errs := make(chan error, 2*writersPerNode)
	for i, st := range nodes {
		for w := range writersPerNode {
			wg.Go(func() {
				for j := range perWriter {
					m, err := st.Stage(ctx, bytes.NewReader(storetest.Message(fmt.Sprintf("n%d-w%d-%d", i, w, j), "x")))
					if err != nil {
						errs <- err
						return
					}
					d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					got = append(got, d[0])
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 2 * writersPerNode * perWriter
	slices.SortFunc(got, func(a, b store.Delivered) int { return int(a.UID) - int(b.UID) })
	for i, d := range got {
		if d.UID != uint32(i+1) {
			t.Fatalf("UIDs not dense and unique: position %d has UID %d", i, d.UID)
		}
		if i > 0 && d.ModSeq <= got[i-1].ModSeq {
			t.Fatalf("modseq not increasing: UID %d has %d after %d", d.UID, d.ModSeq, got[i-1].ModSeq)
		}
	}
	mb, list, err := nodes[1].LoadMailbox(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != total || mb.UIDNext != uint32(total+1) || mb.HighestModSeq != got[len(got)-1].ModSeq {
		t.Fatalf("mailbox %+v with %d messages after %d deliveries", mb, len(list), total)
	}
	if n := count(t, nodes[0], "SELECT count(DISTINCT origin) FROM changelog WHERE mailbox_id = $1 AND kind = $2", inbox.ID, changeMessages); n != 2 {
		t.Fatalf("change log rows from %d origins, want 2", n)
	}
	if n := count(t, nodes[0], "SELECT count(*) FROM changelog WHERE mailbox_id = $1 AND kind = $2", inbox.ID, changeMessages); n != total {
		t.Fatalf("%d change log rows for %d deliveries", n, total)
	}
}

// A flag change on one node is seen by ChangesSince on the other, and the
// change log records the modseq it reached.
func TestFlagsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	acct := newTestAccount(t, a, "a@example.test")
	inbox := mustMailbox(t, a, acct.ID, "INBOX")
	m, err := a.Stage(ctx, bytes.NewReader(storetest.Message("f", "x")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{d[0].UID}, Op: store.FlagsAdd, Flags: store.FlagSeen})
	if err != nil || len(res.Updated) != 1 {
		t.Fatalf("UpdateFlags = %+v, %v", res, err)
	}
	ch, err := a.ChangesSince(ctx, inbox.ID, d[0].ModSeq)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Changed) != 1 || ch.Changed[0].Flags != store.FlagSeen || ch.ModSeq != res.Updated[0].ModSeq {
		t.Fatalf("changes seen on the other node: %+v", ch)
	}
	if n := count(t, a, "SELECT max(modseq) FROM changelog WHERE mailbox_id = $1 AND origin = $2", inbox.ID, b.origin); n != int(ch.ModSeq) {
		t.Fatalf("change log of node b reached modseq %d, want %d", n, ch.ModSeq)
	}
}

// A delivery that fails (one target mailbox does not exist) records no
// reference to the staged blob and leaves it in place, so the same staged
// message delivers afterwards, its body stored once.
func TestFailedDeliveryKeepsStagedBlob(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	a := newTestAccount(t, st, "a@example.test")
	inbox := mustMailbox(t, st, a.ID, "INBOX")
	raw := bigMessage(DefaultInlineMax + 1)
	m, err := st.Stage(ctx, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}, {MailboxID: 987654}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delivery into a missing mailbox: %v", err)
	}
	if n := count(t, st, "SELECT (SELECT count(*) FROM contents) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM changelog WHERE kind = $1)", changeMessages); n != 0 {
		t.Fatalf("a failed delivery left %d rows", n)
	}
	d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if d[0].UID != 1 {
		t.Fatalf("UID %d after a failed delivery, want 1 (the failed one's UID was rolled back)", d[0].UID)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs"); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
	r, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("staged Open read %d bytes (%v), want the %d staged", len(got), err, len(raw))
	}
}

// Two nodes moving, copying and expunging in the same mailboxes at once:
// every write completes (no deadlock left unresolved), no message is both
// moved and expunged, and every body's reference count is the number of
// messages that use it.
func TestMoveCopyExpungeAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	acct := newTestAccount(t, a, "a@example.test")
	inbox, archive := mustMailbox(t, a, acct.ID, "INBOX"), mustMailbox(t, a, acct.ID, "Archive")
	const n = 30
	for i := range n {
		m, err := a.Stage(ctx, bytes.NewReader(storetest.Message(fmt.Sprint(i), "x")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	var moved, expunged []uint32
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() { // node a moves every message out of INBOX, one at a time
		for uid := uint32(1); uid <= n; uid++ {
			res, err := a.Move(ctx, inbox.ID, []uint32{uid}, archive.ID, store.KeepAll)
			if err != nil {
				errs <- err
				return
			}
			moved = append(moved, res.SourceUIDs...)
		}
	})
	wg.Go(func() { // node b expunges the odd ones, from the end
		for uid := n - 1; uid >= 1; uid -= 2 {
			gone, err := b.Expunge(ctx, inbox.ID, []uint32{uint32(uid)})
			if err != nil {
				errs <- err
				return
			}
			expunged = append(expunged, gone...)
		}
	})
	wg.Go(func() { // node b copies Archive back into INBOX while a moves the other way
		for range 10 {
			list, err := b.MessageList(ctx, archive.ID)
			if err != nil {
				errs <- err
				return
			}
			if len(list) > 0 {
				if _, err := b.Copy(ctx, archive.ID, []uint32{list[0].UID}, inbox.ID, store.KeepAll); err != nil {
					errs <- err
					return
				}
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, u := range moved {
		if slices.Contains(expunged, u) {
			t.Fatalf("UID %d both moved and expunged", u)
		}
	}
	if len(moved)+len(expunged) != n {
		t.Fatalf("%d moved + %d expunged of %d", len(moved), len(expunged), n)
	}
	if c := count(t, a, "SELECT count(*) FROM messages WHERE mailbox_id = $1", archive.ID); c != len(moved) {
		t.Fatalf("Archive holds %d messages, %d were moved", c, len(moved))
	}
	if c := count(t, a, "SELECT count(*) FROM contents c WHERE refs <> (SELECT count(*) FROM messages m WHERE m.content_id = c.id)"); c != 0 {
		t.Fatalf("%d bodies with a wrong reference count", c)
	}
	if c := count(t, a, "SELECT count(*) FROM contents c WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.content_id = c.id)"); c != 0 {
		t.Fatalf("%d bodies no message uses were kept", c)
	}
}

// One EXPUNGE of several messages, two of them sharing a body: the
// batch drops both references at once and frees the body, while a body
// another message still uses stays.
func TestExpungeReleasesSharedBodiesInOneBatch(t *testing.T) {
	ctx := context.Background()
	st := openWith(t, Options{DSN: pgtest.NewDatabase(t), InlineMax: -1})
	a := newTestAccount(t, st, "a@example.test")
	inbox, archive := mustMailbox(t, st, a.ID, "INBOX"), mustMailbox(t, st, a.ID, "Archive")
	stage := func(s string) store.Staged {
		m, err := st.Stage(ctx, strings.NewReader("Subject: "+s+"\r\n\r\nbody "+s+"\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	twice, err := st.Deliver(ctx, stage("twice"), []store.Target{{MailboxID: inbox.ID}, {MailboxID: inbox.ID}, {MailboxID: archive.ID}})
	if err != nil {
		t.Fatal(err)
	}
	once, err := st.Deliver(ctx, stage("once"), []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{twice[0].UID, twice[1].UID, once[0].UID}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT count(*) FROM contents"); n != 1 {
		t.Fatalf("%d content rows after the batch, want 1 (the one still in Archive)", n)
	}
	if n := count(t, st, "SELECT refs FROM contents"); n != 1 {
		t.Fatalf("refs of the body left = %d, want 1", n)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs"); n != 1 {
		t.Fatalf("%d blobs left, want 1", n)
	}
	body, err := st.OpenBody(ctx, archive.ID, twice[2].UID)
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
}
