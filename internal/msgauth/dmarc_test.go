package msgauth

import (
	"context"
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
	"github.com/miekg/dns"
)

func TestAlignment(t *testing.T) {
	for _, tc := range []struct {
		auth, from string
		mode       dmarc.AlignmentMode
		want       bool
	}{
		{"example.com", "example.com", dmarc.AlignmentStrict, true},
		{"Example.COM.", "example.com", dmarc.AlignmentStrict, true},
		{"mail.example.com", "example.com", dmarc.AlignmentStrict, false},
		{"mail.example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"a.example.com", "b.example.com", dmarc.AlignmentRelaxed, true},
		{"example.net", "example.com", dmarc.AlignmentRelaxed, false},
		// Organisational domains come from the public suffix list:
		// two customers of one public suffix are not aligned.
		{"alice.github.io", "bob.github.io", dmarc.AlignmentRelaxed, false},
		{"a.example.co.uk", "b.example.co.uk", dmarc.AlignmentRelaxed, true},
		{"example.co.uk", "other.co.uk", dmarc.AlignmentRelaxed, false},
		{"", "example.com", dmarc.AlignmentRelaxed, false},
	} {
		if got := aligned(tc.auth, tc.from, tc.mode); got != tc.want {
			t.Errorf("aligned(%q, %q, %s) = %v", tc.auth, tc.from, tc.mode, got)
		}
	}
	for d, want := range map[string]string{"a.b.example.com": "example.com", "x.example.co.uk": "example.co.uk", "co.uk": "co.uk", "bob.github.io": "bob.github.io"} {
		if got := OrgDomain(d); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", d, got, want)
		}
	}
}

// TestDMARCPolicy runs the DMARC evaluation against records on a loopback
// DNS server: SPF passes for spf.example (the client's address), and DKIM
// is given; the From domain varies.
func TestDMARCPolicy(t *testing.T) {
	w := newWorld(t)
	w.dns.Add(t,
		`spf.example. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`sub.spf.example. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`_dmarc.spf.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.reject.example. TXT "v=DMARC1; p=reject; rua=mailto:r@reject.example"`,
		`_dmarc.quarantine.example. TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.none.example. TXT "v=DMARC1; p=none"`,
		`_dmarc.pct0.example. TXT "v=DMARC1; p=quarantine; pct=0"`,
		`_dmarc.pct0r.example. TXT "v=DMARC1; p=reject; pct=0"`,
		`_dmarc.pct50.example. TXT "v=DMARC1; p=reject; pct=50"`,
		`_dmarc.org.example. TXT "v=DMARC1; p=reject; sp=quarantine"`,
		`_dmarc.orgonly.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.strict.example. TXT "v=DMARC1; p=reject; aspf=s"`,
		`strict.example. TXT "v=spf1 -all"`,
		`mail.strict.example. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`mail.relaxed.example. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`_dmarc.relaxed.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.two.example. TXT "v=DMARC1; p=reject"`, `_dmarc.two.example. TXT "v=DMARC1; p=none"`,
		`_dmarc.sub.two.example. TXT "v=DMARC1; p=none"`, `_dmarc.sub.two.example. TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.invalid.example. TXT "v=DMARC1; p=bogus"`,
		`_dmarc.other.example. TXT "some other record"`, `_dmarc.other.example. TXT "v=DMARC1; p=reject"`,
	)
	w.dns.Fail("_dmarc.broken.example", dns.RcodeServerFailure)
	draw := 99
	w.opt.Percent = func() int { return draw }
	for _, tc := range []struct {
		name, mailFrom, from string
		draw                 int
		result               string
		policy               Policy
		dis                  Disposition
		override             string
	}{
		{"aligned SPF passes", "a@spf.example", "x@spf.example", 0, "pass", dmarc.PolicyReject, DispositionNone, ""},
		{"subdomain SPF relaxed", "a@sub.spf.example", "x@spf.example", 0, "pass", dmarc.PolicyReject, DispositionNone, ""},
		{"forged reject", "a@spf.example", "x@reject.example", 0, "fail", dmarc.PolicyReject, DispositionReject, ""},
		{"forged quarantine", "a@spf.example", "x@quarantine.example", 0, "fail", dmarc.PolicyQuarantine, DispositionQuarantine, ""},
		{"p=none", "a@spf.example", "x@none.example", 0, "fail", dmarc.PolicyNone, DispositionNone, ""},
		{"no record", "a@spf.example", "x@nothing.example", 0, "none", "", DispositionNone, ""},
		{"pct=0 quarantine not applied", "a@spf.example", "x@pct0.example", 0, "fail", dmarc.PolicyQuarantine, DispositionNone, "sampled_out"},
		{"pct=0 reject becomes quarantine", "a@spf.example", "x@pct0r.example", 0, "fail", dmarc.PolicyReject, DispositionQuarantine, "sampled_out"},
		{"pct=50 sampled in", "a@spf.example", "x@pct50.example", 49, "fail", dmarc.PolicyReject, DispositionReject, ""},
		{"pct=50 sampled out", "a@spf.example", "x@pct50.example", 50, "fail", dmarc.PolicyReject, DispositionQuarantine, "sampled_out"},
		{"subdomain policy sp", "a@spf.example", "x@mail.org.example", 0, "fail", dmarc.PolicyQuarantine, DispositionQuarantine, ""},
		{"org domain itself uses p", "a@spf.example", "x@org.example", 0, "fail", dmarc.PolicyReject, DispositionReject, ""},
		{"org fallback without sp uses p", "a@spf.example", "x@deep.sub.orgonly.example", 0, "fail", dmarc.PolicyReject, DispositionReject, ""},
		{"strict SPF alignment fails on a subdomain", "a@mail.strict.example", "x@strict.example", 0, "fail", dmarc.PolicyReject, DispositionReject, ""},
		{"relaxed SPF alignment passes on a subdomain", "a@mail.relaxed.example", "x@relaxed.example", 0, "pass", dmarc.PolicyReject, DispositionNone, ""},
		{"two records: none", "a@spf.example", "x@two.example", 0, "none", "", DispositionNone, ""},
		{"two records at a subdomain: none, no fallback", "a@spf.example", "x@sub.two.example", 0, "none", "", DispositionNone, ""},
		{"invalid record: none", "a@spf.example", "x@invalid.example", 0, "none", "", DispositionNone, ""},
		{"non-DMARC TXT ignored", "a@spf.example", "x@other.example", 0, "fail", dmarc.PolicyReject, DispositionReject, ""},
		{"SERVFAIL: temperror", "a@spf.example", "x@broken.example", 0, "temperror", "", DispositionNone, ""},
	} {
		draw = tc.draw
		res := w.check(message(tc.from), "x.example", tc.mailFrom)
		d := res.DMARC
		if d.Result != tc.result || d.Policy != tc.policy || d.Disposition != tc.dis || d.Override != tc.override {
			t.Errorf("%s: %+v (SPF %+v)", tc.name, d, res.SPF)
		}
	}

	// Enforcement off: recorded, not applied.
	w.opt.Enforce = false
	if d := w.check(message("x@reject.example"), "x.example", "a@spf.example").DMARC; d.Disposition != DispositionNone || d.Override != "local_policy" || d.Result != "fail" {
		t.Errorf("enforce off: %+v", d)
	}
}

// TestDMARCAuthor covers RFC 7489 6.6.1: the author domain must be one.
func TestDMARCAuthor(t *testing.T) {
	w := newWorld(t)
	w.dns.Add(t, `_dmarc.reject.example. TXT "v=DMARC1; p=reject"`)
	c := w.checker()
	for _, tc := range []struct {
		name, hdr string
		reject    bool
	}{
		{"two From fields", "From: a@reject.example\r\nFrom: b@other.example\r\n\r\n", true},
		{"two author domains", "From: a@reject.example, b@other.example\r\n\r\n", true},
		{"no From", "To: a@b.example\r\n\r\n", false},
		{"no address in From", "From: undisclosed:;\r\n\r\n", false},
		{"From not a hostname", "From: a@[192.0.2.1]\r\n\r\n", false},
	} {
		r := c.dmarc(context.Background(), ParseHeader([]byte(tc.hdr)), SPFResult{}, nil, ARCResult{})
		if r.Result != "permerror" {
			t.Errorf("%s: %+v", tc.name, r)
		}
		if v := c.Verdict(&Result{DMARC: r}); (v.Action == Reject) != tc.reject {
			t.Errorf("%s: verdict %+v", tc.name, v)
		}
	}
	// One From with one address and a display name is fine.
	r := c.dmarc(context.Background(), ParseHeader([]byte("From: \"Ann, the boss\" <a@reject.example>\r\n\r\n")), SPFResult{}, nil, ARCResult{})
	if r.Result != "fail" || r.FromDomain != "reject.example" {
		t.Errorf("display name with comma: %+v", r)
	}
}
