package tlsrpt

import (
	"fmt"
	"testing"
	"time"
)

func TestRecorderAggregates(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	r := NewRecorder(dir, func() time.Time { return now }, nil)
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
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	r2 := NewRecorder(dir, func() time.Time { return now }, nil)
	if got := r2.Today().Domains["dest.test"]; got == nil || got.Policies[0].Success != 3 {
		t.Errorf("after a restart: %+v", r2.Today())
	}
	if days, err := r2.Finished(); err != nil || len(days) != 0 {
		t.Errorf("Finished before midnight = %v, %v", days, err)
	}
	now = now.Add(14 * time.Hour)
	r2.RecordTLS(Outcome{PolicyDomain: "other.test", PolicyType: PolicyNone, Success: true})
	days, err := r2.Finished()
	if err != nil || len(days) != 1 || days[0].Day != "2026-12-06" || days[0].Domains["dest.test"] == nil {
		t.Fatalf("Finished after midnight = %+v, %v", days, err)
	}
	if r2.Today().Day != "2026-12-07" || r2.Today().Domains["dest.test"] != nil {
		t.Errorf("the new day = %+v", r2.Today())
	}
	if err := r2.Done("2026-12-06"); err != nil {
		t.Fatal(err)
	}
	if days, _ := r2.Finished(); len(days) != 0 {
		t.Errorf("a day marked done is still listed: %v", days)
	}
}

func TestRecorderBoundsDomains(t *testing.T) {
	r := NewRecorder("", nil, nil)
	for i := range MaxDomains + 10 {
		r.RecordTLS(Outcome{PolicyDomain: fmt.Sprintf("d%d.test", i), PolicyType: PolicyNone, Success: true})
	}
	if today := r.Today(); len(today.Domains) != MaxDomains || today.Dropped != 10 {
		t.Errorf("%d domains, %d dropped", len(today.Domains), today.Dropped)
	}
}
