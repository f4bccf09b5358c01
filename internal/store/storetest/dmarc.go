package storetest

import (
	"context"
	"testing"
	"time"

	"mailroom/internal/store"
)

// testDMARCResults: evaluations are counted per identical row and day,
// listed by day, and forgotten once reported.
func testDMARCResults(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	day1 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	row := store.DMARCResult{
		PolicyDomain: "bank.example", Policy: "p=reject pct=100 adkim=r aspf=r", ReportTo: "mailto:d@bank.example",
		SourceIP: "192.0.2.1", HeaderFrom: "bank.example", EnvelopeFrom: "bank.example", Disposition: "reject",
		DKIM: "fail", SPF: "fail", AuthResults: "spf:bank.example:mfrom:fail",
	}
	add := func(at time.Time, r store.DMARCResult) {
		t.Helper()
		r.Day = at
		if err := st.AddDMARCResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	add(day1.Add(time.Hour), row)
	add(day1.Add(20*time.Hour), row) // same day, same row: counted
	other := row
	other.SourceIP = "192.0.2.2"
	add(day1.Add(2*time.Hour), other)
	add(day1.Add(26*time.Hour), row) // the next day: its own row

	got, err := st.DMARCResults(ctx, day1.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Count != 2 || got[0].SourceIP != "192.0.2.1" || got[1].Count != 1 || !got[0].Day.Equal(day1) {
		t.Fatalf("day 1 rows %+v", got)
	}
	if g := got[0]; g.PolicyDomain != row.PolicyDomain || g.Policy != row.Policy || g.ReportTo != row.ReportTo ||
		g.HeaderFrom != row.HeaderFrom || g.EnvelopeFrom != row.EnvelopeFrom || g.Disposition != row.Disposition ||
		g.DKIM != row.DKIM || g.SPF != row.SPF || g.AuthResults != row.AuthResults {
		t.Fatalf("row read back as %+v", g)
	}
	if all, _ := st.DMARCResults(ctx, day1.Add(48*time.Hour)); len(all) != 3 {
		t.Fatalf("both days: %d rows", len(all))
	}
	if err := st.DeleteDMARCResults(ctx, day1.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if all, _ := st.DMARCResults(ctx, day1.Add(48*time.Hour)); len(all) != 1 || all[0].Count != 1 || !all[0].Day.Equal(day1.Add(24*time.Hour)) {
		t.Fatalf("after deleting day 1: %+v", all)
	}
}
