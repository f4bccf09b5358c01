package dmarcreport

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/mailtest"
	"mailroom/internal/queue"
	"mailroom/internal/resolver"
	"mailroom/internal/store"
	"mailroom/internal/testrig/teststore"
)

// addRows counts n evaluations of mail from each domain, yesterday.
func addRows(t *testing.T, st store.Store, n int, domains ...string) {
	t.Helper()
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	for _, d := range domains {
		for i := range n {
			row := store.DMARCResult{Day: day, PolicyDomain: d, Policy: "p=none sp=none pct=100 adkim=r aspf=r",
				ReportTo: "mailto:dmarc@" + d, SourceIP: "192.0.2.1", HeaderFrom: d, EnvelopeFrom: d,
				Disposition: "none", DKIM: "pass", SPF: []string{"pass", "fail"}[i%2], AuthResults: "spf:" + d + ":mfrom:pass"}
			if err := st.AddDMARCResult(context.Background(), row); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// newReporter is a node's reporter, queuing into the real outbound queue
// (not run: what it queued stays in the store to count).
func newReporter(t *testing.T, st store.Store) *Reporter {
	dns := mailtest.NewDNS(t)
	q := queue.New(queue.Options{Store: st, Hostname: "mx.example.test", Logger: slog.New(slog.DiscardHandler)})
	return New(Options{Store: st, Outbound: q, Resolver: resolver.New([]string{dns.Addr}, time.Second), Hostname: "mx.example.test"})
}

// queuedTo returns how many reports were queued to each address.
func queuedTo(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	qm, err := st.QueuedMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range qm {
		for _, r := range m.Recipients {
			got[r.Address]++
		}
	}
	return got
}

// Every node runs a reporter; at midnight they all try at once, and each
// domain's report is queued once, by one of them.
func TestReportersOnNodesSendOnce(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	addRows(t, a, 3, "bank.example", "shop.example")
	addRows(t, b, 2, "bank.example")
	reps := []*Reporter{newReporter(t, a), newReporter(t, b), newReporter(t, a), newReporter(t, b)}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var wg sync.WaitGroup
	for _, rep := range reps {
		wg.Go(func() {
			if err := rep.Send(ctx, today); err != nil && err != ErrLeaseHeld {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// And again, as nodes whose lease look came later would.
	for _, rep := range reps {
		if err := rep.Send(ctx, today); err != nil {
			t.Fatal(err)
		}
	}
	got := queuedTo(t, a)
	if len(got) != 2 || got["dmarc@bank.example"] != 1 || got["dmarc@shop.example"] != 1 {
		t.Fatalf("reports queued: %v, want one each to dmarc@bank.example and dmarc@shop.example", got)
	}
	if rows, err := b.DMARCResults(ctx, today); err != nil || len(rows) != 0 {
		t.Fatalf("rows left: %v, %v", rows, err)
	}
	if names, _ := a.ListFiles(ctx, sentPrefix); len(names) != 0 {
		t.Errorf("notes of reported days left: %v", names)
	}
}

// A node that died after queuing some of the reports (its lease running
// out) is taken over by another, which queues the rest only.
func TestReporterTakesOverFromDeadNode(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	addRows(t, a, 2, "bank.example", "shop.example")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	dead := newReporter(t, a)
	// The dead node took the lease, queued bank.example's report, noted
	// it, and died: its lease still runs.
	if ok, err := dead.lease(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	rows, err := a.DMARCResults(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	var bank []store.DMARCResult
	for _, r := range rows {
		if r.PolicyDomain == "bank.example" {
			bank = append(bank, r)
		}
	}
	if err := dead.sendOne(ctx, bank); err != nil {
		t.Fatal(err)
	}
	if err := dead.noteSent(ctx, bank[0].Day.Format(time.DateOnly), "bank.example"); err != nil {
		t.Fatal(err)
	}
	other := newReporter(t, b)
	if err := other.Send(ctx, today); err != ErrLeaseHeld {
		t.Fatalf("Send while the dead node's lease runs: %v, want ErrLeaseHeld", err)
	}
	// The lease runs out (here: given up for the dead node).
	if err := a.ReleaseLease(ctx, sendLease, dead.owner); err != nil {
		t.Fatal(err)
	}
	if err := other.Send(ctx, today); err != nil {
		t.Fatal(err)
	}
	if got := queuedTo(t, a); len(got) != 2 || got["dmarc@bank.example"] != 1 || got["dmarc@shop.example"] != 1 {
		t.Fatalf("reports queued: %v, want one each", got)
	}
}

// The note of a report queued for a domain too long for a shared file's
// name is still a valid name, one per domain.
func TestSentNameLongDomain(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".example"
	n1, n2 := sentName("2026-12-06", long), sentName("2026-12-06", "x"+long[1:])
	for _, n := range []string{n1, n2} {
		if err := store.CheckSharedName(n); err != nil || !strings.HasPrefix(n, sentPrefix+"2026-12-06/") {
			t.Fatalf("note %q: %v", n, err)
		}
	}
	if n1 == n2 {
		t.Fatal("two domains share a note")
	}
	if got := sentName("2026-12-06", "bank.example"); got != "dmarcreport/sent/2026-12-06/bank.example" {
		t.Fatalf("note %q", got)
	}
}
