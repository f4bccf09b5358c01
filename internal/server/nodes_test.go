package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/imap"
	"mailroom/internal/mailtest"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
)

// What nodes share (docs/operations.md, "What nodes share"): tests with
// two `mailroom serve` on one PostgreSQL database (testrig.SecondNode,
// skipped on SQLite), and the import of an older data directory on both
// backends.

var nodeFactories = testrig.Factories{
	"smtp": smtp.Factory(smtp.Inbound), "submission": smtp.Factory(smtp.Submission), "imap": imap.Factory(),
}

// leaf returns the certificate a TLS listener presents.
func leaf(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, testrig.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// Every node presents the same self-signed certificate, which clients
// pinned on first use: the first node made it, the second took it.
func TestNodesPresentOneSelfSignedCertificate(t *testing.T) {
	a := testrig.Start(t, nodeFactories, testrig.Listen("imaps"))
	b := testrig.Start(t, nodeFactories, testrig.SecondNode(t, a), testrig.Listen("imaps"))
	la, lb := leaf(t, a.Addr("imaps")), leaf(t, b.Addr("imaps"))
	if !la.Equal(lb) {
		t.Fatalf("node A presents serial %v, node B serial %v", la.SerialNumber, lb.SerialNumber)
	}
	// And still after node B restarts.
	b.Restart()
	if !leaf(t, b.Addr("imaps")).Equal(la) {
		t.Fatal("node B presents another certificate after a restart")
	}
}

// A DKIM key generated through node A (as `mailroom domain add` there
// does) signs mail submitted on node B, whichever node's queue sends it.
func TestNodesSignWithKeysFromOtherNode(t *testing.T) {
	dns := mailtest.NewDNS(t)
	sink := dns.NewRemoteMX(t, "remote.test")
	port := sink.Port()
	cfg := testrig.Config(func(c *config.Config) {
		c.Auth.AllowInsecure = true
		c.Queue.RemotePort = port
		c.DNS.Servers = []string{dns.Addr}
	})
	a := testrig.Start(t, nodeFactories, testrig.Listen("submission"), cfg)
	b := testrig.Start(t, nodeFactories, testrig.SecondNode(t, a), testrig.Listen("submission"), cfg)
	a.Account("ann@example.test")
	keys, err := dkim.Generate(context.Background(), a.Store, testrig.Domain, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	c, err := gosmtp.Dial(b.Addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("laptop.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "ann@example.test", testrig.Password)); err != nil {
		t.Fatal(err)
	}
	msg := "From: ann@example.test\r\nTo: carol@remote.test\r\nSubject: signed\r\n\r\nHello.\r\n"
	if err := c.SendMail("ann@example.test", []string{"carol@remote.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	got := sink.WaitFor(t, 1, 20*time.Second)[0]
	records := map[string]string{}
	for _, r := range keys.Records() {
		records[r.Name] = r.Value
	}
	verifs, err := msgdkim.VerifyWithOptions(bytes.NewReader(got.Data), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := records[strings.TrimSuffix(name, ".")]; ok {
				return []string{v}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	for _, v := range verifs {
		if v.Err == nil && v.Domain == testrig.Domain {
			valid++
		}
	}
	if valid != 2 {
		t.Fatalf("%d valid signatures of %s with node A's keys (want Ed25519 and RSA); verifications %+v\n%s", valid, testrig.Domain, verifs, got.Data)
	}
}

// writePEM writes blocks to path.
func writePEM(t *testing.T, path string, blocks ...*pem.Block) {
	t.Helper()
	var buf bytes.Buffer
	for _, b := range blocks {
		pem.Encode(&buf, b)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An installation upgrading from a version that kept its self-signed
// certificate and DKIM keys in the data directory keeps both (clients
// trust the one, DNS publishes the others): serve imports them into the
// store, and leaves the files.
func TestUpgradeImportsDataDir(t *testing.T) {
	dir := t.TempDir()
	// The certificate the old version made.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(424242), Subject: pkix.Name{CommonName: "mail.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(200 * 24 * time.Hour),
		DNSNames:    []string{"mail.example.test", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	writePEM(t, filepath.Join(dir, "tls", "selfsigned.crt"), &pem.Block{Type: "CERTIFICATE", Bytes: der})
	writePEM(t, filepath.Join(dir, "tls", "selfsigned.key"), &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// Its DKIM key for example.test.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	writePEM(t, filepath.Join(dir, "dkim", "example.test", "mr202001r.rsa.pem"), &pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})

	r := testrig.Start(t, nodeFactories, testrig.Listen("imaps"), testrig.DataDir(dir))
	if got := leaf(t, r.Addr("imaps")); got.SerialNumber.Int64() != 424242 {
		t.Fatalf("serves serial %v, want the data directory's certificate", got.SerialNumber)
	}
	stored, err := r.Store.ReadFile(context.Background(), "dkim/example.test/mr202001r.rsa.pem")
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(stored); block == nil || !bytes.Equal(block.Bytes, rsaDER) {
		t.Fatal("the imported DKIM key differs from the data directory's")
	}
	if !strings.Contains(r.Log.String(), "imported") {
		t.Errorf("the import was not logged:\n%s", r.Log)
	}
	for _, f := range []string{"tls/selfsigned.crt", "tls/selfsigned.key", "dkim/example.test/mr202001r.rsa.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
