package dmarcreport

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"mailroom/internal/msgauth"
)

func TestMailtoURI(t *testing.T) {
	for _, tc := range []struct {
		uri   string
		addr  string
		limit int64
		ok    bool
	}{
		{"mailto:dmarc@Example.org", "dmarc@example.org", 0, true},
		{" mailto:d@example.org!10m", "d@example.org", 10 << 20, true},
		{"mailto:d@example.org!500", "d@example.org", 500, true},
		{"mailto:d@example.org!2k", "d@example.org", 2 << 10, true},
		{"mailto:d@example.org!", "d@example.org", 0, true},
		{"mailto:d@example.org!x", "", 0, false},
		{"mailto:0@0.example!8700000t", "0@0.example", 0, true}, // overflows: no limit (found by fuzzing)
		{"mailto:d@example.org!-1", "", 0, false},
		{"https://example.org/report", "", 0, false},
		{"mailto:not-an-address", "", 0, false},
	} {
		addr, limit, ok := mailtoURI(tc.uri)
		if addr != tc.addr || limit != tc.limit || ok != tc.ok {
			t.Errorf("mailtoURI(%q) = %q %d %v", tc.uri, addr, limit, ok)
		}
	}
}

func FuzzMailtoURI(f *testing.F) {
	for _, s := range []string{"mailto:a@b.example!10m", "mailto:a@b.example", "mailto:!", "mailto:a@b!99999999999999999999t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, limit, ok := mailtoURI(s)
		if ok && (!strings.Contains(addr, "@") || limit < 0) {
			t.Fatalf("%q gave %q %d", s, addr, limit)
		}
	})
}

func TestRecordAndPolicy(t *testing.T) {
	pct := 50
	res := &msgauth.Result{
		SPF:  msgauth.SPFResult{Result: "pass", Identity: "mailfrom", Domain: "bounce.bank.example"},
		DKIM: []msgauth.DKIMResult{{Result: "fail", Domain: "bank.example", Selector: "s1"}},
		DMARC: msgauth.DMARCResult{Result: "pass", FromDomain: "bank.example", RecordAt: "bank.example", Disposition: msgauth.DispositionNone,
			SPFAligned: true, Record: &dmarc.Record{Policy: dmarc.PolicyReject, Percent: &pct, DKIMAlignment: dmarc.AlignmentStrict,
				ReportURIAggregate: []string{"mailto:d@bank.example"}}},
	}
	row, ok := Record(res, netip.MustParseAddr("192.0.2.7"), time.Now())
	if !ok || row.SPF != "pass" || row.DKIM != "fail" || row.SourceIP != "192.0.2.7" || row.ReportTo != "mailto:d@bank.example" ||
		row.AuthResults != "dkim:bank.example:s1:fail spf:bounce.bank.example:mfrom:pass" {
		t.Fatalf("row %+v", row)
	}
	if p := parsePolicy("bank.example", row.Policy); p.P != "reject" || p.SP != "reject" || p.Pct != 50 || p.ADKIM != "s" || p.ASPF != "r" {
		t.Fatalf("policy %q read back as %+v", row.Policy, p)
	}
	// Nothing to report without rua= or without a record.
	res.DMARC.Record.ReportURIAggregate = nil
	if _, ok := Record(res, netip.MustParseAddr("192.0.2.7"), time.Now()); ok {
		t.Error("recorded without rua=")
	}
	res.DMARC.Record = nil
	if _, ok := Record(res, netip.MustParseAddr("192.0.2.7"), time.Now()); ok {
		t.Error("recorded without a record")
	}
}
