package blobfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteCommitOpenRemove(t *testing.T) {
	fs, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := fs.Create()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello "))
	w.Write([]byte("world"))
	if w.Size() != 11 {
		t.Fatalf("size %d", w.Size())
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir(Dir(ref)); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "hello world" {
		t.Fatalf("read %q", got)
	}
	if refs, _ := fs.RecentRefs(time.Hour); len(refs) != 1 || refs[0] != ref {
		t.Fatalf("recent refs %v, want [%s]", refs, ref)
	}
	if err := fs.Remove(ref); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(ref); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := fs.Open(ref); err == nil {
		t.Fatal("removed blob still opens")
	}
}

func TestBadRefsRefused(t *testing.T) {
	fs, _ := Open(t.TempDir())
	for _, ref := range []string{"", "x", "../../etc/passwd", "2026112100/../../x", "2026112100/a/b", "short/x"} {
		if _, err := fs.Open(ref); !errors.Is(err, ErrBadRef) {
			t.Errorf("Open(%q) = %v, want ErrBadRef", ref, err)
		}
	}
}

func TestAbortAndCleanTmp(t *testing.T) {
	root := t.TempDir()
	fs, _ := Open(root)
	w, _ := fs.Create()
	w.Write([]byte("partial"))
	w.Abort()
	entries, _ := os.ReadDir(filepath.Join(root, "tmp"))
	if len(entries) != 0 {
		t.Fatalf("aborted write left %d files", len(entries))
	}
	stale := filepath.Join(root, "tmp", "in-stale")
	fresh := filepath.Join(root, "tmp", "in-fresh")
	os.WriteFile(stale, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if err := fs.CleanTmp(time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale temp file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temp file (a write in progress) removed")
	}
}
