package smtp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"mailroom/internal/config"
	"mailroom/internal/mailtest"
)

// The MX's sender checks, end to end: a real client on loopback sends to
// the real server, whose DNS is a loopback server holding the senders'
// SPF, DKIM and DMARC records. The client's address is 127.0.0.1.

// publishKey makes a key of the given kind and publishes it in d.
func publishKey(t *testing.T, d *mailtest.DNS, selector, domain, kind string) crypto.Signer {
	t.Helper()
	var signer crypto.Signer
	var der []byte
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ = x509.MarshalPKIXPublicKey(&k.PublicKey)
		signer = k
	case "ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, signer = pub, priv
	}
	rec := "v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(rec) > 0 {
		n := min(200, len(rec))
		parts = append(parts, `"`+rec[:n]+`"`)
		rec = rec[n:]
	}
	d.Add(t, selector+"._domainkey."+domain+". TXT "+strings.Join(parts, " "))
	return signer
}

func dkimSign(t *testing.T, msg, domain, selector string, key crypto.Signer) string {
	t.Helper()
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: key}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func fromMsg(from, subject string) string {
	return "From: Sender <" + from + ">\r\nTo: ann@example.test\r\nSubject: " + subject +
		"\r\nDate: Sun, 06 Dec 2026 16:00:00 +0000\r\nMessage-ID: <" + subject + "@x>\r\n\r\nHello " + subject + "\r\n"
}

// authResults returns the stored message's Authentication-Results field
// of ours, unfolded.
func authResults(t *testing.T, stored string) string {
	t.Helper()
	i := strings.Index(stored, "Authentication-Results: mx.example.test;")
	if i < 0 {
		t.Fatalf("no Authentication-Results of ours in\n%s", stored)
	}
	end := i + strings.Index(stored[i:], "\r\n")
	for strings.HasPrefix(stored[end:], "\r\n\t") {
		end += 2 + strings.Index(stored[end+2:], "\r\n")
	}
	return strings.ReplaceAll(stored[i:end], "\r\n\t", " ")
}

func TestSignedMessagePassesAndIsRecorded(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.DNS.Add(t, `remote.example. TXT "v=spf1 ip4:127.0.0.1 -all"`, `_dmarc.remote.example. TXT "v=DMARC1; p=reject"`,
		`1.0.0.127.in-addr.arpa. PTR client.example.org.`, `client.example.org. A 127.0.0.1`)
	rk := publishKey(t, r.DNS, "sel", "remote.example", "rsa")
	ek := publishKey(t, r.DNS, "ed", "remote.example", "ed25519")
	c := r.dial(r.Addr("smtp"))
	signed := dkimSign(t, dkimSign(t, fromMsg("sender@remote.example", "signed"), "remote.example", "sel", rk), "remote.example", "ed", ek)
	if err := send(c, "sender@remote.example", []string{"ann@example.test"}, signed); err != nil {
		t.Fatal(err)
	}
	got := r.Bodies("ann@example.test", "INBOX")
	if len(got) != 1 {
		t.Fatalf("%d messages in INBOX", len(got))
	}
	// After our Received field, before the message's own fields.
	if !regexp.MustCompile(`^Return-Path: <sender@remote.example>\r\nDelivered-To: ann@example.test\r\nReceived: from client.example.org [^\r]*(\r\n\t[^\r]*)*\r\nAuthentication-Results: mx.example.test;\r\n\t`).MatchString(got[0]) {
		t.Fatalf("Authentication-Results not after the trace field:\n%s", got[0])
	}
	ar := authResults(t, got[0])
	for _, want := range []string{
		"spf=pass smtp.mailfrom=sender@remote.example",
		"dkim=pass header.d=remote.example header.s=ed header.b=",
		"dkim=pass header.d=remote.example header.s=sel header.b=",
		"dmarc=pass (p=reject dis=none) header.from=remote.example",
		"arc=none", "iprev=pass (client.example.org) policy.iprev=127.0.0.1", "helo pass",
	} {
		if !strings.Contains(ar, want) {
			t.Errorf("Authentication-Results lacks %q: %s", want, ar)
		}
	}
	if n := strings.Count(got[0], "Authentication-Results:"); n != 1 {
		t.Errorf("%d Authentication-Results fields", n)
	}
}

func TestDMARCPolicyAtData(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	r.DNS.Add(t,
		`remote.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.bank.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.shop.example. TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.trial.example. TXT "v=DMARC1; p=quarantine; pct=0"`,
		`_dmarc.corp.example. TXT "v=DMARC1; p=none; sp=reject"`,
	)
	r.DNS.Fail("_dmarc.flaky.example", dns.RcodeServerFailure)
	c := r.dial(r.Addr("smtp"))

	// A forged From of a p=reject domain: 550 5.7.1 at the end of DATA,
	// nothing stored anywhere, and the session goes on.
	err := send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("ceo@bank.example", "forged"))
	wantCode(t, err, 550, "5.7.1")
	c.Reset()
	// A subdomain of a p=none domain with sp=reject: the org domain's
	// record applies, with its subdomain policy.
	err = send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("x@mail.corp.example", "subdomain"))
	wantCode(t, err, 550, "5.7.1")
	c.Reset()
	// p=quarantine: delivered to Junk.
	if err := send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("deals@shop.example", "quarantined")); err != nil {
		t.Fatal(err)
	}
	// pct=0: the policy is sampled out, INBOX.
	if err := send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("a@trial.example", "sampled")); err != nil {
		t.Fatal(err)
	}
	// DNS failing for the DMARC record: temperror, accepted (RFC 7489 6.6.3).
	if err := send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("a@flaky.example", "flaky")); err != nil {
		t.Fatal(err)
	}
	inbox, junk := r.Bodies("ann@example.test", "INBOX"), r.Bodies("ann@example.test", "Junk")
	if len(junk) != 1 || !strings.Contains(junk[0], "Hello quarantined") {
		t.Fatalf("Junk holds %d messages:\n%s", len(junk), strings.Join(junk, "\n----\n"))
	}
	if ar := authResults(t, junk[0]); !strings.Contains(ar, "dmarc=fail (p=quarantine dis=quarantine) header.from=shop.example") {
		t.Errorf("quarantined: %s", ar)
	}
	if len(inbox) != 2 || !strings.Contains(inbox[0], "Hello sampled") || !strings.Contains(inbox[1], "Hello flaky") {
		t.Fatalf("INBOX holds %d messages", len(inbox))
	}
	if ar := authResults(t, inbox[0]); !strings.Contains(ar, "dmarc=fail (p=quarantine dis=none override=sampled_out)") {
		t.Errorf("sampled out: %s", ar)
	}
	if ar := authResults(t, inbox[1]); !strings.Contains(ar, "dmarc=temperror") {
		t.Errorf("SERVFAIL: %s", ar)
	}
	for _, m := range append(inbox, junk...) {
		if strings.Contains(m, "Hello forged") || strings.Contains(m, "Hello subdomain") {
			t.Fatal("a refused message was stored")
		}
	}
	// Two From fields: refused (ambiguous author, RFC 7489 6.6.1).
	c.Reset()
	two := "From: a@remote.example\r\nFrom: ceo@bank.example\r\nSubject: two\r\n\r\nx\r\n"
	wantCode(t, send(c, "someone@remote.example", []string{"ann@example.test"}, two), 550, "5.7.1")
}

func TestDMARCEnforcementSwitches(t *testing.T) {
	r := newRig(t, func(c *config.Config) {
		c.SMTP.DMARCEnforce = false
		c.SMTP.DMARCTempError = "defer"
	})
	r.Account("ann@example.test")
	r.DNS.Add(t, `_dmarc.bank.example. TXT "v=DMARC1; p=reject"`)
	r.DNS.Fail("_dmarc.flaky.example", dns.RcodeServerFailure)
	c := r.dial(r.Addr("smtp"))
	// Enforcement off: recorded, delivered.
	if err := send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("ceo@bank.example", "recorded")); err != nil {
		t.Fatal(err)
	}
	inbox := r.Bodies("ann@example.test", "INBOX")
	if len(inbox) != 1 || !strings.Contains(authResults(t, inbox[0]), "dmarc=fail (p=reject dis=none override=local_policy)") {
		t.Fatalf("INBOX %q", inbox)
	}
	// dmarc_temperror = "defer": a temporary reply, never a 5xx.
	wantCode(t, send(c, "someone@remote.example", []string{"ann@example.test"}, fromMsg("a@flaky.example", "later")), 451, "4.4.3")
}

func TestOwnAuthResultsRemoved(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	c := r.dial(r.Addr("smtp"))
	msg := "Authentication-Results: mx.example.test; dkim=pass header.d=bank.example; dmarc=pass\r\n" +
		"Authentication-Results: relay.other.example; spf=pass smtp.mailfrom=a@remote.example\r\n" +
		"Authentication-Results: (comment)\r\n mx.example.test;\r\n\tspf=pass\r\n" + fromMsg("a@remote.example", "claims")
	if err := send(c, "a@remote.example", []string{"ann@example.test"}, msg); err != nil {
		t.Fatal(err)
	}
	got := r.Bodies("ann@example.test", "INBOX")[0]
	if strings.Contains(got, "header.d=bank.example") || strings.Contains(got, "(comment)") {
		t.Fatalf("forged results of ours kept:\n%s", got)
	}
	if !strings.Contains(got, "Authentication-Results: relay.other.example; spf=pass smtp.mailfrom=a@remote.example\r\n") {
		t.Fatalf("another server's results removed:\n%s", got)
	}
	if n := strings.Count(got, "Authentication-Results: mx.example.test;"); n != 1 {
		t.Fatalf("%d of our fields", n)
	}

	// Submission: auth=pass, and the same removal.
	r.Account("bob@example.test")
	s := r.login("bob@example.test")
	sub := "Authentication-Results: mx.example.test; dkim=pass\r\nFrom: bob@example.test\r\nTo: ann@example.test\r\nSubject: sub\r\n\r\nhi\r\n"
	if err := send(s, "bob@example.test", []string{"ann@example.test"}, sub); err != nil {
		t.Fatal(err)
	}
	got = r.Bodies("ann@example.test", "INBOX")[1]
	if ar := authResults(t, got); ar != "Authentication-Results: mx.example.test; auth=pass smtp.auth=bob@example.test" || strings.Count(got, "Authentication-Results:") != 1 {
		t.Fatalf("submission:\n%s", got)
	}
}

// TestARCTrustedForwarder: a mailing list re-sends a message whose author
// domain has p=reject; the list's changes break DKIM and its address
// breaks SPF alignment, so DMARC fails. Its ARC seal (made by dkimpy)
// passes, and the list is trusted: delivered. Untrusted: refused.
func TestARCTrustedForwarder(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		r := newRig(t, func(c *config.Config) {
			if trusted {
				c.SMTP.ARCTrustedSealers = []string{"lists.example"}
			}
		})
		r.Account("ann@example.test")
		r.DNS.Add(t, `_dmarc.bank.example. TXT "v=DMARC1; p=reject"`, `lists.example. TXT "v=spf1 ip4:127.0.0.1 -all"`)
		k := publishKey(t, r.DNS, "arc", "lists.example", "rsa").(*rsa.PrivateKey)
		orig := fromMsg("ceo@bank.example", "via-list")
		atList := "Authentication-Results: lists.example; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example\r\n" +
			strings.Replace(orig, "Subject: via-list", "Subject: [list] via-list", 1)
		sealed := mailtest.ARCSeal(t, []byte(atList), "lists.example", "arc", k, "lists.example")
		c := r.dial(r.Addr("smtp"))
		err := send(c, "list-bounces@lists.example", []string{"ann@example.test"}, string(sealed))
		if !trusted {
			wantCode(t, err, 550, "5.7.1")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ar := authResults(t, r.Bodies("ann@example.test", "INBOX")[0])
		for _, want := range []string{"arc=pass (i=1 sealer=lists.example)", "dmarc=fail (p=reject dis=none override=trusted_forwarder) header.from=bank.example", "spf=pass"} {
			if !strings.Contains(ar, want) {
				t.Errorf("lacks %q: %s", want, ar)
			}
		}
	}
}

func TestDNSBLListedGoesToJunk(t *testing.T) {
	r := newRig(t, func(c *config.Config) { c.SMTP.DNSBL = []string{"bl.example", "clean.example"} })
	r.Account("ann@example.test")
	r.DNS.Add(t, `1.0.0.127.bl.example. A 127.0.0.2`, `1.0.0.127.bl.example. TXT "spam source, see https://bl.example/"`)
	c := r.dial(r.Addr("smtp"))
	if err := send(c, "a@remote.example", []string{"ann@example.test"}, fromMsg("a@remote.example", "listed")); err != nil {
		t.Fatal(err)
	}
	junk := r.Bodies("ann@example.test", "Junk")
	if len(junk) != 1 || len(r.Bodies("ann@example.test", "INBOX")) != 0 {
		t.Fatalf("Junk %d, want the message there", len(junk))
	}
	if !strings.Contains(junk[0], "X-Mailroom-DNSBL: bl.example listed=127.0.0.2 reason=\"spam source, see https://bl.example/\";\r\n\tclean.example not-listed\r\n") {
		t.Fatalf("no blocklist record:\n%s", junk[0])
	}
	if !strings.Contains(r.Log.String(), "dnsbl=bl.example") {
		t.Error("the quarantine reason is not logged")
	}
}

// TestInboundHeaderBounded: the MX reads the header block into memory to
// check it, so it bounds it (1 MiB) like submission: 552, nothing stored,
// and the session goes on.
func TestInboundHeaderBounded(t *testing.T) {
	r := newRig(t, nil)
	r.Account("ann@example.test")
	c := r.dial(r.Addr("smtp"))
	huge := strings.Repeat("X-Filler: "+strings.Repeat("x", 990)+"\r\n", 1100) + fromMsg("a@remote.example", "huge")
	wantCode(t, send(c, "a@remote.example", []string{"ann@example.test"}, huge), 552, "5.3.4")
	c.Reset()
	if err := send(c, "a@remote.example", []string{"ann@example.test"}, fromMsg("a@remote.example", "small")); err != nil {
		t.Fatal(err)
	}
	if got := r.Bodies("ann@example.test", "INBOX"); len(got) != 1 || !strings.Contains(got[0], "Hello small") {
		t.Fatalf("INBOX holds %d messages", len(got))
	}
}
