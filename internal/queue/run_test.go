package queue

import (
	"context"
	"testing"
)

// TestRunCancelledAtStart: a server shut down right after it started
// cancels Run while it releases old leases; that is a normal stop, not an
// error (it was reported as "release queue leases: context canceled").
func TestRunCancelledAtStart(t *testing.T) {
	r := newRig(t, rigOptions{manual: true, quiet: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.q.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled context = %v, want nil", err)
	}
}
