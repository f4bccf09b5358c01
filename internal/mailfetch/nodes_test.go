package mailfetch_test

import (
	"context"
	"sync"
	"testing"

	"mailroom/internal/mailfetch"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
)

// TestTwoNodesOneFetch: two nodes on one PostgreSQL database collect
// the same source at the same time, again and again: the lease lets one
// at a time in, and every message arrives exactly once.
func TestTwoNodesOneFetch(t *testing.T) {
	e := newEnv(t)
	second := testrig.Start(t, testrig.Factories{}, testrig.Config(noSchedule), testrig.SecondNode(t, e.local))
	var raws []string
	var ns []int
	for i := 1; i <= 20; i++ {
		raws = append(raws, message(i))
		ns = append(ns, i)
	}
	e.appendRemote("INBOX", raws...)
	src := e.source(store.FetchPOP3, "pop3s", store.FetchTLS, nil)
	first := e.f
	e2 := &env{t: t, remote: e.remote, local: second, ann: e.ann}
	other := e2.fetcher(nil)

	var mu sync.Mutex
	total, busy := 0, 0
	var wg sync.WaitGroup
	for range 3 {
		for _, f := range []*mailfetch.Fetcher{first, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.RunSource(context.Background(), e.ann, src.ID)
				mu.Lock()
				defer mu.Unlock()
				total += res.Fetched
				switch {
				case err == mailfetch.ErrBusy:
					busy++
				case err != nil:
					t.Errorf("run: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	if total != 20 {
		t.Errorf("the runs collected %d messages, want 20", total)
	}
	e.wantLocal("INBOX", ns...)
	t.Logf("%d of 6 runs found the source busy", busy)
}
