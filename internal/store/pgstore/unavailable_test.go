package pgstore

import (
	"context"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

// While PostgreSQL is down, reads and writes fail with errors that
// store.IsUnavailable recognizes (the protocols answer them as temporary
// failures), promptly rather than hanging; once it is back, the same
// Store works again without being reopened.
func TestUnavailableWhileDatabaseIsDown(t *testing.T) {
	c := pgtest.Start(t)
	st := openStore(t, c.NewDatabase(t))
	acct := newTestAccount(t, st, "ann@example.test")
	ctx := context.Background()
	if err := c.Halt("fast"); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(context.Context) error{
		"read (LookupAddress)": func(ctx context.Context) error {
			_, err := st.LookupAddress(ctx, "ann@example.test")
			return err
		},
		"read (MailboxList)": func(ctx context.Context) error {
			_, err := st.MailboxList(ctx, acct.ID)
			return err
		},
		"write (CreateMailbox)": func(ctx context.Context) error {
			_, err := st.CreateMailbox(ctx, acct.ID, "Outage notes", "")
			return err
		},
	}
	for name, op := range ops {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		began := time.Now()
		err := op(cctx)
		cancel()
		if !store.IsUnavailable(err) {
			t.Errorf("%s with the database down: %v, want an error IsUnavailable recognizes", name, err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("%s with the database down took %v", name, d)
		}
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	for name, op := range ops {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if err = op(ctx); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s after the database came back: %v", name, err)
		}
	}
}
