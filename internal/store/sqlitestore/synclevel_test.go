package sqlitestore

import (
	"context"
	"testing"

	"zombiezen.com/go/sqlite"
)

// Writes that acknowledge a message commit with a full sync; flag changes,
// copies and moves alone commit without one (writeLazy), and the next full
// write is fully synced again.
func TestSyncLevelPerBatch(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	level := func(lazy bool) int64 {
		t.Helper()
		var got int64
		read := func(tx *txn) error {
			return tx.query("PRAGMA synchronous", func(st *sqlite.Stmt) error { got = st.ColumnInt64(0); return nil })
		}
		var err error
		if lazy {
			err = s.writeLazy(ctx, read)
		} else {
			err = s.write(ctx, read)
		}
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	const normal, full = 1, 2
	for i, tc := range []struct {
		lazy bool
		want int64
	}{{false, full}, {true, normal}, {true, normal}, {false, full}, {true, normal}} {
		if got := level(tc.lazy); got != tc.want {
			t.Errorf("write %d (lazy %v): synchronous = %d, want %d", i, tc.lazy, got, tc.want)
		}
	}
}
