package remote

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"mailroom/internal/mailtest"
	"mailroom/internal/mtasts"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/tlsrpt"
)

// policyLab is the world of a destination with transport security
// policies: DNS that can vouch for answers (the AD bit), an HTTPS server
// for the MTA-STS policy, sinks with certificates on 127.0.0.2 and up, and
// a TLS-RPT recorder that collects what the client reports.
type policyLab struct {
	t     *testing.T
	dns   *mailtest.DNS
	ca    *mailtest.CA
	port  int // SMTP port of every MX host
	held  *heldPort
	files mtasts.Files // the policy cache
	rec   *tlsrpt.Recorder

	web     *httptest.Server
	webPort int
	mu      sync.Mutex
	policy  string
}

func newPolicyLab(t *testing.T) *policyLab {
	t.Helper()
	held := holdPort(t)
	l := &policyLab{t: t, ca: mailtest.NewCA(t), port: held.port, held: held, files: openPolicyStore(t)}
	l.rec = tlsrpt.NewRecorder(nil, nil, nil)
	l.web = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if r.Host != "mta-sts.dest.test" || r.URL.Path != "/.well-known/mta-sts.txt" || l.policy == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(l.policy))
	}))
	l.web.TLS = &tls.Config{Certificates: []tls.Certificate{l.ca.Issue(t, "mta-sts.dest.test")}}
	l.web.StartTLS()
	t.Cleanup(l.web.Close)
	l.webPort = l.web.Listener.Addr().(*net.TCPAddr).Port
	l.dns = l.zone()
	return l
}

// zone returns a new DNS server with the destination's base records: a
// test swaps zones to change records a client already looked up.
func (l *policyLab) zone(extra ...string) *mailtest.DNS {
	d := mailtest.NewDNS(l.t)
	d.Add(l.t, "dest.test. MX 10 mx.dest.test.", "mta-sts.dest.test. A 127.0.0.1")
	d.Add(l.t, extra...)
	return d
}

func (l *policyLab) setPolicy(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.policy = p
}

// sink starts an SMTP server on ip presenting cert.
func (l *policyLab) sink(ip string, cert tls.Certificate) *mailtest.Sink {
	l.held.release(ip)
	return mailtest.NewSink(l.t, net.JoinHostPort(ip, strconv.Itoa(l.port)), mailtest.WithTLS(cert))
}

func (l *policyLab) client() *Client {
	return New(Config{
		Hostname:   "out.sender.test",
		DNSServers: []string{l.dns.Addr},
		Port:       l.port,
		TLS:        &tls.Config{RootCAs: l.ca.Pool},
		Timeouts: Timeouts{
			Connect: 2 * time.Second, Greeting: 2 * time.Second, Mail: 2 * time.Second,
			Rcpt: 2 * time.Second, Data: 2 * time.Second, DataBlock: 2 * time.Second,
			DataEnd: 2 * time.Second, DNS: 500 * time.Millisecond,
		},
		Logger:     slog.New(slog.NewTextHandler(l.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Policies:   l.files,
		HTTPSPort:  l.webPort,
		TLSReports: l.rec,
	})
}

func (l *policyLab) deliver(c *Client) Result {
	l.t.Helper()
	res := c.Deliver(context.Background(), "dest.test", message(testBody, "rcpt@dest.test"))
	if len(res) != 1 {
		l.t.Fatalf("%d results", len(res))
	}
	return res[0]
}

// policies returns what the recorder holds for dest.test today.
func (l *policyLab) policies() []*tlsrpt.PolicyRecord {
	if d := l.rec.Today().Domains["dest.test"]; d != nil {
		return d.Policies
	}
	return nil
}

// wantRecorded checks that the recorder has a policy of type kind with the
// given success count and a failure of result type failure (if not "").
func (l *policyLab) wantRecorded(kind string, success int64, failure string) {
	l.t.Helper()
	for _, p := range l.policies() {
		if p.Type != kind {
			continue
		}
		if p.Success != success {
			l.t.Errorf("%s policy: %d successful sessions recorded, want %d", kind, p.Success, success)
		}
		if failure == "" {
			if p.Failure != 0 {
				l.t.Errorf("%s policy: failures recorded: %+v", kind, p.Details[0])
			}
			return
		}
		for _, d := range p.Details {
			if d.ResultType == failure && d.Count > 0 {
				return
			}
		}
		l.t.Errorf("%s policy: no %s failure recorded (%d failures)", kind, failure, p.Failure)
		return
	}
	l.t.Errorf("no %s policy recorded for dest.test: %+v", kind, l.policies())
}

const (
	enforceMX  = "version: STSv1\nmode: enforce\nmx: mx.dest.test\nmax_age: 86400\n"
	testingMX  = "version: STSv1\nmode: testing\nmx: mx.dest.test\nmax_age: 86400\n"
	enforceMX2 = "version: STSv1\nmode: enforce\nmx: mx2.dest.test\nmax_age: 86400\n"
	stsRecord  = `_mta-sts.dest.test. TXT "v=STSv1; id=1"`
)

func TestMTASTSEnforceValidCertificate(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(enforceMX)
	s := l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	r := l.deliver(l.client())
	if !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered over TLS", r)
	}
	if m := s.WaitFor(t, 1, 2*time.Second); !m[0].TLS {
		t.Error("the sink received the message in plaintext")
	}
	l.wantRecorded(tlsrpt.PolicySTS, 1, "")
}

func TestMTASTSEnforceCertificateMismatch(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(enforceMX)
	s := l.sink("127.0.0.2", l.ca.Issue(t, "www.dest.test"))
	r := l.deliver(l.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.5", Text: "certificate"})
	if n := len(s.Received()); n != 0 {
		t.Errorf("the sink received %d messages; enforce must not fall back to plaintext", n)
	}
	l.wantRecorded(tlsrpt.PolicySTS, 0, tlsrpt.ResultCertificateHostMismatch)
}

func TestMTASTSEnforceUnlistedMX(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(enforceMX2)
	s := l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	r := l.deliver(l.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.5", Text: "does not match the MTA-STS policy"})
	if n := len(s.Received()); n != 0 {
		t.Errorf("the sink received %d messages from a host the policy does not list", n)
	}
	l.wantRecorded(tlsrpt.PolicySTS, 0, tlsrpt.ResultValidationFailure)
}

func TestMTASTSEnforcePrefersListedMX(t *testing.T) {
	l := newPolicyLab(t)
	// The unlisted host is preferred; mail must go to the listed backup.
	l.dns.Add(t, "dest.test. MX 20 mx2.dest.test.", "mx.dest.test. A 127.0.0.2", "mx2.dest.test. A 127.0.0.3", stsRecord)
	l.setPolicy(enforceMX2)
	bad := l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	good := l.sink("127.0.0.3", l.ca.Issue(t, "mx2.dest.test"))
	if r := l.deliver(l.client()); !r.Delivered || r.RemoteMTA != "mx2.dest.test" {
		t.Fatalf("result %+v, want delivered to mx2.dest.test", r)
	}
	if len(bad.Received()) != 0 || len(good.Received()) != 1 {
		t.Errorf("unlisted host got %d messages, listed one %d", len(bad.Received()), len(good.Received()))
	}
}

func TestMTASTSTestingDeliversAndReports(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(testingMX)
	s := l.sink("127.0.0.2", mailtest.SelfSigned(t, "mx.dest.test"))
	r := l.deliver(l.client())
	if !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered over (unverified) TLS", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
	l.wantRecorded(tlsrpt.PolicySTS, 0, tlsrpt.ResultCertificateNotTrusted)
}

func TestMTASTSCachedPolicyWhenServerDown(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(enforceMX)
	l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	if r := l.deliver(l.client()); !r.Delivered {
		t.Fatalf("first delivery: %+v", r)
	}
	// The policy server goes away and the MX now presents a certificate
	// no CA signed. After a restart (a new client on the same cache
	// directory) the cached enforce policy still holds the mail back;
	// without it the mail would go out over unverified TLS.
	// The record even announces a new id: the fetch fails, and the
	// cached policy stands in (RFC 8461 section 5.1).
	l.web.Close()
	l.dns = l.zone("mx.dest.test. A 127.0.0.3", `_mta-sts.dest.test. TXT "v=STSv1; id=2"`)
	bad := l.sink("127.0.0.3", mailtest.SelfSigned(t, "mx.dest.test"))
	r := l.deliver(l.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.5"})
	if n := len(bad.Received()); n != 0 {
		t.Errorf("the untrusted MX received %d messages", n)
	}
}

func TestMTASTSNewIDRefetches(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(enforceMX)
	l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	c := l.client()
	if r := l.deliver(c); !r.Delivered {
		t.Fatalf("first delivery: %+v", r)
	}
	// The domain moves to testing mode and a self-signed MX, and says so
	// with a new id: the policy is fetched again and the mail goes.
	l.setPolicy(testingMX)
	l.dns = l.zone("mx.dest.test. A 127.0.0.3", `_mta-sts.dest.test. TXT "v=STSv1; id=2"`)
	s := l.sink("127.0.0.3", mailtest.SelfSigned(t, "mx.dest.test"))
	if r := l.deliver(l.client()); !r.Delivered {
		t.Fatalf("after the id changed: %+v, want delivered under the new testing policy", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
}

// spkiSHA256 is the "3 1 1" association data of a certificate.
func spkiSHA256(cert tls.Certificate) string {
	sum := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func (l *policyLab) tlsa(usage, selector, mtype int, data string) string {
	return "_" + strconv.Itoa(l.port) + "._tcp.mx.dest.test. TLSA " + strconv.Itoa(usage) + " " +
		strconv.Itoa(selector) + " " + strconv.Itoa(mtype) + " " + data
}

func (l *policyLab) secure() {
	l.dns.Secure("dest.test", "mx.dest.test", "_"+strconv.Itoa(l.port)+"._tcp.mx.dest.test")
}

func TestDANEEE(t *testing.T) {
	l := newPolicyLab(t)
	cert := mailtest.SelfSigned(t, "whatever.example") // DANE-EE ignores names
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", l.tlsa(3, 1, 1, spkiSHA256(cert)))
	l.secure()
	s := l.sink("127.0.0.2", cert)
	r := l.deliver(l.client())
	if !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered over TLS", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
	l.wantRecorded(tlsrpt.PolicyTLSA, 1, "")
}

func TestDANEMismatch(t *testing.T) {
	l := newPolicyLab(t)
	other := mailtest.SelfSigned(t, "mx.dest.test")
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", l.tlsa(3, 1, 1, spkiSHA256(other)))
	l.secure()
	s := l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test")) // valid for PKIX, but not the key DNS names
	r := l.deliver(l.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.5", Text: "TLSA"})
	if n := len(s.Received()); n != 0 {
		t.Errorf("the sink received %d messages despite the DANE mismatch", n)
	}
	l.wantRecorded(tlsrpt.PolicyTLSA, 0, tlsrpt.ResultValidationFailure)
}

func TestDANEUnauthenticatedIgnored(t *testing.T) {
	l := newPolicyLab(t)
	other := mailtest.SelfSigned(t, "mx.dest.test")
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", l.tlsa(3, 1, 1, spkiSHA256(other)))
	// No Secure: an attacker could have forged these records.
	s := l.sink("127.0.0.2", mailtest.SelfSigned(t, "mx.dest.test"))
	if r := l.deliver(l.client()); !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered with opportunistic TLS", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
	l.wantRecorded(tlsrpt.PolicyNone, 1, "")
}

func TestDANETA(t *testing.T) {
	l := newPolicyLab(t)
	sum := sha256.Sum256(l.ca.Cert.Raw)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", l.tlsa(2, 0, 1, hex.EncodeToString(sum[:])))
	l.secure()
	// Clients need not trust the CA: the TLSA record makes it the anchor.
	s := l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	c := l.client()
	c.tls = nil
	if r := l.deliver(c); !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered over TLS", r)
	}
	s.WaitFor(t, 1, 2*time.Second)

	// The same anchor does not vouch for a certificate naming another host.
	l2 := newPolicyLab(t)
	sum = sha256.Sum256(l2.ca.Cert.Raw)
	l2.dns.Add(t, "mx.dest.test. A 127.0.0.2", l2.tlsa(2, 0, 1, hex.EncodeToString(sum[:])))
	l2.secure()
	s2 := l2.sink("127.0.0.2", l2.ca.Issue(t, "mx.other.test"))
	r := l2.deliver(l2.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.5"})
	if len(s2.Received()) != 0 {
		t.Error("a DANE-TA chain for another name was accepted")
	}
}

func TestDANETakesPrecedenceOverMTASTS(t *testing.T) {
	l := newPolicyLab(t)
	cert := mailtest.SelfSigned(t, "mx.dest.test") // fails MTA-STS's PKIX check
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord, l.tlsa(3, 1, 1, spkiSHA256(cert)))
	l.secure()
	l.setPolicy(enforceMX)
	s := l.sink("127.0.0.2", cert)
	if r := l.deliver(l.client()); !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered under DANE", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
	l.wantRecorded(tlsrpt.PolicyTLSA, 1, "")
}

func TestDANETLSALookupFailure(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2")
	l.secure()
	l.dns.Fail("_"+strconv.Itoa(l.port)+"._tcp.mx.dest.test", 2) // SERVFAIL: bogus, or an attack
	s := l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	r := l.deliver(l.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.5", Text: "TLSA lookup"})
	if len(s.Received()) != 0 {
		t.Error("delivered although the TLSA lookup failed")
	}
	l.wantRecorded(tlsrpt.PolicyTLSA, 0, tlsrpt.ResultDNSSECInvalid)
}

func TestMTASTSRefreshBeforeHoldingMail(t *testing.T) {
	l := newPolicyLab(t)
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", stsRecord)
	l.setPolicy(enforceMX)
	l.sink("127.0.0.2", l.ca.Issue(t, "mx.dest.test"))
	c := l.client()
	if r := l.deliver(c); !r.Delivered {
		t.Fatalf("first delivery: %+v", r)
	}
	// The domain moves to mx2 and updates its policy but forgets to
	// change the id. The cached policy matches no MX host any more, so
	// it is fetched again before the mail is held back.
	l.setPolicy(enforceMX2)
	l.dns = l.zone("dest.test. MX 20 mx2.dest.test.", "mx2.dest.test. A 127.0.0.3", stsRecord)
	s := l.sink("127.0.0.3", l.ca.Issue(t, "mx2.dest.test"))
	c2 := l.client()
	c2.sts = c.sts // the same cache, in memory too
	if r := l.deliver(c2); !r.Delivered || r.RemoteMTA != "mx2.dest.test" {
		t.Fatalf("after the MX moved: %+v, want delivered to mx2.dest.test", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
}

func TestDANERequiresSTARTTLS(t *testing.T) {
	l := newPolicyLab(t)
	cert := mailtest.SelfSigned(t, "mx.dest.test")
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", l.tlsa(3, 1, 1, spkiSHA256(cert)))
	l.secure()
	// A server (or an attacker in between) that offers no STARTTLS.
	l.held.release("127.0.0.2")
	s := mailtest.NewSink(t, net.JoinHostPort("127.0.0.2", strconv.Itoa(l.port)))
	r := l.deliver(l.client())
	checkResult(t, r, Result{Rcpt: "rcpt@dest.test", Enhanced: "4.7.0", Text: "does not offer STARTTLS"})
	if len(s.Received()) != 0 {
		t.Error("delivered in plaintext to a host with DANE records")
	}
	l.wantRecorded(tlsrpt.PolicyTLSA, 0, tlsrpt.ResultSTARTTLSNotSupported)
}

func TestDANEUnusableRecordsMeanEncryptionOnly(t *testing.T) {
	l := newPolicyLab(t)
	other := mailtest.SelfSigned(t, "mx.dest.test")
	// PKIX-EE (usage 1) is not used for SMTP: the records say TLS is
	// there, but authenticate nothing (RFC 7672 section 2.2).
	l.dns.Add(t, "mx.dest.test. A 127.0.0.2", l.tlsa(1, 1, 1, spkiSHA256(other)))
	l.secure()
	s := l.sink("127.0.0.2", mailtest.SelfSigned(t, "mx.dest.test"))
	if r := l.deliver(l.client()); !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered over unauthenticated TLS", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
}

func TestDANEThroughSecureCNAME(t *testing.T) {
	l := newPolicyLab(t)
	// The MX host is an alias of the hosting provider's server, whose
	// TLSA records (a DANE-TA anchor) and certificate carry its own name.
	sum := sha256.Sum256(l.ca.Cert.Raw)
	port := strconv.Itoa(l.port)
	l.dns.Add(t, "mx.dest.test. CNAME mx.hosting.test.", "mx.hosting.test. A 127.0.0.2",
		"_"+port+"._tcp.mx.hosting.test. TLSA 2 0 1 "+hex.EncodeToString(sum[:]))
	l.dns.Secure("dest.test", "mx.dest.test", "mx.hosting.test", "_"+port+"._tcp.mx.hosting.test")
	s := l.sink("127.0.0.2", l.ca.Issue(t, "mx.hosting.test"))
	c := l.client()
	c.tls = nil // no CA is trusted: only the TLSA record vouches
	if r := l.deliver(c); !r.Delivered || !r.TLS {
		t.Fatalf("result %+v, want delivered under DANE at the alias's target", r)
	}
	s.WaitFor(t, 1, 2*time.Second)
	l.wantRecorded(tlsrpt.PolicyTLSA, 1, "")
}

// openPolicyStore is a store to cache MTA-STS policies in.
func openPolicyStore(t *testing.T) mtasts.Files {
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
