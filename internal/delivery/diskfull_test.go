package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// fullStore is a store whose disk is full when it comes to delivering.
type fullStore struct{ store.Store }

func (fullStore) Deliver(context.Context, store.Staged, []store.Target) ([]store.Delivered, error) {
	return nil, fmt.Errorf("store: commit: database or disk is full: %w", store.ErrInsufficientStorage)
}

// TestDeliverOnAFullDisk: a store that is out of disk space makes the
// delivery fail with 452 4.3.1 "insufficient system storage" (RFC 3463),
// temporary, rather than the generic 451 4.3.0.
func TestDeliverOnAFullDisk(t *testing.T) {
	st, _ := setup(t)
	a := New(fullStore{st}, Config{PlusSeparator: "+"})
	ctx := context.Background()
	m, err := st.Stage(ctx, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Discard()
	err = a.Deliver(ctx, m, Envelope{From: "x@remote.example", Recipients: []Recipient{
		{Address: "ann@example.test", Resolved: mustResolve(t, a, "ann@example.test")},
	}})
	var de *Error
	if !errors.As(err, &de) || de.Code != 452 || de.Enhanced != [3]int{4, 3, 1} || !de.Temporary() {
		t.Fatalf("Deliver on a full disk = %v, want 452 4.3.1", err)
	}
	if !errors.Is(err, store.ErrInsufficientStorage) {
		t.Fatalf("the cause is lost: %v", err)
	}
}
