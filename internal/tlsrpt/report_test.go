package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		txts []string
		want []string
	}{
		{[]string{"v=TLSRPTv1; rua=mailto:reports@example.com"}, []string{"mailto:reports@example.com"}},
		{[]string{"v=TLSRPTv1;rua=mailto:a@example.com,https://reports.example.com/tlsrpt"}, []string{"mailto:a@example.com", "https://reports.example.com/tlsrpt"}},
		{[]string{"v=spf1 -all", "v=TLSRPTv1; rua=https://r.example/"}, []string{"https://r.example/"}},
		{[]string{"v=TLSRPTv1; rua=mailto:a@x.test", "v=TLSRPTv1; rua=mailto:b@x.test"}, nil}, // two records
		{[]string{"v=TLSRPTv10; rua=mailto:a@x.test"}, nil},
		{[]string{"v=TLSRPTv1; rua=http://insecure.example/"}, nil}, // only mailto: and https:
		{[]string{"v=TLSRPTv1"}, nil},
		{nil, nil},
	} {
		got, ok := ParseRecord(tc.txts)
		if !slices.Equal(got, tc.want) || ok != (tc.want != nil) {
			t.Errorf("ParseRecord(%q) = %q, %v; want %q", tc.txts, got, ok, tc.want)
		}
	}
	for uri, want := range map[string]string{
		"mailto:tlsrpt@example.com":              "tlsrpt@example.com",
		"mailto:tls%2Brpt@example.com?subject=x": "tls+rpt@example.com",
		"mailto:nobody":                          "",
		"mailto:a@b.test%0D%0ABcc:x@y":           "",
	} {
		got, err := mailtoAddress(uri)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("mailtoAddress(%q) = %q, %v; want %q", uri, got, err, want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:reports@example.com,https://r.example/x")
	f.Add("v=TLSRPTv1;rua=mailto:%41@b")
	f.Add("v=TLSRPTv1; rua=")
	f.Fuzz(func(t *testing.T, s string) {
		rua, ok := ParseRecord([]string{s})
		if ok != (len(rua) > 0) {
			t.Errorf("ok %v with %d URIs", ok, len(rua))
		}
		for _, u := range rua {
			if l := strings.ToLower(u); strings.HasPrefix(l, "mailto:") {
				if a, err := mailtoAddress(u); err == nil && strings.ContainsAny(a, "\r\n<>") {
					t.Errorf("address %q from %q", a, u)
				}
			} else if !strings.HasPrefix(l, "https://") {
				t.Errorf("URI %q kept", u)
			}
		}
	})
}

func sampleDomain() *DomainRecord {
	return &DomainRecord{Policies: []*PolicyRecord{{
		Type: PolicySTS, Strings: []string{"version: STSv1", "mode: testing", "mx: *.mail.dest.test", "max_age: 86400"},
		MXHost: []string{"*.mail.dest.test"}, Success: 5326, Failure: 303,
		Details: []*DetailRecord{{ResultType: ResultCertificateExpired, SendingIP: "2001:db8:abcd:12::1",
			ReceivingMX: "mx1.mail.dest.test", ReceivingIP: "203.0.113.56", Info: "x509: expired", Count: 303}},
	}}}
}

func TestBuildJSON(t *testing.T) {
	rep := Build("2026-12-06", "dest.test", sampleDomain(), "mail.sender.test", "postmaster@sender.test")
	gz, err := rep.Gzip()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.NewDecoder(zr).Decode(&got); err != nil {
		t.Fatal(err)
	}
	// The field names and shapes of RFC 8460 section 4.4.
	dr := got["date-range"].(map[string]any)
	if got["organization-name"] != "mail.sender.test" || got["contact-info"] != "postmaster@sender.test" ||
		dr["start-datetime"] != "2026-12-06T00:00:00Z" || dr["end-datetime"] != "2026-12-06T23:59:59Z" ||
		!strings.HasPrefix(got["report-id"].(string), "2026-12-06_dest.test_") {
		t.Errorf("report header: %v", got)
	}
	pol := got["policies"].([]any)[0].(map[string]any)
	p := pol["policy"].(map[string]any)
	sum := pol["summary"].(map[string]any)
	fd := pol["failure-details"].([]any)[0].(map[string]any)
	if p["policy-type"] != "sts" || p["policy-domain"] != "dest.test" || len(p["policy-string"].([]any)) != 4 ||
		p["mx-host"].([]any)[0] != "*.mail.dest.test" ||
		sum["total-successful-session-count"] != 5326.0 || sum["total-failure-session-count"] != 303.0 ||
		fd["result-type"] != "certificate-expired" || fd["sending-mta-ip"] != "2001:db8:abcd:12::1" ||
		fd["receiving-mx-hostname"] != "mx1.mail.dest.test" || fd["receiving-ip"] != "203.0.113.56" ||
		fd["failed-session-count"] != 303.0 || fd["failure-reason-code"] != "x509: expired" {
		t.Errorf("policy: %v", pol)
	}
}

func TestMessage(t *testing.T) {
	rep := Build("2026-12-06", "dest.test", sampleDomain(), "mail.sender.test", "postmaster@sender.test")
	raw, err := rep.Message("dest.test", "postmaster@sender.test", "tlsrpt@dest.test", rep.DateRange.End)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("TLS-Report-Domain") != "dest.test" || m.Header.Get("TLS-Report-Submitter") != "mail.sender.test" ||
		m.Header.Get("Subject") != "Report Domain: dest.test Submitter: mail.sender.test Report-ID: <"+rep.ReportID+">" {
		t.Errorf("header: %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	if _, err := mr.NextPart(); err != nil { // the text
		t.Fatal(err)
	}
	att, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if att.Header.Get("Content-Type") != "application/tlsrpt+gzip" ||
		!regexp.MustCompile(`^mail\.sender\.test!dest\.test!1796515200!1796601599![0-9a-f]+\.json\.gz$`).MatchString(att.FileName()) {
		t.Errorf("attachment %q named %q", att.Header.Get("Content-Type"), att.FileName())
	}
	// multipart.Part decodes only quoted-printable; base64 is ours to do.
	enc, _ := io.ReadAll(att)
	if !bytes.Contains(enc, []byte("\r\n")) || len(bytes.Split(enc, []byte("\r\n"))[0]) > 76 {
		t.Error("attachment not in base64 lines of at most 76 characters")
	}
}
