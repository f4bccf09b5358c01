package storetest

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

func wantCount(t *testing.T, st store.LoginCounts, key string, count float64, at time.Time) {
	t.Helper()
	got := must(st.LoginCounts(context.Background(), []string{key}))
	c, found := got[key]
	switch {
	case !found && count != 0:
		t.Fatalf("count %q missing, want %v at %v", key, count, at)
	case found && count == 0:
		t.Fatalf("count %q = %+v, want none", key, c)
	case found && (math.Abs(c.Count-count) > 1e-9 || !c.At.Equal(at)):
		t.Fatalf("count %q = %v at %v, want %v at %v", key, c.Count, c.At, count, at)
	}
}

func testLoginCounts(t *testing.T, st SharedStore) {
	ctx := context.Background()
	const hl = 10 * time.Minute
	t0 := time.Date(2026, 12, 6, 19, 0, 0, 123_000_000, time.UTC)

	if got := must(st.LoginCounts(ctx, []string{"f:n:192.0.2.1/32", "f:a:x"})); len(got) != 0 {
		t.Fatalf("counts of an empty store: %+v", got)
	}
	if got := must(st.LoginCounts(ctx, nil)); len(got) != 0 {
		t.Fatalf("counts of no keys: %+v", got)
	}

	// Adding to several keys at once; a key given twice counts once.
	ok(t, st.AddLoginCounts(ctx, []string{"f:n:net", "f:a:acct", "f:n:net"}, 1, t0, hl))
	wantCount(t, st, "f:n:net", 1, t0)
	wantCount(t, st, "f:a:acct", 1, t0)
	// One half-life later, the count is half, plus what is added.
	ok(t, st.AddLoginCounts(ctx, []string{"f:n:net"}, 1, t0.Add(hl), hl))
	wantCount(t, st, "f:n:net", 1.5, t0.Add(hl))
	// A node whose clock is behind adds without decay, and does not move
	// the time back.
	ok(t, st.AddLoginCounts(ctx, []string{"f:n:net"}, 2, t0, hl))
	wantCount(t, st, "f:n:net", 3.5, t0.Add(hl))
	// Taking back: a count that drops below auth.ForgetBelow is gone.
	ok(t, st.AddLoginCounts(ctx, []string{"f:n:net"}, -3.5, t0.Add(hl), hl))
	wantCount(t, st, "f:n:net", 0, time.Time{})
	ok(t, st.AddLoginCounts(ctx, []string{"f:p:never"}, -1, t0, hl))
	wantCount(t, st, "f:p:never", 0, time.Time{})
	// A count long decayed is nothing, however large it was.
	ok(t, st.AddLoginCounts(ctx, []string{"f:n:old"}, 1e6, t0, hl))
	ok(t, st.AddLoginCounts(ctx, []string{"f:n:old"}, 0, t0.Add(2000*hl), hl))
	wantCount(t, st, "f:n:old", 0, time.Time{})

	// Several keys read at once.
	tr := t0.Add(time.Hour)
	ok(t, st.PutLoginCount(ctx, "t:pair", auth.SharedCount{Count: 1, At: tr}))
	got := must(st.LoginCounts(ctx, []string{"f:a:acct", "t:pair", "f:n:none"}))
	if len(got) != 2 || got["t:pair"].Count != 1 || !got["t:pair"].At.Equal(tr) || got["f:a:acct"].Count != 1 {
		t.Fatalf("LoginCounts = %+v", got)
	}
	ok(t, st.PutLoginCount(ctx, "t:pair", auth.SharedCount{Count: 1, At: tr.Add(time.Minute)}))
	wantCount(t, st, "t:pair", 1, tr.Add(time.Minute))

	// Pruning: by prefix and time.
	ok(t, st.AddLoginCounts(ctx, []string{"f:a:recent"}, 1, t0.Add(3*time.Hour), hl))
	if n := must(st.PruneLoginCounts(ctx, "f:", t0.Add(2*time.Hour))); n != 1 {
		t.Fatalf("pruned %d failure counts, want 1 (f:a:acct)", n)
	}
	wantCount(t, st, "f:a:acct", 0, time.Time{})
	wantCount(t, st, "f:a:recent", 1, t0.Add(3*time.Hour))
	wantCount(t, st, "t:pair", 1, tr.Add(time.Minute))
	if n := must(st.PruneLoginCounts(ctx, "t:", t0.Add(4*time.Hour))); n != 1 {
		t.Fatalf("pruned %d trust records, want 1", n)
	}
	wantCount(t, st, "t:pair", 0, time.Time{})

	// Bad input.
	_, err := st.LoginCounts(ctx, []string{"nul\x00"})
	wantErr(t, err, store.ErrInvalid, "a key with NUL")
	_, err = st.LoginCounts(ctx, strings.Split(strings.Repeat("k,", 100), ","))
	wantErr(t, err, store.ErrInvalid, "too many keys")
	wantErr(t, st.AddLoginCounts(ctx, []string{"k"}, 1, t0, 0), store.ErrInvalid, "no half-life")
	wantErr(t, st.AddLoginCounts(ctx, []string{"k"}, math.NaN(), t0, hl), store.ErrInvalid, "NaN")
	wantErr(t, st.AddLoginCounts(ctx, []string{""}, 1, t0, hl), store.ErrInvalid, "empty key")
	wantErr(t, st.PutLoginCount(ctx, "", auth.SharedCount{}), store.ErrInvalid, "put without a key")
}

// testLoginCountsNodes adds to one count from both nodes at once: no
// addition is lost.
func testLoginCountsNodes(t *testing.T, a, b SharedStore) {
	ctx := context.Background()
	const workers, adds = 8, 10
	now := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			for range adds {
				// Two keys, in opposite orders on the two nodes.
				keys := []string{"f:n:net", "f:a:acct"}
				if i%2 == 1 {
					keys = []string{"f:a:acct", "f:n:net"}
				}
				if err := st.AddLoginCounts(ctx, keys, 1, now, 10*time.Minute); err != nil {
					t.Errorf("add: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantCount(t, b, "f:n:net", workers*adds, time.UnixMilli(now.UnixMilli()))
	wantCount(t, a, "f:a:acct", workers*adds, time.UnixMilli(now.UnixMilli()))
}
