package sqlitestore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/blobfs/blobfstest"
	"mailroom/internal/store/storetest"
)

// TestStageOnAFullDisk: a body that does not fit fails with
// store.ErrInsufficientStorage (the cause kept), leaves no file, and the
// next one goes through once space is freed. A failing fsync is an error
// too, but not "disk full".
func TestStageOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	disk := blobfstest.New()
	st := openWith(t, Options{Dir: dir, WrapBlobFile: disk.Wrap})
	defer st.Close()
	inbox := setupInbox(t, st)
	ctx := context.Background()
	big := storetest.Message("big", strings.Repeat("0123456789abcdef\r\n", 200<<10/18))

	disk.Fill(100 << 10)
	_, err := st.Stage(ctx, bytes.NewReader(big))
	if !errors.Is(err, store.ErrInsufficientStorage) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Stage on a full disk = %v, want ErrInsufficientStorage wrapping ENOSPC", err)
	}
	if n := countFiles(t, filepath.Join(dir, "blobs", "tmp")); n != 0 {
		t.Fatalf("%d files left in blobs/tmp", n)
	}

	disk.Free()
	disk.FailSync(syscall.EIO)
	_, err = st.Stage(ctx, bytes.NewReader(big))
	if !errors.Is(err, syscall.EIO) || errors.Is(err, store.ErrInsufficientStorage) {
		t.Fatalf("Stage with a failing fsync = %v, want EIO, not ErrInsufficientStorage", err)
	}

	disk.Free()
	m, err := st.Stage(ctx, bytes.NewReader(big))
	if err != nil {
		t.Fatalf("Stage after the disk was freed: %v", err)
	}
	if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}}); err != nil {
		t.Fatal(err)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestStartRemovesTmpLeftoversWhateverTheirAge: at start the server's store
// removes an unfinished body written a moment ago by a process that died
// (it used to keep it for an hour), but not the one an admin command on the
// same data is receiving at that moment, whose delivery then succeeds.
func TestStartRemovesTmpLeftoversWhateverTheirAge(t *testing.T) {
	dir := t.TempDir()
	admin, err := Open(context.Background(), Options{Dir: dir}) // as admin commands open it: no maintenance
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	inbox := setupInbox(t, admin)
	ctx := context.Background()

	// The admin command is in the middle of a large body.
	pr, pw := io.Pipe()
	type result struct {
		m   store.Staged
		err error
	}
	staged := make(chan result, 1)
	go func() {
		m, err := admin.Stage(ctx, pr)
		staged <- result{m, err}
	}()
	head := storetest.Message("big", strings.Repeat("0123456789abcdef\r\n", DefaultInlineMax/18+10))
	if _, err := pw.Write(head); err != nil {
		t.Fatal(err)
	}
	tmpDir := filepath.Join(dir, "blobs", "tmp")
	deadline := time.Now().Add(10 * time.Second)
	for countFiles(t, tmpDir) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the admin's body never reached blobs/tmp")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A crash a second ago left this one.
	leftover := filepath.Join(tmpDir, "in-crashed")
	if err := os.WriteFile(leftover, []byte("half a mess"), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := openTest(t, dir) // the server starts: recovery runs
	defer srv.Close()
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a fresh crash leftover survived the start: %v", err)
	}
	if n := countFiles(t, tmpDir); n != 1 {
		t.Fatalf("%d files in blobs/tmp after the start, want the admin's one", n)
	}

	pw.Write([]byte("the end\r\n"))
	pw.Close()
	r := <-staged
	if r.err != nil {
		t.Fatalf("the admin's Stage failed after the server started: %v", r.err)
	}
	d, err := admin.Deliver(ctx, r.m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := srv.OpenBody(ctx, inbox.ID, d[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != int64(len(head)+len("the end\r\n")) {
		t.Fatalf("body is %d bytes, want %d", b.Size(), len(head)+len("the end\r\n"))
	}
}
