package delivery

import (
	"context"
	"testing"
)

// TestPrefsCacheBounded: the compiled scripts the agent keeps are bounded
// by their source's size; the account delivered to longest ago goes first.
func TestPrefsCacheBounded(t *testing.T) {
	st, _ := setup(t)
	c := newPrefsCache(st.Subscribe(0))
	loads := 0
	load := func(context.Context, int64) (prefs, error) {
		loads++
		return prefs{size: 6 << 20}, nil
	}
	get := func(id int64) {
		t.Helper()
		if _, err := c.get(context.Background(), id, load); err != nil {
			t.Fatal(err)
		}
	}
	get(1)
	get(2)
	get(1) // 1 is now the most recent
	get(3) // 18 MiB: 2, the least recent, goes
	if _, ok := c.m[2]; ok || len(c.m) != 2 || c.bytes != 12<<20 {
		t.Fatalf("after three 6 MiB scripts: cached %v, %d bytes", c.m, c.bytes)
	}
	before := loads
	get(1)
	get(3)
	if loads != before {
		t.Errorf("cached accounts loaded again")
	}
	get(2)
	if loads != before+1 {
		t.Errorf("the dropped account was not loaded again")
	}
}
