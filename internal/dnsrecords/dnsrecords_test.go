package dnsrecords

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailroom/internal/dkim"
	"mailroom/internal/store/sqlitestore"
)

func sampleInput(t *testing.T) Input {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k, err := dkim.Generate(context.Background(), st, "example.org", time.Date(2026, time.July, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Domain:     "example.org",
		Hostname:   "mail.example.org",
		DKIM:       k.Records(),
		AdminEmail: "postmaster@example.org",
	}
}

func TestFor(t *testing.T) {
	in := sampleInput(t)
	got := For(in)
	want := []Record{
		{Name: "mail.example.org", Type: "A", Value: "<this server's IPv4 address>", Placeholder: true},
		{Name: "mail.example.org", Type: "AAAA", Value: "<this server's IPv6 address>", Placeholder: true},
		{Name: "<this server's IP address, reversed>", Type: "PTR", Value: "mail.example.org.", Placeholder: true},
		{Name: "example.org", Type: "MX", Value: "10 mail.example.org."},
		{Name: "example.org", Type: "TXT", Value: "v=spf1 mx ~all"},
		{Name: "mr202607e._domainkey.example.org", Type: "TXT", Value: in.DKIM[0].Value},
		{Name: "mr202607r._domainkey.example.org", Type: "TXT", Value: in.DKIM[1].Value},
		{Name: "_dmarc.example.org", Type: "TXT", Value: "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@example.org"},
		{Name: "_submissions._tcp.example.org", Type: "SRV", Value: "0 1 465 mail.example.org."},
		{Name: "_submission._tcp.example.org", Type: "SRV", Value: "0 1 587 mail.example.org."},
		{Name: "_imaps._tcp.example.org", Type: "SRV", Value: "0 1 993 mail.example.org."},
		{Name: "_imap._tcp.example.org", Type: "SRV", Value: "0 1 143 mail.example.org."},
		{Name: "_pop3s._tcp.example.org", Type: "SRV", Value: "10 1 995 mail.example.org."},
		{Name: "_pop3._tcp.example.org", Type: "SRV", Value: "10 1 110 mail.example.org."},
		{Name: "_sieve._tcp.example.org", Type: "SRV", Value: "0 1 4190 mail.example.org."},
		{Name: "autoconfig.example.org", Type: "CNAME", Value: "mail.example.org."},
		{Name: "autodiscover.example.org", Type: "CNAME", Value: "mail.example.org."},
		{Name: "_autodiscover._tcp.example.org", Type: "SRV", Value: "0 1 443 mail.example.org."},
		{Name: "_jmap._tcp.example.org", Type: "SRV", Value: "0 1 443 mail.example.org."},
	}
	if len(got) != len(want) {
		t.Errorf("For returned %d records, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Type != w.Type || g.Value != w.Value || g.Placeholder != w.Placeholder {
			t.Errorf("record %d = %s %s %q (placeholder %v), want %s %s %q (placeholder %v)",
				i, g.Name, g.Type, g.Value, g.Placeholder, w.Name, w.Type, w.Value, w.Placeholder)
		}
		if g.TTL <= 0 {
			t.Errorf("record %d (%s %s) has TTL %d", i, g.Name, g.Type, g.TTL)
		}
		if g.Why == "" {
			t.Errorf("record %d (%s %s) has no Why", i, g.Name, g.Type)
		}
	}
	if !strings.HasPrefix(in.DKIM[0].Value, "v=DKIM1; k=ed25519; p=") || !strings.HasPrefix(in.DKIM[1].Value, "v=DKIM1; k=rsa; p=") {
		t.Errorf("unexpected DKIM records %v", in.DKIM)
	}
}

func TestForExplains(t *testing.T) {
	recs := For(sampleInput(t))
	why := func(name, typ string) string {
		for _, r := range recs {
			if r.Name == name && r.Type == typ {
				return r.Why
			}
		}
		t.Fatalf("no %s %s record", name, typ)
		return ""
	}
	for _, tt := range []struct{ name, typ, want string }{
		{"example.org", "TXT", "-all"},
		{"_dmarc.example.org", "TXT", "p=none"},
		{"_pop3._tcp.example.org", "SRV", "prefer IMAP"},
		{"mail.example.org", "A", "Replace the placeholder"},
		{"<this server's IP address, reversed>", "PTR", "mail.example.org"},
	} {
		if got := why(tt.name, tt.typ); !strings.Contains(got, tt.want) {
			t.Errorf("Why of %s %s = %q, want it to mention %q", tt.name, tt.typ, got, tt.want)
		}
	}
}

func TestForVariants(t *testing.T) {
	find := func(recs []Record, name, typ string) (Record, bool) {
		for _, r := range recs {
			if r.Name == name && r.Type == typ {
				return r, true
			}
		}
		return Record{}, false
	}

	// A server named outside the domain: its address records are
	// another zone's business.
	recs := For(Input{Domain: "example.org", Hostname: "mx.hosting.example"})
	for _, r := range recs {
		if r.Placeholder || r.Type == "A" || r.Type == "AAAA" || r.Type == "PTR" {
			t.Errorf("hostname outside the domain, yet For returned %s %s", r.Name, r.Type)
		}
	}
	if r, _ := find(recs, "example.org", "MX"); r.Value != "10 mx.hosting.example." {
		t.Errorf("MX = %q, want 10 mx.hosting.example.", r.Value)
	}
	// No admin address: no rua, and no DKIM records when there are no keys.
	if r, _ := find(recs, "_dmarc.example.org", "TXT"); r.Value != "v=DMARC1; p=quarantine; adkim=s; aspf=s" {
		t.Errorf("DMARC without AdminEmail = %q", r.Value)
	}
	for _, r := range recs {
		if strings.Contains(r.Name, "_domainkey") {
			t.Errorf("no DKIM keys given, yet For returned %s", r.Name)
		}
	}

	// The server named by the domain itself still needs its addresses.
	recs = For(Input{Domain: "example.org", Hostname: "example.org"})
	if r, ok := find(recs, "example.org", "A"); !ok || !r.Placeholder {
		t.Errorf("hostname equal to the domain: A record %+v, want a placeholder", r)
	}

	// Reports to another domain need that domain's consent, and a rua
	// address must not break the tag list.
	recs = For(Input{Domain: "example.org", Hostname: "mail.example.org", AdminEmail: "dmarc,reports!@Other.example"})
	r, _ := find(recs, "_dmarc.example.org", "TXT")
	if want := "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:dmarc%2Creports%21@Other.example"; r.Value != want {
		t.Errorf("DMARC = %q, want %q", r.Value, want)
	}
	if !strings.Contains(r.Why, "example.org._report._dmarc.other.example") {
		t.Errorf("DMARC Why = %q, want it to name the authorization record", r.Why)
	}
}

// rdata renders the data of a parsed record the way Record.Value holds it.
func rdata(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.MX:
		return fmt.Sprintf("%d %s", rr.Preference, rr.Mx)
	case *dns.SRV:
		return fmt.Sprintf("%d %d %d %s", rr.Priority, rr.Weight, rr.Port, rr.Target)
	case *dns.CNAME:
		return rr.Target
	case *dns.TXT:
		return strings.Join(rr.Txt, "")
	}
	return rr.String()
}

func TestFormatParses(t *testing.T) {
	recs := For(sampleInput(t))
	var b strings.Builder
	if err := Format(&b, recs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("Format output:\n%s", out)

	var want []Record
	for _, r := range recs {
		if !r.Placeholder {
			want = append(want, r)
		}
	}
	zp := dns.NewZoneParser(strings.NewReader(out), "", "")
	i := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if i >= len(want) {
			t.Errorf("extra record %v", rr)
			continue
		}
		w := want[i]
		i++
		h := rr.Header()
		if h.Name != w.Name+"." || dns.TypeToString[h.Rrtype] != w.Type || h.Class != dns.ClassINET || int(h.Ttl) != w.TTL {
			t.Errorf("parsed %s %d %s %s, want %s. %d IN %s",
				h.Name, h.Ttl, dns.ClassToString[h.Class], dns.TypeToString[h.Rrtype], w.Name, w.TTL, w.Type)
			continue
		}
		if got := rdata(rr); got != w.Value {
			t.Errorf("%s %s: parsed value %q, want %q", w.Name, w.Type, got, w.Value)
		}
		if txt, ok := rr.(*dns.TXT); ok {
			for _, s := range txt.Txt {
				if len(s) > 255 {
					t.Errorf("%s: TXT string of %d octets", w.Name, len(s))
				}
			}
			if strings.Contains(w.Value, "k=rsa") && len(txt.Txt) < 2 {
				t.Errorf("%s: RSA key of %d octets in %d string(s), want it split", w.Name, len(w.Value), len(txt.Txt))
			}
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone parser: %v", err)
	}
	if i != len(want) {
		t.Errorf("parsed %d records, want %d", i, len(want))
	}

	// Each record is preceded by its reason, and the placeholders are
	// there for the operator to read, commented out.
	for _, line := range []string{
		"; mail.example.org.\t3600\tIN\tA\t<this server's IPv4 address>\n",
		"; mail.example.org.\t3600\tIN\tAAAA\t<this server's IPv6 address>\n",
		"; <this server's IP address, reversed>.\t3600\tIN\tPTR\tmail.example.org.\n",
		"; Mail for example.org is delivered to this server.\nexample.org.\t3600\tIN\tMX\t10 mail.example.org.\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q", line)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(line, ";") && len(line) > 80 {
			t.Errorf("comment line of %d columns: %q", len(line), line)
		}
	}
}

func TestQuoteTXT(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", `""`},
		{"v=spf1 mx ~all", `"v=spf1 mx ~all"`},
		{`say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"tab\there", `"tab\009here"`},
		{strings.Repeat("a", 255), `"` + strings.Repeat("a", 255) + `"`},
		{strings.Repeat("a", 256), `"` + strings.Repeat("a", 255) + `" "a"`},
		{strings.Repeat("a", 600), `"` + strings.Repeat("a", 255) + `" "` + strings.Repeat("a", 255) + `" "` + strings.Repeat("a", 90) + `"`},
	} {
		if got := quoteTXT(tt.in); got != tt.want {
			t.Errorf("quoteTXT(%.20q…) = %.60q…, want %.60q…", tt.in, got, tt.want)
		}
	}

	// The zone parser reads a quoted value back as it was.
	for _, in := range []string{`say "hi" \o/`, strings.Repeat("x;y=z ", 100)} {
		rr, err := dns.NewRR("t.example. 60 IN TXT " + quoteTXT(in))
		if err != nil {
			t.Fatalf("parsing %q: %v", quoteTXT(in), err)
		}
		var got strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			// miekg/dns keeps the escapes of the presentation form.
			got.WriteString(strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s))
		}
		if got.String() != in {
			t.Errorf("TXT %q read back as %q", in, got.String())
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFormatWriteError(t *testing.T) {
	if err := Format(failWriter{}, For(Input{Domain: "example.org", Hostname: "mail.example.org"})); err == nil {
		t.Error("Format to a failing writer succeeded")
	}
}
