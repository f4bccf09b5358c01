package dkim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mailroom/internal/testrig/teststore"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

const testMessage = "Received: from client.example.org by mail.example.org\r\n" +
	"From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>\r\n" +
	"Subject: Lunch\r\n" +
	"Date: Wed, 15 Jul 2026 12:00:00 +0000\r\n" +
	"Message-ID: <lunch.1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hi Bob,\r\n" +
	"\r\n" +
	"noon at the usual place?\r\n" +
	"\r\n" +
	"Alice\r\n"

func testKeys(t testing.TB) *Keys {
	t.Helper()
	k, err := Generate(context.Background(), teststore.Open(t), "example.org", july2026)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, k *Keys, msg string) string {
	t.Helper()
	h, err := k.Sign(strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return h + msg
}

// verify checks the signatures of msg against k's published records, as
// a receiver would.
func verify(t *testing.T, k *Keys, msg io.Reader) []*dkim.Verification {
	t.Helper()
	txt := make(map[string]string)
	for _, r := range k.Records() {
		txt[r.Name] = r.Value
	}
	vs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			v, ok := txt[name]
			if !ok {
				return nil, fmt.Errorf("no TXT record for %s", name)
			}
			return []string{v}, nil
		},
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(vs) != 2 {
		t.Fatalf("Verify found %d signatures, want 2", len(vs))
	}
	return vs
}

func wantValid(t *testing.T, k *Keys, msg string) []*dkim.Verification {
	t.Helper()
	vs := verify(t, k, strings.NewReader(msg))
	for i, v := range vs {
		if v.Err != nil {
			t.Errorf("signature %d: %v", i, v.Err)
		}
	}
	return vs
}

func TestSignVerify(t *testing.T) {
	k := testKeys(t)
	hdr, err := k.Sign(strings.NewReader(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.SplitAfter(hdr, "\r\nDKIM-Signature:")
	if !strings.HasPrefix(hdr, "DKIM-Signature:") || !strings.HasSuffix(hdr, "\r\n") || len(fields) != 2 {
		t.Fatalf("Sign returned %q, want two CRLF-terminated DKIM-Signature fields", hdr)
	}
	for i, want := range []string{
		"a=ed25519-sha256;", "s=mr202607e;",
		"a=rsa-sha256;", "s=mr202607r;",
	} {
		if f := fields[i/2]; !strings.Contains(f, want) {
			t.Errorf("signature %d lacks %q: %q", i/2, want, f)
		}
	}
	if !strings.Contains(hdr, "c=relaxed/relaxed;") || !strings.Contains(hdr, "d=example.org;") {
		t.Errorf("signatures lack c=relaxed/relaxed or d=example.org: %q", hdr)
	}

	vs := wantValid(t, k, hdr+testMessage)
	want := []string{"From", "From", "Subject", "Date", "To", "Message-ID", "MIME-Version", "Content-Type"}
	for i, v := range vs {
		if v.Domain != "example.org" {
			t.Errorf("signature %d: domain %q, want example.org", i, v.Domain)
		}
		got := slices.Clone(v.HeaderKeys)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("signature %d signs %q, want %q", i, v.HeaderKeys, want)
		}
	}
}

func TestSignDetectsChanges(t *testing.T) {
	k := testKeys(t)
	signed := sign(t, k, testMessage)
	for _, tt := range []struct{ name, old, new string }{
		{"body", "noon", "one"},
		{"body appended", "Alice\r\n", "Alice\r\nP.S. bring cash\r\n"},
		{"From", "From: Alice <alice@example.org>", "From: Mallory <alice@example.org>"},
		{"Subject", "Subject: Lunch", "Subject: Dinner"},
		{"From added", "\r\nReceived:", "\r\nFrom: Mallory <mallory@example.org>\r\nReceived:"},
		{"From added at the end", "\r\n\r\nHi", "\r\nFrom: Mallory <mallory@example.org>\r\n\r\nHi"},
	} {
		msg := strings.Replace(signed, tt.old, tt.new, 1)
		if msg == signed {
			t.Fatalf("%s: test edit changed nothing", tt.name)
		}
		for i, v := range verify(t, k, strings.NewReader(msg)) {
			if v.Err == nil {
				t.Errorf("%s: signature %d still verifies", tt.name, i)
			} else if dkim.IsTempFail(v.Err) {
				t.Errorf("%s: signature %d: %v, want a verification failure", tt.name, i, v.Err)
			}
		}
	}
}

// Relaxed canonicalization lets the signatures survive the whitespace
// changes that relays make.
func TestSignRelaxed(t *testing.T) {
	k := testKeys(t)
	signed := sign(t, k, testMessage)
	for _, tt := range []struct{ name, old, new string }{
		{"header refolded", "Subject: Lunch", "Subject:\r\n\tLunch"},
		{"header spacing", "To: Bob <bob@example.net>", "To:   Bob   <bob@example.net>  "},
		{"header name case", "\r\nContent-Type:", "\r\ncontent-type:"},
		{"header space before colon", "\r\nDate:", "\r\nDate :"},
		{"trailing body whitespace", "usual place?", "usual place?  \t"},
		{"body spacing", "noon at", "noon \t at"},
		{"trailing empty lines", "Alice\r\n", "Alice\r\n\r\n\r\n"},
		{"trace field added", "DKIM-Signature:", "Received: from a by b\r\nDKIM-Signature:"},
		{"absent field added", "\r\n\r\nHi", "\r\nList-Id: <lunch.example.org>\r\n\r\nHi"},
	} {
		msg := strings.Replace(signed, tt.old, tt.new, 1)
		if msg == signed {
			t.Fatalf("%s: test edit changed nothing", tt.name)
		}
		for i, v := range verify(t, k, strings.NewReader(msg)) {
			if v.Err != nil {
				t.Errorf("%s: signature %d: %v", tt.name, i, v.Err)
			}
		}
	}
}

// A message with bare LF line ends hashes as its CRLF form does, which is
// what it becomes on the wire.
func TestSignLF(t *testing.T) {
	k := testKeys(t)
	lf := strings.ReplaceAll(testMessage, "\r\n", "\n")
	hdr, err := k.Sign(strings.NewReader(lf))
	if err != nil {
		t.Fatal(err)
	}
	wantValid(t, k, hdr+testMessage)
}

func TestSignHeaderOnly(t *testing.T) {
	k := testKeys(t)
	for _, msg := range []string{
		"From: alice@example.org\r\nSubject: empty\r\n",
		"From: alice@example.org\r\nSubject: empty",
	} {
		hdr, err := k.Sign(strings.NewReader(msg))
		if err != nil {
			t.Fatalf("Sign(%q): %v", msg, err)
		}
		// go-msgauth's verifier needs the empty line; an empty body is
		// hashed the same with it or without.
		full := strings.TrimSuffix(msg, "\r\n") + "\r\n\r\n"
		wantValid(t, k, hdr+full)
	}
}

func TestSignHeaderTooLarge(t *testing.T) {
	k := testKeys(t)
	msg := "From: alice@example.org\r\nX-Filler: " + strings.Repeat("x", maxHeader) + "\r\n\r\nbody\r\n"
	if _, err := k.Sign(strings.NewReader(msg)); !errors.Is(err, errHeaderTooLarge) {
		t.Errorf("Sign of a 1 MiB header: %v, want errHeaderTooLarge", err)
	}
}

func TestSignReadError(t *testing.T) {
	k := testKeys(t)
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(testMessage), iotestErrReader{boom})
	if _, err := k.Sign(r); !errors.Is(err, boom) {
		t.Errorf("Sign with a failing reader: %v, want it to wrap %v", err, boom)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestFieldsToSign(t *testing.T) {
	hdr := "From: a@example.org\r\n" +
		"from: b@example.org\r\n" +
		"To: c@example.org,\r\n" +
		" d@example.org\r\n" +
		"From : c@example.org\r\n" + // space before the colon
		"Received: x\r\n" +
		"CC: e@example.org\r\n" +
		"\r\n"
	got := fieldsToSign([]byte(hdr))
	want := []string{"From", "From", "From", "From", "To", "Cc"}
	if !slices.Equal(got, want) {
		t.Errorf("fieldsToSign = %q, want %q", got, want)
	}
	if got := fieldsToSign([]byte("Subject: x\r\n\r\n")); !slices.Equal(got, []string{"From", "Subject"}) {
		t.Errorf("fieldsToSign without From = %q, want From (so none can be added) and Subject", got)
	}
}

func TestRecords(t *testing.T) {
	k := testKeys(t)
	recs := k.Records()
	if len(recs) != 2 {
		t.Fatalf("Records returned %d records, want 2", len(recs))
	}
	ed, rs := recs[0], recs[1]
	if ed.Name != "mr202607e._domainkey.example.org" || rs.Name != "mr202607r._domainkey.example.org" {
		t.Errorf("record names %q, %q", ed.Name, rs.Name)
	}

	p, ok := strings.CutPrefix(ed.Value, "v=DKIM1; k=ed25519; p=")
	if !ok {
		t.Fatalf("Ed25519 record %q", ed.Value)
	}
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Ed25519.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(raw)) {
		t.Error("Ed25519 record does not hold the public key")
	}

	p, ok = strings.CutPrefix(rs.Value, "v=DKIM1; k=rsa; p=")
	if !ok {
		t.Fatalf("RSA record %q", rs.Value)
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("RSA record is not a SubjectPublicKeyInfo: %v", err)
	}
	if rpub, ok := pub.(*rsa.PublicKey); !ok || !rpub.Equal(&k.RSA.PublicKey) {
		t.Error("RSA record does not hold the public key")
	}
}

// A Keys with only one key signs with that one.
func TestSignOneKey(t *testing.T) {
	k := testKeys(t)
	k.RSA = nil
	hdr, err := k.Sign(strings.NewReader(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(hdr, "DKIM-Signature:"); n != 1 || !strings.Contains(hdr, "a=ed25519-sha256") {
		t.Errorf("Sign with only Ed25519 = %q", hdr)
	}
	if len(k.Records()) != 1 {
		t.Errorf("Records with only Ed25519 = %v", k.Records())
	}
	k.Ed25519 = nil
	if _, err := k.Sign(strings.NewReader(testMessage)); err == nil {
		t.Error("Sign without keys succeeded")
	}
}

// bigMessage streams a message of about size bytes without holding it,
// calling every(n) after each MiB it has produced.
type bigMessage struct {
	head  io.Reader
	left  int64
	line  string
	off   int
	done  int64
	every func(n int64)
}

func newBigMessage(size int64, every func(int64)) *bigMessage {
	return &bigMessage{
		head: strings.NewReader("From: alice@example.org\r\nTo: bob@example.net\r\n" +
			"Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n"),
		left:  size,
		line:  strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz ", 2) + "\r\n",
		every: every,
	}
}

func (m *bigMessage) Read(p []byte) (int, error) {
	if n, err := m.head.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if m.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), m.left)]
	n := 0
	for n < len(p) {
		c := copy(p[n:], m.line[m.off:])
		m.off = (m.off + c) % len(m.line)
		n += c
	}
	m.left -= int64(n)
	before := m.done
	m.done += int64(n)
	if m.every != nil && m.done>>20 != before>>20 {
		m.every(m.done)
	}
	return n, nil
}

func TestSignLargeMessageBoundedMemory(t *testing.T) {
	const size = 20 << 20
	k := testKeys(t)

	var ms runtime.MemStats
	live := func() uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := live()
	var peak uint64
	hdr, err := k.Sign(newBigMessage(size, func(int64) { peak = max(peak, live()) }))
	if err != nil {
		t.Fatal(err)
	}
	var growth uint64
	if peak > base {
		growth = peak - base
	}
	t.Logf("live heap grew by at most %d KiB while signing %d MiB", growth>>10, size>>20)
	// Holding the message would grow the heap by 20 MiB; what Sign needs
	// is its buffers, some tens of KiB.
	if growth > 1<<20 {
		t.Errorf("live heap grew by %d KiB while signing a %d MiB message", growth>>10, size>>20)
	}

	vs := verify(t, k, io.MultiReader(strings.NewReader(hdr), newBigMessage(size, nil)))
	for i, v := range vs {
		if v.Err != nil {
			t.Errorf("signature %d: %v", i, v.Err)
		}
	}
}

func BenchmarkSign10KB(b *testing.B) {
	k := testKeys(b)
	var body strings.Builder
	for body.Len() < 10<<10 {
		body.WriteString("The quick brown fox jumps over the lazy dog, again and again.\r\n")
	}
	msg := []byte(testMessage + body.String())
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}
