package msgauth

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
)

func TestAuthservID(t *testing.T) {
	for v, want := range map[string]string{
		" mx.example.test; spf=pass":                "mx.example.test",
		"mx.example.test 1; none":                   "mx.example.test",
		"\r\n\t(comment (nested)) mx.example.test;": "mx.example.test",
		` "mx.example.test"; none`:                  "mx.example.test",
		"mx.example.test(c); none":                  "mx.example.test",
		"":                                          "",
		"(unterminated":                             "",
		` "unterminated`:                            "",
	} {
		if got := AuthservID(v); got != want {
			t.Errorf("AuthservID(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestStripOwnResults(t *testing.T) {
	hdr := "Received: from a\r\n\tby b\r\n" +
		"Authentication-Results: mx.example.test; dkim=pass\r\n" +
		"authentication-results:   MX.example.test;\r\n\tspf=pass smtp.mailfrom=forged.example\r\n" +
		"Authentication-Results: (our id in a comment: mx.example.test) other.example; spf=fail\r\n" +
		"Authentication-Results: mx.example.test.evil; spf=pass\r\n" +
		"Subject: x\r\n\r\nbody\r\nAuthentication-Results: mx.example.test; in the body\r\n"
	got, n := StripOwnResults([]byte(hdr), "mx.example.test")
	want := "Received: from a\r\n\tby b\r\n" +
		"Authentication-Results: (our id in a comment: mx.example.test) other.example; spf=fail\r\n" +
		"Authentication-Results: mx.example.test.evil; spf=pass\r\n" +
		"Subject: x\r\n\r\nbody\r\nAuthentication-Results: mx.example.test; in the body\r\n"
	if n != 2 || string(got) != want {
		t.Fatalf("removed %d:\n%s", n, got)
	}
}

// TestHeaderFormat checks the Authentication-Results field we write, and
// that an independent parser (go-msgauth's authres) reads it back.
func TestHeaderFormat(t *testing.T) {
	w := newWorld(t)
	w.dns.Add(t, `signer.example. TXT "v=spf1 ip4:192.0.2.0/24 -all"`, `_dmarc.signer.example. TXT "v=DMARC1; p=reject"`,
		`10.2.0.192.in-addr.arpa. PTR mail.signer.example.`, `mail.signer.example. A 192.0.2.10`)
	k := w.rsaKey("s1", "signer.example")
	res := w.check(sign(t, message("a@signer.example"), "signer.example", "s1", k), "mail.signer.example", "b@signer.example")
	h := res.Header("mx.example.test")
	for _, want := range []string{
		"Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=b@signer.example;\r\n\tdkim=pass header.d=signer.example header.s=s1 header.b=",
		";\r\n\tdmarc=pass (p=reject dis=none) header.from=signer.example policy.dmarc=none;\r\n\tarc=none smtp.remote-ip=192.0.2.10;\r\n\t",
		"iprev=pass (mail.signer.example) policy.iprev=192.0.2.10 (helo pass: resolves to the client's address)\r\n",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("header lacks %q:\n%s", want, h)
		}
	}
	_, value, _ := strings.Cut(strings.ReplaceAll(h, "\r\n\t", " "), ":")
	id, results, err := authres.Parse(strings.TrimSpace(value))
	if err != nil || id != "mx.example.test" || len(results) != 5 {
		t.Fatalf("authres.Parse: %q %d results, %v", id, len(results), err)
	}
	if r, ok := results[1].(*authres.DKIMResult); !ok || r.Value != authres.ResultPass || r.Domain != "signer.example" {
		t.Errorf("DKIM result read back as %#v", results[1])
	}
	// A reason with quotes and a line break cannot break the header out.
	if got := reason("bad \"key\"\r\nX-Injected: 1"); strings.ContainsAny(got, "\r\n") || !strings.Contains(got, `\"key\"`) {
		t.Errorf("reason %q", got)
	}
	if got := AuthResultsHeader("mx.example.test", nil); got != "Authentication-Results: mx.example.test; none\r\n" {
		t.Errorf("no results: %q", got)
	}
}

func FuzzAuthservID(f *testing.F) {
	for _, s := range []string{"mx.example.test; spf=pass", "(c) id 1; none", `"quoted\" id"; none`, "((", `"`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id := AuthservID(v)
		if strings.ContainsAny(id, ";\r\n") && !strings.HasPrefix(strings.TrimSpace(v), `"`) && !strings.HasPrefix(strings.TrimSpace(v), "(") {
			t.Fatalf("id %q from %q", id, v)
		}
		hdr := "Authentication-Results:" + v + "\r\nSubject: s\r\n\r\n"
		out, _ := StripOwnResults([]byte(hdr), "mx.example.test")
		if !strings.HasSuffix(string(out), "Subject: s\r\n\r\n") {
			t.Fatalf("stripping %q lost other fields: %q", hdr, out)
		}
	})
}

// FuzzParseHeader: any header block splits into fields that rebuild it.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"A: b\r\n\tc\r\nD: e\r\n\r\nbody", "no colon\r\n\r\n", "\r\n", " leading: ws\r\n", "X: y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		for _, fl := range ParseHeader([]byte(s)) {
			b.WriteString(fl.Raw)
		}
		if !strings.HasPrefix(s, b.String()) {
			t.Fatalf("fields of %q rebuild to %q", s, b.String())
		}
	})
}

// FuzzARCFields feeds the ARC and tag-list parsers arbitrary values.
func FuzzARCFields(f *testing.F) {
	for _, s := range []string{"i=1; a=rsa-sha256; cv=none; d=x; s=y; b=zz", "i=50", "i=0", "i=; x", " i = 3 ; lists.example; arc=pass", "b=;b=", "=;"} {
		f.Add(s)
	}
	d := mailtest.NewDNS(f) // knows no names: every key lookup is NXDOMAIN
	c := New(resolver.New([]string{d.Addr}, time.Second), Options{})
	f.Fuzz(func(t *testing.T, s string) {
		for _, aar := range []bool{true, false} {
			if n, err := ARCInstance(s, aar); err == nil && (n < 1 || n > maxARCInstances) {
				t.Fatalf("instance %d from %q", n, s)
			}
		}
		tags, err := ParseTags(s)
		if err == nil {
			for k := range tags {
				if strings.ContainsAny(k, ";=") || k == "" {
					t.Fatalf("tag %q from %q", k, s)
				}
			}
		}
		hdr := []byte("ARC-Seal: " + s + "\r\nARC-Message-Signature: " + s + "\r\nARC-Authentication-Results: " + s + "\r\n\r\n")
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(hdr)), nil }
		if r := c.arc(t.Context(), ParseHeader(hdr), open); r.Result == "pass" {
			t.Fatalf("unsigned chain passed: %q", s)
		}
	})
}
