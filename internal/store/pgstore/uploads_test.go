package pgstore

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store/pgstore/pgtest"
)

// A maintenance round deletes the uploads past store.UploadLifetime with
// their bodies, and its sweep keeps the body of a live upload however old
// the blob row is: the upload's row is a reference, as a content's is.
func TestMaintenanceUploads(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	acct := newTestAccount(t, st, "demo@example.test")
	live, err := st.PutUpload(ctx, acct.ID, "text/plain", strings.NewReader("live"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := st.PutUpload(ctx, acct.ID, "text/plain", strings.NewReader("expired"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Both bodies older than the sweep's age; one upload past its lifetime.
	mustExec(t, st, "UPDATE blobs SET created = $1", now.Add(-2*sweepAge).Unix())
	mustExec(t, st, "UPDATE uploads SET created = $1 WHERE id = $2", now.Add(-25*time.Hour).Unix(), expired.ID)
	d, err := st.maintainOnce(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.ran || d.uploads != 1 || d.blobs != 0 {
		t.Errorf("round %+v, want 1 expired upload and no orphaned body", d)
	}
	if n := count(t, st, "SELECT count(*) FROM blobs"); n != 1 {
		t.Errorf("%d bodies left, want the live upload's", n)
	}
	b, err := st.OpenUpload(ctx, acct.ID, live.ID)
	if err != nil {
		t.Fatalf("live upload after the round: %v", err)
	}
	defer b.Close()
	if data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size())); err != nil || string(data) != "live" {
		t.Errorf("live upload: %q %v", data, err)
	}
}
