package sqlitestore

import (
	"context"
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestSieveCrossProcess: a change of the scripts made by another process
// on the same data (the admin command, ManageSieve in a second server
// process) reaches this one's subscribers as EventAccountChanged through
// the change log, so a delivery cache of the active script drops it, and
// this store then reads the new active script.
func TestSieveCrossProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTest(t, dir)
	defer a.Close()
	acct := setupInbox(t, a).AccountID
	sub := a.Subscribe(acct)
	defer sub.Close()
	b := openTest(t, dir)
	defer b.Close()

	for _, step := range []struct {
		what   string
		change func() error
		active string // what a then reads as the active script
	}{
		{"put", func() error { return b.PutSieveScript(ctx, acct, "main", "keep;") }, ""},
		{"activate", func() error { return b.SetActiveSieveScript(ctx, acct, "main") }, "main"},
		{"replace", func() error { return b.PutSieveScript(ctx, acct, "main", "discard;") }, "main"},
		{"rename", func() error { return b.RenameSieveScript(ctx, acct, "main", "filters") }, "filters"},
		{"deactivate", func() error { return b.SetActiveSieveScript(ctx, acct, "") }, ""},
		{"delete", func() error { return b.DeleteSieveScript(ctx, acct, "filters") }, ""},
	} {
		if err := step.change(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		waitAccountChanged(t, sub, acct, step.what)
		active, err := a.ActiveSieveScript(ctx, acct)
		switch {
		case step.active == "" && err == nil:
			t.Errorf("after %s: active script %+v, want none", step.what, active)
		case step.active != "" && (err != nil || active.Name != step.active):
			t.Errorf("after %s: active script %+v, %v; want %q", step.what, active, err, step.active)
		}
	}
}

// waitAccountChanged waits for an EventAccountChanged of the account.
func waitAccountChanged(t *testing.T, sub *store.Subscription, accountID int64, what string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-sub.Ready():
			for _, e := range sub.Take().Events {
				if e.Kind == store.EventAccountChanged && e.AccountID == accountID {
					return
				}
			}
		case <-deadline:
			t.Fatalf("no EventAccountChanged from the other process after the %s", what)
		}
	}
}
