package sqlitestore

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
)

// uploadFile returns the body file of an upload.
func uploadFile(t *testing.T, st *Store, id string) string {
	t.Helper()
	var ref string
	err := st.query(context.Background(), "SELECT blob FROM uploads WHERE id = ?", func(s *sqlite.Stmt) error { ref = s.ColumnText(0); return nil }, id)
	if err != nil || ref == "" {
		t.Fatalf("body of upload %s: %q %v", id, ref, err)
	}
	path, err := st.blobs.Path(ref)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUploadRemovalHeldByBackup: uploads that expire while a backup holds
// removals off keep their files (the backup's copy of the database may
// still name them), listed in blob_trash; the next sweep removes them
// once the backup is done.
func TestUploadRemovalHeldByBackup(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	inbox := setupInbox(t, st)
	var paths []string
	for _, s := range []string{"one", "two"} {
		u, err := st.PutUpload(ctx, inbox.AccountID, "text/plain", strings.NewReader(s), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, uploadFile(t, st, u.ID))
	}
	release, err := st.blobs.HoldRemovals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteExpiredUploads(ctx, time.Now().Add(2*time.Second)); err != nil || n != 2 {
		t.Fatalf("DeleteExpiredUploads = %d, %v", n, err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a file went while a backup held removals: %v", err)
		}
	}
	var trashed int
	if err := st.query(ctx, "SELECT count(*) FROM blob_trash", func(s *sqlite.Stmt) error { trashed = s.ColumnInt(0); return nil }); err != nil || trashed != 2 {
		t.Fatalf("blob_trash lists %d files (%v), want 2", trashed, err)
	}
	release()
	if err := st.emptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the sweep: %v", p, err)
		}
	}
}

// TestUploadSurvivesRecovery: the start-up recovery removes body files no
// row names that are older than a minute (staged by a process that died);
// an upload's row names its file, so a restart keeps it.
func TestUploadSurvivesRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTest(t, dir)
	inbox := setupInbox(t, st)
	u, err := st.PutUpload(ctx, inbox.AccountID, "text/plain", strings.NewReader("still here"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := uploadFile(t, st, u.ID)
	st.Close()
	old := time.Now().Add(-10 * time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	st = openTest(t, dir) // Maintenance: recover runs
	defer st.Close()
	b, err := st.OpenUpload(ctx, inbox.AccountID, u.ID)
	if err != nil {
		t.Fatalf("upload after a restart: %v", err)
	}
	defer b.Close()
	if data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size())); err != nil || string(data) != "still here" {
		t.Errorf("upload after a restart: %q %v", data, err)
	}
}
