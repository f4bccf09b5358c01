package smtp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/dmarcreport"
	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
)

// TestDMARCAggregateReport: the MX counts the DMARC evaluations of mail
// from a domain that asks for reports; the reporter mails the day's XML,
// gzipped, through the outbound queue to the rua addresses that may get it
// (RFC 7489 7.1: a third party must agree in DNS), here to a sink.
func TestDMARCAggregateReport(t *testing.T) {
	sink := mailtest.NewSink(t, "127.0.0.1:0")
	_, portStr, _ := net.SplitHostPort(sink.Addr)
	port, _ := strconv.Atoi(portStr)
	r := newRig(t, func(c *config.Config) { c.Queue.RemotePort = port })
	r.Account("ann@example.test")
	r.DNS.Add(t,
		`_dmarc.bank.example. TXT "v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@bank.example,mailto:agg@thirdparty.example!10m,mailto:x@unauth.example"`,
		`bank.example._report._dmarc.thirdparty.example. TXT "v=DMARC1"`,
		`bank.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`bank.example. MX 10 mx.bank.example.`, `mx.bank.example. A 127.0.0.1`,
		`thirdparty.example. MX 10 mx.bank.example.`, `unauth.example. MX 10 mx.bank.example.`,
	)
	c := r.dial(r.Addr("smtp"))
	for i, from := range []string{"a@bank.example", "b@bank.example", "forger@elsewhere.example"} {
		if err := send(c, from, []string{"ann@example.test"}, fromMsg("news@bank.example", "m"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Mail from a domain without rua= is not counted.
	if err := send(c, "a@remote.example", []string{"ann@example.test"}, fromMsg("a@remote.example", "other")); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	rep := dmarcreport.New(dmarcreport.Options{Store: r.Store, Outbound: r.Server.Deps().Queue,
		Resolver: resolver.New([]string{r.DNS.Addr}, 2*time.Second), Hostname: "mx.example.test"})
	// The server's own reporter runs once at start and holds the sending
	// lease meanwhile (on PostgreSQL that can overlap this call): wait it out.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := rep.Send(ctx, time.Now().Add(48*time.Hour))
		if err == nil {
			break
		}
		if !errors.Is(err, dmarcreport.ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	got := sink.WaitFor(t, 2, 20*time.Second)
	time.Sleep(200 * time.Millisecond) // a third would have arrived by now
	var rcpts []string
	for _, m := range sink.Received() {
		rcpts = append(rcpts, m.Recipients...)
		if m.From != "" {
			t.Errorf("report sent from <%s>, want the null sender", m.From)
		}
	}
	if len(rcpts) != 2 || !strings.Contains(strings.Join(rcpts, " "), "dmarc@bank.example") || !strings.Contains(strings.Join(rcpts, " "), "agg@thirdparty.example") {
		t.Fatalf("reports went to %v, want dmarc@bank.example and agg@thirdparty.example only", rcpts)
	}

	fb, filename := readReport(t, got[0].Data)
	if !regexp.MustCompile(`^mx\.example\.test!bank\.example!\d+!\d+\.xml\.gz$`).MatchString(filename) {
		t.Errorf("attachment name %q", filename)
	}
	if fb.Policy.Domain != "bank.example" || fb.Policy.P != "quarantine" || fb.Policy.Pct != 100 || fb.Metadata.OrgName != "mx.example.test" ||
		fb.Metadata.DateRange.End-fb.Metadata.DateRange.Begin != 86399 {
		t.Errorf("report header %+v %+v", fb.Metadata, fb.Policy)
	}
	rows := map[string]dmarcreport.XMLRecord{}
	for _, rec := range fb.Records {
		rows[rec.Row.Evaluated.SPF] = rec
	}
	pass, fail := rows["pass"], rows["fail"]
	if len(fb.Records) != 2 || pass.Row.Count != 2 || pass.Row.Evaluated.Disposition != "none" || pass.Row.SourceIP != "127.0.0.1" ||
		pass.Identifiers.HeaderFrom != "bank.example" || len(pass.Auth.SPF) != 1 || pass.Auth.SPF[0].Result != "pass" {
		t.Errorf("passing row %+v", pass)
	}
	if fail.Row.Count != 1 || fail.Row.Evaluated.Disposition != "quarantine" || fail.Row.Evaluated.DKIM != "fail" ||
		fail.Identifiers.EnvelopeFrom != "elsewhere.example" {
		t.Errorf("failing row %+v", fail)
	}
	// Reported rows are gone; a second run sends nothing.
	if left, err := r.Store.DMARCResults(ctx, time.Now().Add(48*time.Hour)); err != nil || len(left) != 0 {
		t.Fatalf("rows left after the report: %v %v", left, err)
	}
}

// readReport finds the gzipped XML attachment of a report message.
func readReport(t *testing.T, data []byte) (dmarcreport.Feedback, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if subj := m.Header.Get("Subject"); !strings.HasPrefix(subj, "Report Domain: bank.example Submitter: mx.example.test Report-ID: <") {
		t.Errorf("Subject %q", subj)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no gzip attachment: %v", err)
		}
		if p.Header.Get("Content-Type") != "application/gzip" {
			continue
		}
		raw, _ := io.ReadAll(p) // multipart decodes quoted-printable only
		dec, err := decodeBase64Lines(raw)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(dec))
		if err != nil {
			t.Fatal(err)
		}
		x, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		var fb dmarcreport.Feedback
		if err := xml.Unmarshal(x, &fb); err != nil {
			t.Fatalf("report XML: %v\n%s", err, x)
		}
		return fb, p.FileName()
	}
}

func decodeBase64Lines(b []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
}
