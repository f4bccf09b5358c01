package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

// Two nodes release held submissions at once while the user cancels some:
// every submission is claimed by exactly one node, or canceled and never
// claimed.
func TestConcurrentNodesHeldSubmissions(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	now := time.Now().Truncate(time.Second)
	const n = 12
	var ids []int64
	for i := range n {
		s, err := a.HoldEmailSubmission(ctx, store.EmailSubmission{AccountID: acct.ID, IdentityID: "I1", EmailID: int64(i + 1), ThreadID: 1,
			MailFrom: acct.Email, RcptTo: []string{"x@example.net"}, SendAt: now}, []byte("m"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	var mu sync.Mutex
	claims := map[int64]int{}
	canceled := map[int64]bool{}
	errs := race(6, a, b, func(st *Store, i int) error {
		if i >= 4 {
			// Two cancels, each of three submissions, on both nodes.
			for _, id := range ids[n-3*(i-3) : n-3*(i-4)] {
				err := st.CancelEmailSubmission(ctx, acct.ID, id, now)
				switch {
				case err == nil:
					mu.Lock()
					canceled[id] = true
					mu.Unlock()
				case !errors.Is(err, store.ErrNotPending):
					return err
				}
			}
			return nil
		}
		for {
			s, _, ok, err := st.ClaimEmailSubmission(ctx, fmt.Sprintf("node%d", i), now, time.Minute)
			if err != nil || !ok {
				return err
			}
			mu.Lock()
			claims[s.ID]++
			mu.Unlock()
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		want := 1
		if canceled[id] {
			want = 0
		}
		if claims[id] != want {
			t.Errorf("submission %d claimed %d times (canceled %v)", id, claims[id], canceled[id])
		}
	}
}
