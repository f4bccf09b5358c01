package msgauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
)

var clientIP = netip.MustParseAddr("192.0.2.10")

// world is a loopback DNS server and a Checker asking it.
type world struct {
	t   testing.TB
	dns *mailtest.DNS
	opt Options
}

func newWorld(t *testing.T) *world {
	return &world{t: t, dns: mailtest.NewDNS(t), opt: Options{AuthservID: "mx.example.test", Enforce: true}}
}

func (w *world) checker() *Checker {
	return New(resolver.New([]string{w.dns.Addr}, 2*time.Second), w.opt)
}

// check runs every check on msg as if from clientIP.
func (w *world) check(msg []byte, helo, mailFrom string) *Result {
	w.t.Helper()
	hdr := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		hdr = msg[:i+4]
	}
	return w.checker().Check(context.Background(), Message{
		IP: clientIP, HELO: helo, MailFrom: mailFrom, Header: hdr,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(msg)), nil },
	})
}

// rsaKey makes an RSA key and publishes it as selector._domainkey.domain.
func (w *world) rsaKey(selector, domain string) *rsa.PrivateKey {
	w.t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		w.t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	w.publishKey(selector, domain, "rsa", der)
	return k
}

func (w *world) ed25519Key(selector, domain string) ed25519.PrivateKey {
	w.t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	w.publishKey(selector, domain, "ed25519", pub)
	return priv
}

// publishKey adds the key record, split in 255-byte strings as DNS needs.
func (w *world) publishKey(selector, domain, kind string, der []byte) {
	rec := "v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(rec) > 0 {
		n := min(200, len(rec))
		parts = append(parts, `"`+rec[:n]+`"`)
		rec = rec[n:]
	}
	w.dns.Add(w.t, selector+"._domainkey."+domain+". TXT "+strings.Join(parts, " "))
}

func sign(t testing.TB, msg []byte, domain, selector string, key crypto.Signer) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func message(from string) []byte {
	return []byte("From: Someone <" + from + ">\r\nTo: ann@example.test\r\nSubject: hello\r\n" +
		"Date: Sun, 06 Dec 2026 16:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nHello  there \r\n\r\n\r\n")
}

func TestSPF(t *testing.T) {
	w := newWorld(t)
	w.dns.Add(t,
		`pass.example. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`fail.example. TXT "v=spf1 ip4:198.51.100.1 -all"`,
		`soft.example. TXT "v=spf1 ~all"`,
		`mx.example. TXT "v=spf1 mx -all"`, `mx.example. MX 10 out.mx.example.`, `out.mx.example. A 192.0.2.10`,
		`norecord.example. A 192.0.2.1`,
		`two.example. TXT "v=spf1 -all"`, `two.example. TXT "v=spf1 +all"`,
		`helo.example. TXT "v=spf1 a -all"`, `helo.example. A 192.0.2.10`,
	)
	w.dns.Fail("broken.example", dns.RcodeServerFailure)
	for _, tc := range []struct {
		helo, from, want, identity string
	}{
		{"x.example", "a@pass.example", "pass", "mailfrom"},
		{"x.example", "a@fail.example", "fail", "mailfrom"},
		{"x.example", "a@soft.example", "softfail", "mailfrom"},
		{"x.example", "a@mx.example", "pass", "mailfrom"},
		{"x.example", "a@norecord.example", "none", "mailfrom"},
		{"x.example", "a@nxdomain.example", "none", "mailfrom"},
		{"x.example", "a@two.example", "permerror", "mailfrom"},
		{"x.example", "a@broken.example", "temperror", "mailfrom"},
		// The null sender: the HELO identity (RFC 7208 2.4).
		{"helo.example", "", "pass", "helo"},
		{"[192.0.2.10]", "", "none", "helo"},
	} {
		got := w.checker().spf(context.Background(), clientIP, tc.helo, tc.from)
		if got.Result != tc.want || got.Identity != tc.identity {
			t.Errorf("SPF for %q / HELO %q: %+v, want %s (%s)", tc.from, tc.helo, got, tc.want, tc.identity)
		}
	}
}

func TestDKIM(t *testing.T) {
	w := newWorld(t)
	rk := w.rsaKey("r1", "signer.example")
	ek := w.ed25519Key("e1", "signer.example")
	msg := sign(t, sign(t, message("a@signer.example"), "signer.example", "r1", rk), "signer.example", "e1", ek)
	res := w.check(msg, "x.example", "a@signer.example")
	if len(res.DKIM) != 2 || res.DKIM[0].Result != "pass" || res.DKIM[1].Result != "pass" {
		t.Fatalf("DKIM %+v", res.DKIM)
	}
	// ed25519 signed last, so its field is on top.
	if res.DKIM[0].Selector != "e1" || res.DKIM[1].Selector != "r1" || res.DKIM[0].B == "" || res.DKIM[0].Domain != "signer.example" {
		t.Fatalf("DKIM details %+v", res.DKIM)
	}
	// A changed body fails both; an unknown selector is a permerror; a
	// key lookup that fails for now is a temperror.
	bad := bytes.Replace(msg, []byte("Hello"), []byte("Jello"), 1)
	for _, d := range w.check(bad, "x.example", "").DKIM {
		if d.Result != "fail" {
			t.Fatalf("tampered body: %+v", d)
		}
	}
	nokey := sign(t, message("a@signer.example"), "signer.example", "missing", rk)
	if d := w.check(nokey, "x.example", "").DKIM; len(d) != 1 || d[0].Result != "permerror" {
		t.Fatalf("missing key: %+v", d)
	}
	w.dns.Fail("r1._domainkey.signer.example", dns.RcodeServerFailure)
	if d := w.check(sign(t, message("a@signer.example"), "signer.example", "r1", rk), "x.example", "").DKIM; len(d) != 1 || d[0].Result != "temperror" {
		t.Fatalf("SERVFAIL on key: %+v", d)
	}
	if d := w.check(message("a@signer.example"), "x.example", "").DKIM; d != nil {
		t.Fatalf("unsigned: %+v", d)
	}
}
