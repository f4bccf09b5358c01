package queue

import (
	"context"
	"slices"
	"sync"
	"time"

	"mailroom/internal/store"
)

// Leases. A claimed recipient is reserved for its worker until its lease
// ends. The lease is short and the worker renews it while it holds the
// recipient (from the claim until its outcome is recorded: a batch may
// wait for a free worker, and one SMTP transaction may take many minutes
// under RFC 5321's timeouts). A process killed with -9 stops renewing,
// and every other node's worker takes its recipients over within about
// one lease; a stalled process whose lease was taken over learns it at its
// next renewal. A long fixed lease would leave a dead node's mail waiting
// that long, and on PostgreSQL a restarted node cannot release its old
// leases (they belong to its previous process).

// DefaultLeaseTime is Options.LeaseTime's default.
const DefaultLeaseTime = 2 * time.Minute

// renewals is how many times per lease the leases are renewed: a renewal
// that fails (the database away for a moment) leaves three more chances
// before the lease ends.
const renewals = 4

// held is the set of recipients this queue has claimed and not yet
// finished: what the renewer renews.
type held struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

func (h *held) add(batches []store.QueueBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[int64]struct{}{}
	}
	for _, b := range batches {
		for _, r := range b.Message.Recipients {
			h.ids[r.ID] = struct{}{}
		}
	}
}

func (h *held) drop(batches ...store.QueueBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range batches {
		for _, r := range b.Message.Recipients {
			delete(h.ids, r.ID)
		}
	}
}

// list returns the held IDs, sorted.
func (h *held) list() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int64, 0, len(h.ids))
	for id := range h.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// renew renews the held leases every LeaseTime/renewals until ctx ends.
func (q *Queue) renew(ctx context.Context) {
	t := time.NewTicker(q.opts.LeaseTime / renewals)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.renewOnce(ctx)
	}
}

// renewOnce extends every held lease by LeaseTime from now.
func (q *Queue) renewOnce(ctx context.Context) {
	ids := q.held.list()
	if len(ids) == 0 {
		return
	}
	renewed, err := q.st.RenewQueued(ctx, q.owner, ids, q.opts.Now().Add(q.opts.LeaseTime))
	if err != nil {
		if ctx.Err() == nil {
			q.log.Warn("renewing queue leases failed; will try again", "recipients", len(ids), "err", err)
		}
		return
	}
	if len(renewed) == len(ids) {
		return
	}
	// Finished meanwhile (the normal case: the outcome was recorded
	// between the list and the renewal), or taken over by another worker
	// after the lease ran out: this process stalled for longer than a
	// lease. Its outcome for such a recipient is then recorded only if
	// the recipient was delivered or failed for good (FinishQueued).
	var lost []int64
	current := q.held.list()
	for _, id := range ids {
		if _, ok := slices.BinarySearch(renewed, id); !ok {
			if _, still := slices.BinarySearch(current, id); still {
				lost = append(lost, id)
			}
		}
	}
	if len(lost) > 0 {
		q.log.Warn("queue leases lost: another worker may send these recipients too", "recipients", lost)
	}
}
