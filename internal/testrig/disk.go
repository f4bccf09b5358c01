package testrig

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SmallDisk mounts a 4 MiB tmpfs on a new temporary directory for a data
// directory whose disk a test fills for real (FillDisk), so SQLite meets
// the full disk too, not only the body files. It needs root (CI runs as
// root) and skips the test without it. Call it before Start: the unmount,
// registered first, runs after the rig's shutdown.
func SmallDisk(t testing.TB) string {
	t.Helper()
	// On PostgreSQL the mail is not on the data directory's disk.
	RequireSQLite(t)
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return dir
}

// FillDisk writes a file into dir until its file system is full, and
// returns the function that frees the space again.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			break
		}
	}
	f.Close()
	return func() {
		t.Helper()
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
}
