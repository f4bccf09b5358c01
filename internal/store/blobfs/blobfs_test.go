package blobfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestWriteCommitOpenRemove(t *testing.T) {
	fs, err := Open(t.TempDir(), Options{})
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
	fs, _ := Open(t.TempDir(), Options{})
	for _, ref := range []string{"", "x", "../../etc/passwd", "2026112100/../../x", "2026112100/a/b", "short/x"} {
		if _, err := fs.Open(ref); !errors.Is(err, ErrBadRef) {
			t.Errorf("Open(%q) = %v, want ErrBadRef", ref, err)
		}
	}
}

func TestAbortRemovesTheFile(t *testing.T) {
	root := t.TempDir()
	fs, _ := Open(root, Options{})
	w, _ := fs.Create()
	w.Write([]byte("partial"))
	w.Abort()
	if n := tmpFiles(t, root); n != 0 {
		t.Fatalf("aborted write left %d files", n)
	}
}

func tmpFiles(t *testing.T, root string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestCleanTmpRemovesLeftoversWhateverTheirAge: a crash leftover seconds
// old goes too (it used to stay until it was an hour old).
func TestCleanTmpRemovesLeftoversWhateverTheirAge(t *testing.T) {
	root := t.TempDir()
	fs, _ := Open(root, Options{})
	stale := filepath.Join(root, "tmp", "in-stale")
	fresh := filepath.Join(root, "tmp", "in-fresh")
	os.WriteFile(stale, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	n, err := fs.CleanTmp()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stale, fresh} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s kept", filepath.Base(p))
		}
	}
	if n != 2 {
		t.Errorf("CleanTmp reported %d removed, want 2", n)
	}
}

// TestCleanTmpKeepsBodiesBeingWritten: another store on the same directory
// (an admin command) is writing a body while the server starts: the file
// stays and its commit succeeds.
func TestCleanTmpKeepsBodiesBeingWritten(t *testing.T) {
	root := t.TempDir()
	writer, _ := Open(root, Options{})
	cleaner, _ := Open(root, Options{})
	w, err := writer.Create()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half a body"))
	if n, err := cleaner.CleanTmp(); err != nil || n != 0 {
		t.Fatalf("CleanTmp = %d, %v; want nothing removed", n, err)
	}
	if tmpFiles(t, root) != 1 {
		t.Fatal("the body being written was removed")
	}
	w.Write([]byte(", and the rest"))
	ref, err := w.Commit()
	if err != nil {
		t.Fatalf("commit after a clean: %v", err)
	}
	f, err := writer.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "half a body, and the rest" {
		t.Fatalf("read %q", got)
	}
}

// TestCleanTmpRacingWriters: cleaning over and over while bodies are
// written never breaks a write (a cleaner that removes a new file before
// its writer locked it makes the writer start over).
func TestCleanTmpRacingWriters(t *testing.T) {
	root := t.TempDir()
	writer, _ := Open(root, Options{})
	cleaner, _ := Open(root, Options{})
	stop := make(chan struct{})
	cleaned := make(chan struct{})
	go func() {
		defer close(cleaned)
		for {
			select {
			case <-stop:
				return
			default:
				cleaner.CleanTmp()
			}
		}
	}()
	defer func() { close(stop); <-cleaned }()
	for i := range 300 {
		w, err := writer.Create()
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("body %d", i)
		w.Write([]byte(body))
		ref, err := w.Commit()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		f, err := writer.Open(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != body {
			t.Fatalf("write %d read back %q", i, got)
		}
	}
}

// TestCleanTmpAfterWriterDies: a process killed in the middle of a write
// leaves its file; while it lives the file is kept, once it is dead the
// next clean removes it at once.
func TestCleanTmpAfterWriterDies(t *testing.T) {
	if root := os.Getenv("BLOBFS_HELPER_ROOT"); root != "" {
		fs, err := Open(root, Options{})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		w, err := fs.Create()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		w.Write([]byte("half a body"))
		fmt.Println("writing")
		time.Sleep(time.Minute) // killed before this ends
		os.Exit(0)
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanTmpAfterWriterDies$")
	cmd.Env = append(os.Environ(), "BLOBFS_HELPER_ROOT="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "writing\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	fs, _ := Open(root, Options{})
	if n, _ := fs.CleanTmp(); n != 0 || tmpFiles(t, root) != 1 {
		t.Fatalf("removed %d files of a live writer", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n, _ := fs.CleanTmp(); n != 1 || tmpFiles(t, root) != 0 {
		t.Fatalf("after the writer died: removed %d, %d left", n, tmpFiles(t, root))
	}
}

// TestWrapFileErrors: a write or fsync error of the file reaches the
// caller, and the failed blob leaves nothing behind.
func TestWrapFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name              string
		writeErr, syncErr error
	}{
		{"write", syscall.ENOSPC, nil},
		{"fsync", nil, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			fs, _ := Open(root, Options{WrapFile: func(f *os.File) File {
				return failing{f, tc.writeErr, tc.syncErr}
			}})
			w, err := fs.Create()
			if err != nil {
				t.Fatal(err)
			}
			_, werr := w.Write([]byte("body"))
			_, cerr := w.Commit()
			if tc.writeErr != nil && !errors.Is(werr, tc.writeErr) {
				t.Fatalf("Write = %v, want %v", werr, tc.writeErr)
			}
			if tc.syncErr != nil && !errors.Is(cerr, tc.syncErr) {
				t.Fatalf("Commit = %v, want %v", cerr, tc.syncErr)
			}
			if tc.writeErr != nil {
				w.Abort()
			}
			if n := tmpFiles(t, root); n != 0 {
				t.Fatalf("%d files left in tmp", n)
			}
		})
	}
}

type failing struct {
	f                 *os.File
	writeErr, syncErr error
}

func (x failing) Write(p []byte) (int, error) {
	if x.writeErr != nil {
		return 0, x.writeErr
	}
	return x.f.Write(p)
}

func (x failing) Sync() error {
	if x.syncErr != nil {
		return x.syncErr
	}
	return x.f.Sync()
}
