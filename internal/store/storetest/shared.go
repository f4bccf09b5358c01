package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

// SharedStore is the part of a store that several nodes share besides
// mail: shared files, leases and the login throttle's counts.
type SharedStore interface {
	store.SharedFiles
	store.Leases
	store.LoginCounts
}

// sharedTests need only a SharedStore.
var sharedTests = []struct {
	name string
	fn   func(t *testing.T, st SharedStore)
}{
	{"SharedFiles", testSharedFiles},
	{"SharedFileUpdate", testSharedFileUpdate},
	{"Leases", testLeases},
	{"LoginCounts", testLoginCounts},
	{"SharedConcurrent", func(t *testing.T, st SharedStore) { testSharedNodes(t, st, st) }},
	{"LoginCountsConcurrent", func(t *testing.T, st SharedStore) { testLoginCountsNodes(t, st, st) }},
}

// RunSharedNodes races two nodes on one store: open returns two handles
// on the same new, empty store (two connection pools on one database, as
// two nodes have), and closes them itself.
func RunSharedNodes(t *testing.T, open func(t *testing.T) (a, b SharedStore)) {
	a, b := open(t)
	defer recoverFailure(t)
	testSharedNodes(t, a, b)
	testLoginCountsNodes(t, a, b)
}

func wantFile(t *testing.T, st store.SharedFiles, name, want string) {
	t.Helper()
	got, err := st.ReadFile(context.Background(), name)
	if err != nil {
		t.Fatalf("ReadFile(%q): %v", name, err)
	}
	if string(got) != want {
		t.Fatalf("ReadFile(%q) = %q, want %q", name, got, want)
	}
}

func wantNoFile(t *testing.T, st store.SharedFiles, name string) {
	t.Helper()
	got, err := st.ReadFile(context.Background(), name)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadFile(%q) = %q, %v; want ErrNotFound", name, got, err)
	}
}

func wantList(t *testing.T, st store.SharedFiles, prefix string, want ...string) {
	t.Helper()
	got := must(st.ListFiles(context.Background(), prefix))
	if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
		t.Fatalf("ListFiles(%q) = %q, want %q", prefix, got, want)
	}
}

func testSharedFiles(t *testing.T, st SharedStore) {
	ctx := context.Background()
	wantNoFile(t, st, "acme/mail.example.test.crt")
	wantList(t, st, "")

	ok(t, st.WriteFile(ctx, "acme/mail.example.test.crt", []byte("cert one")))
	wantFile(t, st, "acme/mail.example.test.crt", "cert one")
	ok(t, st.WriteFile(ctx, "acme/mail.example.test.crt", []byte("cert two")))
	wantFile(t, st, "acme/mail.example.test.crt", "cert two")

	// What ReadFile returns is the caller's to change.
	b := must(st.ReadFile(ctx, "acme/mail.example.test.crt"))
	b[0] = 'X'
	wantFile(t, st, "acme/mail.example.test.crt", "cert two")

	// An empty file is a file; binary contents come back exactly.
	ok(t, st.WriteFile(ctx, "empty", nil))
	wantFile(t, st, "empty", "")
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\r', '\n', 0}
	ok(t, st.WriteFile(ctx, "dkim/example.test/key", bin))
	wantFile(t, st, "dkim/example.test/key", string(bin))
	big := strings.Repeat("x", store.MaxSharedFileSize)
	ok(t, st.WriteFile(ctx, "big", []byte(big)))
	wantFile(t, st, "big", big)

	// Listing: by prefix, sorted bytewise (upper case before lower, "/"
	// before "0", UTF-8 after ASCII), and a prefix's LIKE metacharacters
	// are plain characters.
	for _, name := range []string{"acme/b", "acme/B", "acme0", "acme/é", "acme/%x", "acme/_y", "acmex"} {
		ok(t, st.WriteFile(ctx, name, []byte(name)))
	}
	wantList(t, st, "acme/", "acme/%x", "acme/B", "acme/_y", "acme/b", "acme/mail.example.test.crt", "acme/é")
	wantList(t, st, "acme/%", "acme/%x")
	wantList(t, st, "acme/_", "acme/_y")
	wantList(t, st, "acme/é", "acme/é")
	wantList(t, st, "nothing/")
	wantList(t, st, "", "acme/%x", "acme/B", "acme/_y", "acme/b", "acme/mail.example.test.crt", "acme/é", "acme0", "acmex", "big", "dkim/example.test/key", "empty")

	ok(t, st.DeleteFile(ctx, "acme/b"))
	wantNoFile(t, st, "acme/b")
	ok(t, st.DeleteFile(ctx, "acme/b")) // gone: no error
	wantFile(t, st, "acme/B", "acme/B") // names are case-sensitive

	// Bad input.
	for _, name := range []string{"", strings.Repeat("n", store.MaxSharedNameLen+1), "nul\x00name", "bad\xffutf8"} {
		wantErr(t, st.WriteFile(ctx, name, []byte("x")), store.ErrInvalid, fmt.Sprintf("WriteFile(%q)", name))
		_, err := st.ReadFile(ctx, name)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("ReadFile(%q)", name))
		wantErr(t, st.DeleteFile(ctx, name), store.ErrInvalid, fmt.Sprintf("DeleteFile(%q)", name))
	}
	_, err := st.ListFiles(ctx, "nul\x00")
	wantErr(t, err, store.ErrInvalid, "ListFiles with NUL")
	ok(t, st.WriteFile(ctx, strings.Repeat("n", store.MaxSharedNameLen), []byte("longest name")))
	wantErr(t, st.WriteFile(ctx, "too big", make([]byte, store.MaxSharedFileSize+1)), store.ErrInvalid, "file over the limit")
	wantNoFile(t, st, "too big")
}

func testSharedFileUpdate(t *testing.T, st SharedStore) {
	ctx := context.Background()
	// Create unless it exists.
	createOnce := func(content string) error {
		return st.UpdateFile(ctx, "selfsigned.pem", func(old []byte, exists bool) ([]byte, bool, error) {
			if exists {
				return nil, false, nil
			}
			return []byte(content), true, nil
		})
	}
	ok(t, createOnce("first"))
	ok(t, createOnce("second"))
	wantFile(t, st, "selfsigned.pem", "first")

	// fn sees the current contents, and an empty file exists.
	ok(t, st.WriteFile(ctx, "empty", []byte{}))
	var sawExists bool
	var sawOld []byte
	ok(t, st.UpdateFile(ctx, "empty", func(old []byte, exists bool) ([]byte, bool, error) {
		sawExists, sawOld = exists, old
		return nil, false, nil
	}))
	if !sawExists || len(sawOld) != 0 {
		t.Fatalf("update of an empty file saw %q, exists %v", sawOld, sawExists)
	}
	ok(t, st.UpdateFile(ctx, "missing", func(old []byte, exists bool) ([]byte, bool, error) {
		sawExists, sawOld = exists, old
		return nil, false, nil
	}))
	if sawExists || sawOld != nil {
		t.Fatalf("update of a missing file saw %q, exists %v", sawOld, sawExists)
	}
	wantNoFile(t, st, "missing") // write false writes nothing

	// fn's error aborts the update and comes back.
	errNo := errors.New("refused")
	wantErr(t, st.UpdateFile(ctx, "selfsigned.pem", func([]byte, bool) ([]byte, bool, error) {
		return []byte("overwritten"), true, errNo
	}), errNo, "update whose fn failed")
	wantFile(t, st, "selfsigned.pem", "first")

	// A result over the size limit is refused and changes nothing.
	wantErr(t, st.UpdateFile(ctx, "selfsigned.pem", func([]byte, bool) ([]byte, bool, error) {
		return make([]byte, store.MaxSharedFileSize+1), true, nil
	}), store.ErrInvalid, "update to a file over the limit")
	wantFile(t, st, "selfsigned.pem", "first")
	wantErr(t, st.UpdateFile(ctx, "", func([]byte, bool) ([]byte, bool, error) { return nil, false, nil }), store.ErrInvalid, "update without a name")

	// A counter.
	for range 5 {
		ok(t, incrementCounter(ctx, st, "tlsrpt/count"))
	}
	wantFile(t, st, "tlsrpt/count", "5")
}

// incrementCounter adds one to the decimal counter in the file name.
func incrementCounter(ctx context.Context, st store.SharedFiles, name string) error {
	return st.UpdateFile(ctx, name, func(old []byte, exists bool) ([]byte, bool, error) {
		n := 0
		if exists {
			var err error
			if n, err = strconv.Atoi(string(old)); err != nil {
				return nil, false, err
			}
		}
		return []byte(strconv.Itoa(n + 1)), true, nil
	})
}

func testLeases(t *testing.T, st SharedStore) {
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	acquire := func(name, owner string, until time.Time, want bool) {
		t.Helper()
		got, err := st.AcquireLease(ctx, name, owner, until)
		if err != nil {
			t.Fatalf("AcquireLease(%q, %q): %v", name, owner, err)
		}
		if got != want {
			t.Fatalf("AcquireLease(%q, %q) = %v, want %v", name, owner, got, want)
		}
	}
	acquire("pop3/1", "node-a/1", hour, true)
	acquire("pop3/1", "node-b/1", hour, false)        // held
	acquire("pop3/2", "node-b/1", hour, true)         // another name is another lease
	acquire("pop3/1", "node-a/1", hour, true)         // the owner renews
	ok(t, st.ReleaseLease(ctx, "pop3/1", "node-b/1")) // not the owner: nothing
	acquire("pop3/1", "node-b/2", hour, false)
	ok(t, st.ReleaseLease(ctx, "pop3/1", "node-a/1"))
	acquire("pop3/1", "node-b/2", hour, true) // released: free
	ok(t, st.ReleaseLease(ctx, "pop3/1", "node-b/2"))
	ok(t, st.ReleaseLease(ctx, "pop3/1", "node-b/2")) // twice: no error

	// Expiry: an owner may shorten its lease, into the past even, and an
	// expired lease is anyone's.
	acquire("job", "a", hour, true)
	acquire("job", "a", time.Now().Add(-time.Millisecond), true)
	acquire("job", "b", hour, true)
	acquire("job", "a", hour, false)
	// And in real time: a lease that runs out is free without a release
	// (its holder died, say).
	acquire("short", "a", time.Now().Add(300*time.Millisecond), true)
	acquire("short", "b", hour, false)
	time.Sleep(400 * time.Millisecond)
	acquire("short", "b", hour, true)
	acquire("short", "a", hour, false)

	// Bad input.
	for _, name := range []string{"", "nul\x00", strings.Repeat("n", store.MaxSharedNameLen+1)} {
		_, err := st.AcquireLease(ctx, name, "owner", hour)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("AcquireLease(%q)", name))
		_, err = st.AcquireLease(ctx, "lease", name, hour)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("AcquireLease with owner %q", name))
		wantErr(t, st.ReleaseLease(ctx, name, "owner"), store.ErrInvalid, fmt.Sprintf("ReleaseLease(%q)", name))
	}
}

// testSharedNodes races a and b (two nodes on one store, or one store
// twice): counter increments are never lost, a file is created once, and
// one lease has one holder.
func testSharedNodes(t *testing.T, a, b SharedStore) {
	ctx := context.Background()
	const workers, increments = 8, 10
	node := func(i int) SharedStore {
		if i%2 == 0 {
			return a
		}
		return b
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*increments)
	for i := range workers {
		wg.Go(func() {
			for range increments {
				if err := incrementCounter(ctx, node(i), "counter"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	wantFile(t, a, "counter", strconv.Itoa(workers*increments))
	wantFile(t, b, "counter", strconv.Itoa(workers*increments))

	// Create unless it exists, on every node at once: the first to
	// commit wins, and every later fn sees its file.
	for round := range 3 {
		name := fmt.Sprintf("cert%d", round)
		var mu sync.Mutex
		sawOther := 0
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				err := node(i).UpdateFile(ctx, name, func(old []byte, exists bool) ([]byte, bool, error) {
					if exists {
						mu.Lock()
						sawOther++
						mu.Unlock()
						return nil, false, nil
					}
					return []byte(strconv.Itoa(i)), true, nil
				})
				if err != nil {
					t.Errorf("create %s on worker %d: %v", name, i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		// Each of the workers−1 that lost saw the file at least once (a
		// retried fn may see it more than once).
		if sawOther < workers-1 {
			t.Fatalf("%s: only %d of %d workers found it existing", name, sawOther, workers-1)
		}
		got := must(a.ReadFile(ctx, name))
		if n, err := strconv.Atoi(string(got)); err != nil || n < 0 || n >= workers {
			t.Fatalf("%s = %q", name, got)
		}
	}

	// A free lease acquired by every worker at once has one holder.
	for round := range 3 {
		name := fmt.Sprintf("lease%d", round)
		got := make([]bool, workers)
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				var err error
				got[i], err = node(i).AcquireLease(ctx, name, fmt.Sprintf("owner%d", i), time.Now().Add(time.Minute))
				if err != nil {
					t.Errorf("acquire %s on worker %d: %v", name, i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		holders := 0
		for _, g := range got {
			if g {
				holders++
			}
		}
		if holders != 1 {
			t.Fatalf("%s: %d holders, want 1", name, holders)
		}
	}
}
