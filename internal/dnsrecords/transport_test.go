package dnsrecords

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailroom/internal/mtasts"
)

func TestTransportRecords(t *testing.T) {
	in := sampleInput(t)
	base := len(For(in))
	p := mtasts.Published{Mode: mtasts.Testing, MX: []string{"mail.example.org"}, MaxAge: 7 * 24 * time.Hour}
	in.MTASTS = &p
	in.TLSRPTEmail = "postmaster@example.org"
	recs := For(in)
	if len(recs) != base+3 {
		t.Fatalf("%d records, want %d", len(recs), base+3)
	}
	want := []Record{
		{Name: "mta-sts.example.org", Type: "CNAME", Value: "mail.example.org."},
		{Name: "_mta-sts.example.org", Type: "TXT", Value: "v=STSv1; id=" + p.ID()},
		{Name: "_smtp._tls.example.org", Type: "TXT", Value: "v=TLSRPTv1; rua=mailto:postmaster@example.org"},
	}
	for i, w := range want {
		g := recs[base+i]
		if g.Name != w.Name || g.Type != w.Type || g.Value != w.Value || g.Why == "" {
			t.Errorf("record %d = %s %s %q, want %s %s %q", base+i, g.Name, g.Type, g.Value, w.Name, w.Type, w.Value)
		}
	}
	// The printed id follows the policy.
	id := p.ID()
	p.Mode = mtasts.Enforce
	if rec := For(in)[base+1]; rec.Value == "v=STSv1; id="+id || !strings.Contains(rec.Why, "enforce") {
		t.Errorf("after a mode change: %q (%s)", rec.Value, rec.Why)
	}
	// The DMARC record asks for quarantine and reports.
	for _, r := range recs {
		if r.Name == "_dmarc.example.org" && !strings.Contains(r.Value, "p=quarantine") {
			t.Errorf("DMARC record %q", r.Value)
		}
	}
	// The zone-file form loads, and the TXT records read back whole and
	// parse as what they claim to be.
	var buf bytes.Buffer
	if err := Format(&buf, recs); err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(&buf, "", "")
	var sts, rpt []string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if txt, ok := rr.(*dns.TXT); ok {
			switch rr.Header().Name {
			case "_mta-sts.example.org.":
				sts = append(sts, strings.Join(txt.Txt, ""))
			case "_smtp._tls.example.org.":
				rpt = append(rpt, strings.Join(txt.Txt, ""))
			}
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	if got, ok := mtasts.ParseRecord(sts); !ok || got != id {
		t.Errorf("_mta-sts record %q parses to %q, %v", sts, got, ok)
	}
	if len(rpt) != 1 || rpt[0] != "v=TLSRPTv1; rua=mailto:postmaster@example.org" {
		t.Errorf("_smtp._tls record %q", rpt)
	}
}
