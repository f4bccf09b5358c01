package selfcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/mailtest"
	"mailroom/internal/mtasts"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/testrig/teststore"
)

func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }

const (
	host   = "mail.example.org"
	domain = "example.org"
)

// pki is a root and an intermediate CA, as public CAs issue from.
type pki struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
	pool              *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	p := &pki{}
	now := time.Now()
	month := 30 * 24 * time.Hour
	p.root, p.rootKey = makeCert(t, "Test Root", nil, nil, now.Add(-2*month), now.Add(10*365*24*time.Hour), true, nil)
	p.inter, p.interKey = makeCert(t, "Test Intermediate", p.root, p.rootKey, now.Add(-2*month), now.Add(5*365*24*time.Hour), true, nil)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.root)
	return p
}

func makeCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, from, until time.Time, ca bool, names []string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: from, NotAfter: until, BasicConstraintsValid: true, IsCA: ca,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// leaf issues a server certificate from the intermediate, valid from an
// hour ago for the given time.
func (p *pki) leaf(t *testing.T, valid time.Duration, names ...string) (*x509.Certificate, *ecdsa.PrivateKey) {
	now := time.Now()
	return makeCert(t, names[0], p.inter, p.interKey, now.Add(-time.Hour), now.Add(valid), false, names)
}

// writeChain writes the PEM chain (and key) files and returns their paths.
func writeChain(t *testing.T, key *ecdsa.PrivateKey, chain ...*x509.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for _, c := range chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	certFile, keyFile = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// freeAddr is a loopback address nothing listens on (at the time).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// world is an installation as the checks see it: a store with example.org
// and its DKIM keys, a configuration, a DNS server, and the MTA-STS
// policy served over HTTPS by the real handler.
type world struct {
	cfg        config.Config
	st         Store
	files      store.SharedFiles // the store under st
	dns        *mailtest.DNS
	pki        *pki
	keys       []dkim.TXTRecord
	mtastsPort int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	st := teststore.Open(t)
	if _, err := st.CreateDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	keys, err := dkim.Generate(ctx, st, domain, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: StoreOf(st), files: st, dns: mailtest.NewDNS(t), pki: newPKI(t), keys: keys.Records()}
	w.cfg = config.Default()
	w.cfg.Hostname = host
	w.cfg.DataDir = t.TempDir()
	w.cfg.Listen = config.Listen{IMAP: freeAddr(t), HTTPS: freeAddr(t)}
	leaf, key := w.pki.leaf(t, 90*24*time.Hour, host, "mta-sts."+domain, "autoconfig."+domain, "autodiscover."+domain)
	w.cfg.TLS.CertFile, w.cfg.TLS.KeyFile = writeChain(t, key, leaf, w.pki.inter)

	// The policy host, as a sender reaches it: mta-sts.example.org
	// resolves to 127.0.0.1, and the port is the test's.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.mtastsPort = l.Addr().(*net.TCPAddr).Port
	pleaf, pkey := w.pki.leaf(t, 90*24*time.Hour, "mta-sts."+domain)
	srv := &http.Server{
		Handler: mtasts.Handler(mtasts.FromConfig(w.cfg), func(context.Context, string) (bool, error) { return true, nil }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{
			Certificate: [][]byte{pleaf.Raw, w.pki.inter.Raw}, PrivateKey: pkey, Leaf: pleaf}}},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return w
}

// zone is the correct zone of example.org, keyed so that variants can
// leave out or replace one entry.
func (w *world) zone() map[string][]string {
	z := map[string][]string{
		"A":          {host + ". A 127.0.0.1"},
		"PTR":        {"1.0.0.127.in-addr.arpa. PTR " + host + "."},
		"MX":         {domain + ". MX 10 " + host + "."},
		"SPF":        {domain + `. TXT "v=spf1 mx ~all"`},
		"DMARC":      {"_dmarc." + domain + `. TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org"`},
		"MTA-STS":    {"_mta-sts." + domain + `. TXT "` + mtasts.FromConfig(w.cfg).Record() + `"`},
		"mta-sts":    {"mta-sts." + domain + ". CNAME " + host + "."},
		"TLS-RPT":    {"_smtp._tls." + domain + `. TXT "v=TLSRPTv1; rua=mailto:postmaster@example.org"`},
		"autoconfig": {"autoconfig." + domain + ". CNAME " + host + "."},
		"autodiscover": {"autodiscover." + domain + ". CNAME " + host + ".",
			"_autodiscover._tcp." + domain + ". SRV 0 1 " + portOf(w.cfg.Listen.HTTPS) + " " + host + "."},
		"SRV imap": {"_imap._tcp." + domain + ". SRV 0 1 " + portOf(w.cfg.Listen.IMAP) + " " + host + "."},
		"SRV jmap": {"_jmap._tcp." + domain + ". SRV 0 1 " + portOf(w.cfg.Listen.HTTPS) + " " + host + "."},
	}
	for i, k := range w.keys {
		z["DKIM"+string(rune('0'+i))] = []string{k.Name + ". TXT " + quoteTXT(k.Value)}
	}
	return z
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// quoteTXT splits a TXT value into strings of at most 255 octets.
func quoteTXT(s string) string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, `"`+s[:255]+`"`)
		s = s[255:]
	}
	return strings.Join(append(parts, `"`+s+`"`), " ")
}

func (w *world) options(dns *mailtest.DNS) Options {
	return Options{
		Config:      w.cfg,
		Store:       w.st,
		Resolver:    newResolver(dns),
		MTASTSPort:  w.mtastsPort,
		RootCAs:     w.pki.pool,
		DialTimeout: 2 * time.Second,
	}
}
