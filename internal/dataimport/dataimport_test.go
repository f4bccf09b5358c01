package dataimport_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"mailroom/internal/dataimport"
	"mailroom/internal/testrig/teststore"
)

func TestMain(m *testing.M) { os.Exit(teststore.Main(m)) }

// An import runs once per installation, whichever node starts first; one
// that failed runs again at the next start.
func TestOnce(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	runs := 0
	failing := errors.New("disk unreadable")
	n, err := dataimport.Once(ctx, a, "test", "/old/dir", func() (int, error) { runs++; return 1, failing })
	if !errors.Is(err, failing) || n != 1 {
		t.Fatalf("failed import: %d, %v", n, err)
	}
	n, err = dataimport.Once(ctx, b, "test", "/old/dir", func() (int, error) { runs++; return 3, nil })
	if err != nil || n != 3 {
		t.Fatalf("import after a failed one: %d, %v", n, err)
	}
	n, err = dataimport.Once(ctx, a, "test", "/old/dir", func() (int, error) { runs++; return 5, nil })
	if err != nil || n != 0 || runs != 2 {
		t.Fatalf("import once done: %d, %v, %d runs; want 0, nil, 2 runs", n, err, runs)
	}
	marker, ok, err := dataimport.Read(ctx, b, "import/test")
	if err != nil || !ok || len(marker) == 0 {
		t.Fatalf("marker: %q %v %v", marker, ok, err)
	}
	// Another kind is another import.
	if n, err := dataimport.Once(ctx, b, "other", "/old/dir", func() (int, error) { return 7, nil }); n != 7 || err != nil {
		t.Fatalf("another kind: %d, %v", n, err)
	}
}

// What the store has wins over an old copy on disk.
func TestPutKeepsWhatIsThere(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	if wrote, err := dataimport.Put(ctx, st, "x/a", []byte("new")); !wrote || err != nil {
		t.Fatalf("first Put: %v %v", wrote, err)
	}
	if wrote, err := dataimport.Put(ctx, st, "x/a", []byte("old")); wrote || err != nil {
		t.Fatalf("second Put: %v %v", wrote, err)
	}
	if data, ok, err := dataimport.Read(ctx, st, "x/a"); string(data) != "new" || !ok || err != nil {
		t.Fatalf("Read: %q %v %v", data, ok, err)
	}
	if _, ok, err := dataimport.Read(ctx, st, "x/none"); ok || err != nil {
		t.Fatalf("Read of a missing file: %v %v", ok, err)
	}
}
