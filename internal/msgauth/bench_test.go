package msgauth

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"mailroom/internal/mailtest"
	"mailroom/internal/resolver"
)

// BenchmarkCheck measures all checks of one signed 10 KB message whose
// sender passes SPF, DKIM and DMARC, against a DNS server on loopback
// (no cache: every message asks again, as the MX does).
func BenchmarkCheck(b *testing.B) {
	w := &world{t: b, dns: mailtest.NewDNS(b), opt: Options{AuthservID: "mx.example.test", Enforce: true}}
	w.dns.Add(b, `signer.example. TXT "v=spf1 ip4:192.0.2.0/24 -all"`, `_dmarc.signer.example. TXT "v=DMARC1; p=reject"`,
		`10.2.0.192.in-addr.arpa. PTR mail.signer.example.`, `mail.signer.example. A 192.0.2.10`)
	k := w.rsaKey("s1", "signer.example")
	msg := message("a@signer.example")
	msg = append(msg[:len(msg)-2], []byte(strings.Repeat("0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefghij\r\n", 150))...)
	msg = sign(b, msg, "signer.example", "s1", k)
	hdr := msg[:bytes.Index(msg, []byte("\r\n\r\n"))+4]
	c := New(resolver.New([]string{w.dns.Addr}, 2*time.Second), w.opt)
	b.ResetTimer()
	for range b.N {
		r := c.Check(context.Background(), Message{IP: clientIP, HELO: "mail.signer.example", MailFrom: "b@signer.example", Header: hdr,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(msg)), nil }})
		if r.DMARC.Result != "pass" {
			b.Fatalf("DMARC %+v", r.DMARC)
		}
	}
}
