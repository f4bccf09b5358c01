package imapmigrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"mailroom/internal/testrig"
)

// A run interrupted part-way (its context ends, as on Ctrl-C) keeps what
// its durable batches copied; the next run copies the rest, each message
// once, whatever connection was where.
func TestMigrateInterruptedResumes(t *testing.T) {
	src, dst := startRig(t), startRig(t)
	src.Account("old@example.test")
	acct := dst.Account("new@example.test")
	sc := login(t, src.Addr("imaps"), "old@example.test", testrig.Password)
	base := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 300 {
		appendMsg(t, sc, []string{"INBOX", "Archive"}[i%2], message(i, "resume"), base)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{
		Store: dst.Store, Mail: dst.Server.Deps().Mailboxes, Account: "new@example.test",
		Source:   Source{TLS: true, User: "old@example.test", Host: "127.0.0.1", Port: port(t, src.Addr("imaps"))},
		Password: testrig.Password, InsecureTLS: true, Connections: 3, StateDir: t.TempDir(), BatchMessages: 10,
		Progress: func(p Progress) {
			if p.Messages == 120 {
				cancel()
			}
		},
	}
	res, err := Migrate(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	first, _, _ := res.Totals()
	if first == 0 || first >= 300 {
		t.Fatalf("the interrupted run copied %d", first)
	}
	here := len(dst.Messages(acct, "INBOX")) + len(dst.Messages(acct, "Archive"))
	if here != first {
		t.Errorf("the interrupted run reports %d copied, %d are here", first, here)
	}
	opts.Progress = nil
	res, err = Migrate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if second, _, _ := res.Totals(); first+second != 300 {
		t.Errorf("copied %d then %d, want 300 in all", first, second)
	}
	dc := login(t, dst.Addr("imaps"), "new@example.test", testrig.Password)
	same := func(n string) string { return n }
	sameSnapshot(t, snapshot(t, sc, same), snapshot(t, dc, same))
}
