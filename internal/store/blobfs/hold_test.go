package blobfs

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestHoldRemovals: while removals are held (by another open file, as a
// backup process would), MayRemove says no; a hold waits for a removal
// under way and gives up with its context.
func TestHoldRemovals(t *testing.T) {
	b, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	release, ok := b.MayRemove()
	if !ok {
		t.Fatal("removals refused with no hold")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.HoldRemovals(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hold during a removal: %v, want to wait until the deadline", err)
	}
	release()
	hold, err := b.HoldRemovals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.MayRemove(); ok {
		t.Fatal("removal allowed while held")
	}
	hold()
	if release, ok := b.MayRemove(); !ok {
		t.Fatal("removals refused after the hold was released")
	} else {
		release()
	}
}
