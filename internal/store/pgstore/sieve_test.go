package pgstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"mailroom/internal/store"
)

// A change of the scripts on node B reaches a subscriber on node A as
// EventAccountChanged through the change log, so that A's delivery
// cache of the active script drops it; A then reads B's active script.
func TestSieveAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	onA := watch(t, a, acct.ID)
	for _, step := range []struct {
		what   string
		change func() error
		active string // what A then reads as the active script
	}{
		{"put", func() error { return b.PutSieveScript(ctx, acct.ID, "main", "keep;") }, ""},
		{"activate", func() error { return b.SetActiveSieveScript(ctx, acct.ID, "main") }, "main"},
		{"replace", func() error { return b.PutSieveScript(ctx, acct.ID, "main", "discard;") }, "main"},
		{"rename", func() error { return b.RenameSieveScript(ctx, acct.ID, "main", "filters") }, "filters"},
		{"deactivate", func() error { return b.SetActiveSieveScript(ctx, acct.ID, "") }, ""},
		{"delete", func() error { return b.DeleteSieveScript(ctx, acct.ID, "filters") }, ""},
	} {
		n := onA.count(accountChanged(acct.ID))
		if err := step.change(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		onA.until("for the "+step.what+" on B", func(e store.Event) bool {
			return accountChanged(acct.ID)(e) && onA.count(accountChanged(acct.ID)) > n
		})
		active, err := a.ActiveSieveScript(ctx, acct.ID)
		switch {
		case step.active == "" && err == nil:
			t.Errorf("after the %s: active script %+v, want none", step.what, active)
		case step.active != "" && (err != nil || active.Name != step.active):
			t.Errorf("after the %s: active script %+v, %v; want %q", step.what, active, err, step.active)
		}
	}
}

// Two nodes adding scripts at once never take an account past
// MaxSieveScripts, and activating different scripts at once leaves
// exactly one active: the checks and the writes run under the account's
// row lock (writeAccount).
func TestSieveRaceNodes(t *testing.T) {
	ctx := context.Background()
	a, b, acct := twoNodes(t)
	const room = 5
	for i := range store.MaxSieveScripts - room {
		if err := a.PutSieveScript(ctx, acct.ID, fmt.Sprintf("old %03d", i), "keep;"); err != nil {
			t.Fatal(err)
		}
	}
	added := 0
	for i, err := range race(4*room, a, b, func(st *Store, i int) error {
		return st.PutSieveScript(ctx, acct.ID, fmt.Sprintf("new %03d", i), "keep;")
	}) {
		switch {
		case err == nil:
			added++
		case !errors.Is(err, store.ErrSieveTooMany):
			t.Errorf("put %d: %v", i, err)
		}
	}
	scripts, err := a.SieveScripts(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if added != room || len(scripts) != store.MaxSieveScripts {
		t.Fatalf("%d puts succeeded, %d scripts; want %d and %d", added, len(scripts), room, store.MaxSieveScripts)
	}

	for i, err := range race(10, a, b, func(st *Store, i int) error {
		return st.SetActiveSieveScript(ctx, acct.ID, fmt.Sprintf("old %03d", i))
	}) {
		if err != nil {
			t.Errorf("activation %d: %v", i, err)
		}
	}
	scripts, err = b.SieveScripts(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, sc := range scripts {
		if sc.Active {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d scripts active after the concurrent activations, want 1", active)
	}
}
