package dmarcrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRUA(t *testing.T) {
	for _, tc := range []struct {
		txts []string
		want []Destination
	}{
		{[]string{"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"}, []Destination{{"dmarc@example.com", 0}}},
		{[]string{"v=DMARC1;p=none;rua=mailto:a@example.com!10m, mailto:b@other.example!500k,https://x.example/"},
			[]Destination{{"a@example.com", 10 << 20}, {"b@other.example", 500 << 10}}},
		{[]string{"v=DMARC1; p=none; rua=mailto:d%2Bmarc@example.com"}, []Destination{{"d+marc@example.com", 0}}},
		{[]string{"v=spf1 -all", "v=DMARC1; rua=mailto:a@example.com"}, []Destination{{"a@example.com", 0}}},
		{[]string{"v=DMARC1; rua=mailto:a@example.com", "v=DMARC1; rua=mailto:b@example.com"}, nil}, // two records
		{[]string{"v=DMARC1; p=none"}, nil},
		{[]string{"v=DMARC1; rua=mailto:a@example.com!x"}, nil},
		{[]string{"v=DMARC1; rua=mailto:a@b.test%0D%0ABcc:x@y"}, nil},
		{[]string{"p=none; v=DMARC1; rua=mailto:a@example.com"}, nil}, // v must come first
	} {
		if got := ParseRUA(tc.txts); !slices.Equal(got, tc.want) {
			t.Errorf("ParseRUA(%q) = %v, want %v", tc.txts, got, tc.want)
		}
	}
}

func FuzzParseRUA(f *testing.F) {
	f.Add("v=DMARC1; p=reject; rua=mailto:dmarc@example.com!10m,mailto:x@y.z")
	f.Add("v=DMARC1;rua=mailto:%41@b!1t")
	f.Add("v=DMARC1; rua=mailto:a@b!99999999999999999999g")
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range ParseRUA([]string{s}) {
			if d.Limit < 0 || strings.ContainsAny(d.Address, "\r\n<>\" ,;") || !strings.Contains(d.Address, "@") {
				t.Errorf("destination %+v from %q", d, s)
			}
		}
	})
}

func sample() *DomainRecord {
	return &DomainRecord{
		Policy: Policy{ADKIM: "r", ASPF: "r", P: "reject", SP: "quarantine", Pct: 100},
		Rows: []*Row{{SourceIP: "192.0.2.1", HeaderFrom: "example.com", EnvelopeFrom: "example.com", Disposition: "none",
			DKIM: "pass", SPF: "pass", DKIMResults: []DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}},
			SPFResult: SPFResult{Domain: "example.com", Scope: "mfrom", Result: "pass"}, Count: 7},
			{SourceIP: "198.51.100.9", HeaderFrom: "example.com", Disposition: "reject", DKIM: "fail", SPF: "fail",
				Reasons:   []Reason{{Type: "local_policy", Comment: "test"}},
				SPFResult: SPFResult{Domain: "forger.example", Scope: "mfrom", Result: "fail"}, Count: 2}},
	}
}

func TestBuildXML(t *testing.T) {
	f := Build("2026-12-06", "example.com", sample(), "mail.receiver.test", "postmaster@receiver.test")
	gz, err := f.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := io.ReadAll(zr)
	s := string(x)
	// The element names and nesting of RFC 7489 Appendix C.
	for _, want := range []string{
		"<?xml", "<feedback>", "<report_metadata>", "<org_name>mail.receiver.test</org_name>",
		"<email>postmaster@receiver.test</email>", "<begin>1796515200</begin>", "<end>1796601599</end>",
		"<policy_published>", "<domain>example.com</domain>", "<adkim>r</adkim>", "<p>reject</p>", "<sp>quarantine</sp>", "<pct>100</pct>",
		"<record>", "<row>", "<source_ip>192.0.2.1</source_ip>", "<count>7</count>", "<policy_evaluated>",
		"<disposition>reject</disposition>", "<reason>", "<type>local_policy</type>",
		"<identifiers>", "<header_from>example.com</header_from>", "<envelope_from>example.com</envelope_from>",
		"<auth_results>", "<dkim>", "<selector>s1</selector>", "<spf>", "<scope>mfrom</scope>", "<result>fail</result>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %s:\n%s", want, s)
		}
	}
	var back Feedback
	if err := xml.Unmarshal(x, &back); err != nil || len(back.Records) != 2 || back.Records[1].Row.Count != 2 {
		t.Errorf("report does not read back: %v %+v", err, back)
	}
	if !regexp.MustCompile(`^mail\.receiver\.test!example\.com!1796515200!1796601599![0-9a-f]+\.xml\.gz$`).MatchString(f.Filename()) {
		t.Errorf("filename %q", f.Filename())
	}
}

func TestRecorderAggregates(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r := NewRecorder(t.TempDir(), func() time.Time { return now }, nil)
	e := Evaluation{PolicyDomain: "Example.COM.", Policy: sample().Policy, SourceIP: "192.0.2.1", HeaderFrom: "EXAMPLE.com",
		Disposition: "none", DKIM: "pass", SPF: "fail", SPFResult: SPFResult{Domain: "example.com", Result: "softfail"}}
	r.Record(e)
	r.Record(e)
	e.SourceIP = "192.0.2.2"
	r.Record(e)
	for i := range MaxRows + 3 {
		e.SourceIP = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
		r.Record(e)
	}
	d := r.Today().Domains["example.com"]
	if d == nil || len(d.Rows) != MaxRows || d.Rows[0].Count != 2 || d.Rows[0].HeaderFrom != "example.com" || d.Dropped != 5 {
		t.Fatalf("today: %d rows, first %+v, dropped %d", len(d.Rows), d.Rows[0], d.Dropped)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour)
	days, err := NewRecorder(r.dir, func() time.Time { return now }, nil).Finished()
	if err != nil || len(days) != 1 || days[0].Domains["example.com"].Rows[0].Count != 2 {
		t.Errorf("finished: %v, %v", days, err)
	}
}
