package mailbox

import (
	"context"
	"io"
	"strings"
	"testing"

	"mailroom/internal/store"
)

func TestMemBodyReadAt(t *testing.T) {
	b := newMemBody(cachedBody{prefix: []byte("Delivered-To: a\r\n"), body: []byte("Subject: x\r\n\r\nhello\r\n")})
	whole := "Delivered-To: a\r\nSubject: x\r\n\r\nhello\r\n"
	if b.Size() != int64(len(whole)) {
		t.Fatalf("Size %d, want %d", b.Size(), len(whole))
	}
	for _, tc := range []struct {
		off, n int
	}{{0, len(whole)}, {0, 5}, {10, 20}, {17, 3}, {16, 2}, {30, 100}, {len(whole), 1}, {0, 0}} {
		p := make([]byte, tc.n)
		n, err := b.ReadAt(p, int64(tc.off))
		want := whole[min(tc.off, len(whole)):min(tc.off+tc.n, len(whole))]
		if string(p[:n]) != want {
			t.Errorf("ReadAt(%d, %d) = %q, want %q", tc.off, tc.n, p[:n], want)
		}
		if short := n < tc.n; short != (err == io.EOF) {
			t.Errorf("ReadAt(%d, %d): n %d, err %v", tc.off, tc.n, n, err)
		}
	}
	if _, err := b.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
}

// A message appended through the service is read from memory, identical to
// the store's bytes, and forgotten when expunged.
func TestBodyCache(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	raw := "Subject: cached\r\n\r\n" + strings.Repeat("line\r\n", 100)
	msg, err := f.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("Delivered-To: someone@example.test\r\n")
	d, err := f.reg.Append(ctx, msg, []store.Target{{MailboxID: f.inbox.ID, HeaderPrefix: prefix}})
	if err != nil {
		t.Fatal(err)
	}
	k := messageKey{f.inbox.ID, d[0].UID}
	if _, ok := f.reg.bodies.get(k); !ok {
		t.Fatal("a freshly appended small message is not cached")
	}
	if _, ok := f.reg.structures.get(k); ok {
		t.Fatal("the unshifted structure of a message with a prefix was cached")
	}
	read := func(b store.Body) string {
		t.Helper()
		defer b.Close()
		p := make([]byte, b.Size())
		if _, err := b.ReadAt(p, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return string(p)
	}
	fromStore, err := f.st.OpenBody(ctx, f.inbox.ID, d[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := f.reg.OpenBody(ctx, f.inbox.ID, d[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(cached), read(fromStore); got != want || want != string(prefix)+raw {
		t.Fatalf("cached body %q, store body %q", got, want)
	}
	if _, err := f.reg.Expunge(ctx, f.inbox.ID, []uint32{d[0].UID}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.reg.bodies.get(k); ok {
		t.Fatal("an expunged message's body is still cached")
	}

	// A body read from the store is cached too; a large one is not.
	uids := f.deliver(1)
	if _, err := f.reg.OpenBody(ctx, f.inbox.ID, uids[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.reg.bodies.get(messageKey{f.inbox.ID, uids[0]}); !ok {
		t.Fatal("a small body read from the store was not cached")
	}
	big, err := f.st.Stage(ctx, strings.NewReader("Subject: big\r\n\r\n"+strings.Repeat("x", bodyCacheItemMax)))
	if err != nil {
		t.Fatal(err)
	}
	d, err = f.reg.Append(ctx, big, []store.Target{{MailboxID: f.inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.reg.OpenBody(ctx, f.inbox.ID, d[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, ok := f.reg.bodies.get(messageKey{f.inbox.ID, d[0].UID}); ok {
		t.Fatal("a body above bodyCacheItemMax was cached")
	}
}
