package tlsrpt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailroom/internal/store"
	"mailroom/internal/testrig/teststore"
	"testing"
	"time"
)

func TestRecorderAggregates(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	st := teststore.Open(t)
	r := NewRecorder(st, func() time.Time { return now }, nil)
	sts := Outcome{PolicyDomain: "Dest.Test.", PolicyType: PolicySTS, PolicyString: []string{"version: STSv1", "mode: enforce"},
		MXHost: []string{"mx.dest.test"}, ReceivingMX: "mx.dest.test", ReceivingIP: "192.0.2.1", SendingIP: "198.51.100.1"}
	for range 3 {
		o := sts
		o.Success = true
		r.RecordTLS(o)
	}
	for range 2 {
		o := sts
		o.ResultType, o.Detail = ResultCertificateExpired, "x509: certificate has expired"
		r.RecordTLS(o)
	}
	r.RecordTLS(Outcome{PolicyDomain: "dest.test", PolicyType: PolicyNone, ReceivingMX: "mx2.dest.test", ResultType: ResultSTARTTLSNotSupported})
	// Distinct failures beyond the bound still count in the summary.
	for i := range MaxDetails + 5 {
		o := sts
		o.ResultType, o.ReceivingIP = ResultValidationFailure, fmt.Sprintf("192.0.2.%d", i)
		r.RecordTLS(o)
	}

	d := r.Today().Domains["dest.test"]
	if d == nil || len(d.Policies) != 2 {
		t.Fatalf("today = %+v, want two policies for dest.test", r.Today())
	}
	p := d.Policies[0]
	if p.Type != PolicySTS || p.Success != 3 || p.Failure != 2+MaxDetails+5 || len(p.Details) != MaxDetails {
		t.Errorf("sts policy: type %s, %d successes, %d failures, %d details", p.Type, p.Success, p.Failure, len(p.Details))
	}
	if p.Details[0].ResultType != ResultCertificateExpired || p.Details[0].Count != 2 {
		t.Errorf("first detail = %+v", p.Details[0])
	}
	if q := d.Policies[1]; q.Type != PolicyNone || q.Failure != 1 || q.Details[0].ResultType != ResultSTARTTLSNotSupported {
		t.Errorf("no-policy record = %+v", q)
	}

	// Saved, the day survives a restart; it is not finished before
	// midnight UTC, and is after.
	ctx := context.Background()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if today := r.Today(); len(today.Domains) != 0 {
		t.Errorf("saved counts kept in memory: %+v", today)
	}
	r2 := NewRecorder(st, func() time.Time { return now }, nil)
	if days, err := r2.Finished(ctx); err != nil || len(days) != 0 {
		t.Errorf("Finished before midnight = %v, %v", days, err)
	}
	r2.RecordTLS(Outcome{PolicyDomain: "dest.test", PolicyType: PolicySTS, PolicyString: sts.PolicyString, MXHost: sts.MXHost, Success: true})
	if err := r2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(14 * time.Hour)
	r2.RecordTLS(Outcome{PolicyDomain: "other.test", PolicyType: PolicyNone, Success: true})
	days, err := r2.Finished(ctx)
	if err != nil || len(days) != 1 || days[0].Day != "2026-12-06" || days[0].Domains["dest.test"] == nil {
		t.Fatalf("Finished after midnight = %+v, %v", days, err)
	}
	if got := days[0].Domains["dest.test"].Policies[0]; got.Success != 4 || got.Failure != 2+MaxDetails+5 {
		t.Errorf("the day's counts after a restart: %+v", got)
	}
	if r2.Today().Day != "2026-12-07" || r2.Today().Domains["dest.test"] != nil {
		t.Errorf("the new day = %+v", r2.Today())
	}
	if err := r2.MarkSent(ctx, "2026-12-06", "dest.test"); err != nil {
		t.Fatal(err)
	}
	if days, _ := r2.Finished(ctx); !days[0].Domains["dest.test"].Sent {
		t.Error("MarkSent not kept")
	}
	if err := r2.Done(ctx, "2026-12-06"); err != nil {
		t.Fatal(err)
	}
	if days, _ := r2.Finished(ctx); len(days) != 0 {
		t.Errorf("a day marked done is still listed: %v", days)
	}
	// A node saving counts of the reported day late drops them: the day
	// is not reported a second time.
	late := NewRecorder(st, func() time.Time { return now.Add(-14 * time.Hour) }, nil)
	late.RecordTLS(Outcome{PolicyDomain: "dest.test", PolicyType: PolicyNone, Success: true})
	if err := late.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if days, _ := r2.Finished(ctx); len(days) != 0 {
		t.Errorf("late counts brought the reported day back: %+v", days[0])
	}
	// A week on, the reported day's file goes.
	now = now.Add(8 * 24 * time.Hour)
	if _, err := r2.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadFile(ctx, "tlsrpt/2026-12-06.json"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reported day kept after a week: %v", err)
	}
}

// Counts recorded on several nodes for one policy domain and day add up
// in the store, whatever order the nodes save in and however often.
func TestRecorderNodesAddUp(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	recs := []*Recorder{NewRecorder(a, clock, nil), NewRecorder(b, clock, nil), NewRecorder(a, clock, nil)}
	o := Outcome{PolicyDomain: "dest.test", PolicyType: PolicyNone, ReceivingMX: "mx.dest.test", ResultType: ResultSTARTTLSNotSupported}
	errs := make(chan error, len(recs))
	for i, r := range recs {
		go func() {
			for j := range 20 {
				r.RecordTLS(Outcome{PolicyDomain: "dest.test", PolicyType: PolicyNone, Success: true})
				r.RecordTLS(o)
				if j%3 == i%3 {
					if err := r.Flush(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- r.Flush(ctx)
		}()
	}
	for range recs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(24 * time.Hour)
	days, err := recs[1].Finished(ctx)
	if err != nil || len(days) != 1 {
		t.Fatalf("Finished = %v, %v", days, err)
	}
	p := days[0].Domains["dest.test"].Policies
	if len(p) != 1 || p[0].Success != 60 || p[0].Failure != 60 || len(p[0].Details) != 1 || p[0].Details[0].Count != 60 {
		t.Fatalf("three nodes' counts: %+v", p[0])
	}
}

// An upgrade imports the days the data directory's tlsrpt/ kept, once.
func TestImportDir(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	dir := t.TempDir()
	old := `{"day":"2026-12-05","domains":{"dest.test":{"policies":[{"type":"no-policy-found","success":7,"failure":0}]},"sent.test":{"policies":[],"sent":true}}}`
	os.WriteFile(filepath.Join(dir, "2026-12-05.json"), []byte(old), 0o600)
	os.WriteFile(filepath.Join(dir, "2026-12-05.123.tmp"), []byte("{half"), 0o600)
	os.WriteFile(filepath.Join(dir, "2026-12-04.json"), []byte("garbage"), 0o600)
	n, err := ImportDir(ctx, st, dir, nil)
	if err != nil || n != 1 {
		t.Fatalf("ImportDir = %d, %v", n, err)
	}
	r := NewRecorder(st, func() time.Time { return time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC) }, nil)
	days, err := r.Finished(ctx)
	if err != nil || len(days) != 1 || days[0].Domains["dest.test"].Policies[0].Success != 7 || !days[0].Domains["sent.test"].Sent {
		t.Fatalf("imported days %+v, %v", days, err)
	}
	if n, err := ImportDir(ctx, st, dir, nil); n != 0 || err != nil {
		t.Fatalf("second ImportDir = %d, %v", n, err)
	}
	if days, _ := r.Finished(ctx); days[0].Domains["dest.test"].Policies[0].Success != 7 {
		t.Fatal("imported twice")
	}
}

func TestRecorderBoundsDomains(t *testing.T) {
	r := NewRecorder(nil, nil, nil)
	for i := range MaxDomains + 10 {
		r.RecordTLS(Outcome{PolicyDomain: fmt.Sprintf("d%d.test", i), PolicyType: PolicyNone, Success: true})
	}
	if today := r.Today(); len(today.Domains) != MaxDomains || today.Dropped != 10 {
		t.Errorf("%d domains, %d dropped", len(today.Domains), today.Dropped)
	}
}

// FuzzMergeDay: whatever two records the store holds (written by
// another node, damaged, older), cleaning and merging them never panics,
// never counts less than the counts merged, and keeps the bounds.
func FuzzMergeDay(f *testing.F) {
	f.Add(`{"day":"2026-12-06","domains":{"a.test":{"policies":[{"type":"sts","success":1,"failure":2,"details":[{"result_type":"x","count":2}]}]}}}`,
		`{"day":"2026-12-06","domains":{"a.test":{"policies":[{"type":"sts","success":3,"failure":0}]},"b.test":{"policies":[]}},"dropped":4}`)
	f.Add(`{"domains":{"a.test":null}}`, `{"domains":{"a.test":{"policies":[null,{"details":[null]}]}}}`)
	f.Add(`{}`, `{"domains":{"x":{"policies":[{"success":-5}]}}}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		var dst, src DayRecord
		if json.Unmarshal([]byte(a), &dst) != nil || json.Unmarshal([]byte(b), &src) != nil {
			return
		}
		dst.clean()
		src.clean()
		total := func(r *DayRecord) (n int64) {
			n = r.Dropped
			for _, d := range r.Domains {
				for _, p := range d.Policies {
					n += p.Success + p.Failure
				}
			}
			return n
		}
		before := total(&dst) + total(&src)
		domains := len(dst.Domains)
		policies := map[string]int{}
		for dom, d := range dst.Domains {
			policies[dom] = len(d.Policies)
		}
		mergeDay(&dst, &src)
		if got := total(&dst); got != before {
			t.Fatalf("merged counts %d, want %d", got, before)
		}
		if len(dst.Domains) > max(domains, MaxDomains) {
			t.Fatalf("%d domains", len(dst.Domains))
		}
		for dom, d := range dst.Domains {
			if len(d.Policies) > max(policies[dom], maxPolicies) {
				t.Fatalf("%s: %d policies", dom, len(d.Policies))
			}
		}
	})
}

// A day whose record would outgrow a shared file (store.MaxSharedFileSize)
// keeps what it has and counts further outcomes as dropped: saving never
// starts failing for good, and no outcome goes uncounted.
func TestRecorderDayTooLarge(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r := NewRecorder(st, func() time.Time { return now }, nil)
	recordMany := func(domains ...string) int64 {
		n := int64(0)
		for _, d := range domains {
			for p := range maxPolicies {
				for i := range MaxDetails {
					r.RecordTLS(Outcome{PolicyDomain: d, PolicyType: PolicySTS, PolicyString: []string{fmt.Sprint("mode: enforce ", p)},
						ResultType: ResultValidationFailure, ReceivingIP: fmt.Sprintf("192.0.2.%d", i), Detail: strings.Repeat("x", maxDetailText)})
					n++
				}
			}
		}
		return n
	}
	n := recordMany("a.test", "b.test")
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n += recordMany("c.test", "d.test", "e.test")
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("saving past the size of a shared file: %v", err)
	}
	data, err := st.ReadFile(ctx, "tlsrpt/2026-12-06.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec DayRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Domains) != 2 || rec.outcomes() != n {
		t.Fatalf("%d domains, %d outcomes counted; want 2 domains and %d", len(rec.Domains), rec.outcomes(), n)
	}
}
