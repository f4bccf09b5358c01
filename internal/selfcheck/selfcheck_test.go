package selfcheck

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/mailtest"
	"mailroom/internal/managesieve"
	"mailroom/internal/pop3"
	"mailroom/internal/resolver"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
	"mailroom/internal/tlsconf"
	"mailroom/internal/web"
)

func newResolver(d *mailtest.DNS) *resolver.Resolver {
	return resolver.New([]string{d.Addr}, 2*time.Second)
}

// byCheck indexes results by their Check, failing on duplicates.
func byCheck(t *testing.T, rs []Result) map[string]Result {
	t.Helper()
	m := map[string]Result{}
	for _, r := range rs {
		if _, dup := m[r.Check]; dup {
			t.Fatalf("two results for %q", r.Check)
		}
		m[r.Check] = r
	}
	return m
}

func dump(rs []Result) string {
	var b strings.Builder
	Write(&b, rs)
	return b.String()
}

// TestDNS serves the correct zone of example.org from a DNS server on
// loopback, then variants with one record missing or wrong, and checks
// the verdict of every DNS line.
func TestDNS(t *testing.T) {
	w := newWorld(t)
	dkim0, dkim1 := w.keys[0].Name, w.keys[1].Name
	const ptr = "1.0.0.127.in-addr.arpa."
	type change struct {
		drop    []string            // zone entries left out
		replace map[string][]string // zone entries replaced
	}
	for _, tc := range []struct {
		name   string
		change change
		// want is the verdict of the lines that differ from OK.
		want map[string]Verdict
	}{
		{"correct", change{}, nil},
		// SPF's "mx" then no longer names this server either.
		{"no MX", change{drop: []string{"MX"}}, map[string]Verdict{"dns example.org MX": Fail, "dns example.org SPF": Fail}},
		{"MX elsewhere", change{replace: map[string][]string{"MX": {"example.org. MX 10 mx.provider.example."}}},
			map[string]Verdict{"dns example.org MX": Fail, "dns example.org SPF": Fail}},
		{"no SPF", change{drop: []string{"SPF"}}, map[string]Verdict{"dns example.org SPF": Fail}},
		{"SPF without this server", change{replace: map[string][]string{"SPF": {`example.org. TXT "v=spf1 ip4:192.0.2.1 -all"`}}},
			map[string]Verdict{"dns example.org SPF": Fail}},
		{"two SPF records", change{replace: map[string][]string{"SPF": {`example.org. TXT "v=spf1 mx ~all"`, `example.org. TXT "v=spf1 a ~all"`}}},
			map[string]Verdict{"dns example.org SPF": Fail}},
		{"DKIM key missing", change{drop: []string{"DKIM0"}}, map[string]Verdict{"dns " + dkim0 + " DKIM": Fail}},
		{"DKIM key of another server", change{replace: map[string][]string{"DKIM1": {dkim1 + `. TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAold"`}}},
			map[string]Verdict{"dns " + dkim1 + " DKIM": Fail}},
		{"no DMARC", change{drop: []string{"DMARC"}}, map[string]Verdict{"dns _dmarc.example.org DMARC": Fail}},
		{"DMARC unparseable", change{replace: map[string][]string{"DMARC": {`_dmarc.example.org. TXT "v=DMARC1; p"`}}},
			map[string]Verdict{"dns _dmarc.example.org DMARC": Fail}},
		{"DMARC bad policy", change{replace: map[string][]string{"DMARC": {`_dmarc.example.org. TXT "v=DMARC1; p=block"`}}},
			map[string]Verdict{"dns _dmarc.example.org DMARC": Fail}},
		{"DMARC p=none", change{replace: map[string][]string{"DMARC": {`_dmarc.example.org. TXT "v=DMARC1; p=none"`}}},
			map[string]Verdict{"dns _dmarc.example.org DMARC": Warn}},
		{"no MTA-STS record", change{drop: []string{"MTA-STS"}}, map[string]Verdict{"dns _mta-sts.example.org MTA-STS": Warn}},
		{"MTA-STS record of an old policy", change{replace: map[string][]string{"MTA-STS": {`_mta-sts.example.org. TXT "v=STSv1; id=20200101"`}}},
			map[string]Verdict{"dns _mta-sts.example.org MTA-STS": Warn}},
		{"MTA-STS policy host missing", change{drop: []string{"mta-sts"}}, map[string]Verdict{"dns _mta-sts.example.org MTA-STS": Fail}},
		{"no TLS-RPT", change{drop: []string{"TLS-RPT"}}, map[string]Verdict{"dns _smtp._tls.example.org TLS-RPT": Warn}},
		{"no IMAP SRV", change{drop: []string{"SRV imap"}}, map[string]Verdict{"dns example.org SRV": Warn}},
		{"IMAP SRV wrong port", change{replace: map[string][]string{"SRV imap": {"_imap._tcp.example.org. SRV 0 1 1 " + host + "."}}},
			map[string]Verdict{"dns example.org SRV": Warn}},
		{"no autoconfig", change{drop: []string{"autoconfig"}}, map[string]Verdict{"dns autoconfig.example.org": Warn}},
		{"autoconfig elsewhere", change{replace: map[string][]string{"autoconfig": {"autoconfig.example.org. A 192.0.2.7"}}},
			map[string]Verdict{"dns autoconfig.example.org": Warn}},
		{"no PTR", change{drop: []string{"PTR"}}, map[string]Verdict{"dns 127.0.0.1 PTR": Fail}},
		{"PTR names another host", change{replace: map[string][]string{"PTR": {ptr + " PTR host-127-0-0-1.provider.example."}}},
			map[string]Verdict{"dns 127.0.0.1 PTR": Fail}},
		// Without the host name's address nothing that depends on it
		// can pass: the address line fails and the SPF cannot be judged;
		// MX, DKIM and DMARC are judged on their own.
		{"no address", change{drop: []string{"A"}, replace: map[string][]string{"mta-sts": {"mta-sts.example.org. A 127.0.0.1"}}},
			map[string]Verdict{"dns mail.example.org A/AAAA": Fail, "dns example.org SPF": Warn,
				"dns autoconfig.example.org": Warn, "dns autodiscover.example.org": Warn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mailtest.NewDNS(t)
			zone := w.zone()
			for _, k := range tc.change.drop {
				if _, ok := zone[k]; !ok {
					t.Fatalf("no zone entry %q", k)
				}
				delete(zone, k)
			}
			for k, v := range tc.change.replace {
				zone[k] = v
			}
			for _, lines := range zone {
				d.Add(t, lines...)
			}
			rs, err := Run(context.Background(), w.options(d))
			if err != nil {
				t.Fatal(err)
			}
			got := byCheck(t, rs)
			for check := range tc.want {
				if _, ok := got[check]; !ok {
					t.Errorf("no line %q", check)
				}
			}
			n := 0
			for _, r := range rs {
				if !strings.HasPrefix(r.Check, "dns ") {
					continue
				}
				n++
				want, ok := tc.want[r.Check]
				if !ok {
					want = OK
				}
				if r.Verdict != want {
					t.Errorf("%s: %s (%s), want %s", r.Check, r.Verdict, r.Message, want)
				}
			}
			// A, PTR, MX, SPF, 2 DKIM, DMARC, MTA-STS, TLS-RPT, SRV,
			// autoconfig, autodiscover; the PTR goes with the address.
			if wantN := 12; n != wantN && tc.name != "no address" || tc.name == "no address" && n != wantN-1 {
				t.Errorf("%d DNS lines, want %d", n, wantN)
			}
			if t.Failed() {
				t.Logf("report:\n%s", dump(rs))
			}
		})
	}
}

// TestCertificates checks the certificate lines for certificates made in
// the test: valid, expiring, expired, for the wrong name, without its
// intermediate, and without the per-domain names.
func TestCertificates(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	all := []string{host, "mta-sts." + domain, "autoconfig." + domain, "autodiscover." + domain}
	for _, tc := range []struct {
		name      string
		valid     time.Duration
		names     []string
		noInter   bool
		chain     Verdict
		nameV     Verdict
		expiry    Verdict
		nameMatch string // in the names line's message
	}{
		{"valid", 90 * day, all, false, OK, OK, OK, ""},
		{"expiring", 10 * day, all, false, OK, OK, Warn, ""},
		{"expired", -day, all, false, OK, OK, Fail, ""},
		{"wrong name", 90 * day, []string{"www.example.net"}, false, OK, Fail, OK, host},
		{"no intermediate", 90 * day, all, true, Fail, OK, OK, ""},
		{"without mta-sts name", 90 * day, []string{host, "autoconfig." + domain, "autodiscover." + domain}, false, OK, Fail, OK, "mta-sts." + domain},
		{"without autoconfig names", 90 * day, []string{host, "mta-sts." + domain}, false, OK, Warn, OK, "autoconfig." + domain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			leaf, key := makeCert(t, tc.names[0], w.pki.inter, w.pki.interKey, now.Add(-30*day), now.Add(tc.valid), false, tc.names)
			chain := []*x509.Certificate{leaf, w.pki.inter}
			if tc.noInter {
				chain = chain[:1]
			}
			o := w.options(mailtest.NewDNS(t))
			o.Config.TLS.CertFile, o.Config.TLS.KeyFile = writeChain(t, key, chain...)
			rs, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			got := byCheck(t, rs)
			label := "certificate " + o.Config.TLS.CertFile
			for suffix, want := range map[string]Verdict{" chain": tc.chain, " names": tc.nameV, " expiry": tc.expiry} {
				r, ok := got[label+suffix]
				if !ok {
					t.Fatalf("no line %q in\n%s", label+suffix, dump(rs))
				}
				if r.Verdict != want {
					t.Errorf("%s: %s (%s), want %s", suffix, r.Verdict, r.Message, want)
				}
			}
			if tc.nameMatch != "" && !strings.Contains(got[label+" names"].Message, tc.nameMatch) {
				t.Errorf("names line %q does not mention %s", got[label+" names"].Message, tc.nameMatch)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		o := w.options(mailtest.NewDNS(t))
		o.Config.TLS.CertFile = t.TempDir() + "/missing.pem"
		rs, _ := Run(context.Background(), o)
		if r := byCheck(t, rs)["certificate "+o.Config.TLS.CertFile]; r.Verdict != Fail {
			t.Errorf("missing file: %+v", r)
		}
	})
}

// TestStoredCertificates checks the ACME and self-signed modes, whose
// certificates are in the store's shared files.
func TestStoredCertificates(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	day := 24 * time.Hour
	put := func(name string, valid time.Duration, names ...string) {
		leaf, key := makeCert(t, names[0], w.pki.inter, w.pki.interKey, time.Now().Add(-day), time.Now().Add(valid), false, names)
		certFile, keyFile := writeChain(t, key, leaf, w.pki.inter)
		c, _ := os.ReadFile(certFile)
		k, _ := os.ReadFile(keyFile)
		// autocert's cache entry: the key, then the chain.
		if err := w.files.WriteFile(ctx, name, append(k, c...)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("acme", func(t *testing.T) {
		put(tlsconf.ACMEFile(host), 60*day, host)
		o := w.options(mailtest.NewDNS(t))
		o.Config.TLS = config.TLS{ACMEEmail: "postmaster@example.org"}
		rs, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		got := byCheck(t, rs)
		for check, want := range map[string]Verdict{
			"certificate ACME " + host + " chain":  OK,
			"certificate ACME " + host + " names":  OK,
			"certificate ACME " + host + " expiry": OK,
			// Not obtained yet: a warning, not a failure.
			"certificate ACME mta-sts." + domain: Warn,
		} {
			if r, ok := got[check]; !ok || r.Verdict != want {
				t.Errorf("%s: %+v, want %s\n%s", check, r, want, dump(rs))
			}
		}
	})
	t.Run("self-signed", func(t *testing.T) {
		put(tlsconf.SelfSignedFile, 5*day, host)
		o := w.options(mailtest.NewDNS(t))
		o.Config.TLS = config.TLS{SelfSigned: true}
		rs, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		got := byCheck(t, rs)
		if r := got["certificate"]; r.Verdict != Warn || !strings.Contains(r.Message, "self-signed") {
			t.Errorf("self-signed: %+v", r)
		}
		if r := got["certificate self-signed expiry"]; r.Verdict != Warn {
			t.Errorf("self-signed expiring in 5 days: %+v\n%s", r, dump(rs))
		}
	})
}

// TestPorts runs a real Mailroom, a foreign SMTP server, a silent
// listener and a free port, and checks each port's verdict.
func TestPorts(t *testing.T) {
	rig := testrig.Start(t, testrig.Factories{"smtp": smtp.Factory(smtp.Inbound), "imap": imap.Factory(), "pop3": pop3.Factory(),
		"managesieve": managesieve.Factory(), "http": web.Factory()},
		testrig.Listen("smtp", "imap", "imaps", "pop3", "managesieve", "http", "https"))
	foreign := listen(t, func(c net.Conn) {
		fmt.Fprintf(c, "220 other.example ESMTP Postfix\r\n")
		bufio.NewReader(c).ReadString('\n')
	})
	silent := listen(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	free := freeAddr(t)

	w := newWorld(t)
	o := w.options(mailtest.NewDNS(t))
	o.DialTimeout = time.Second
	o.Config.Hostname = rig.Config.Hostname
	o.Config.Listen = config.Listen{SMTP: rig.Addr("smtp"), Submission: foreign, Submissions: free,
		IMAP: rig.Addr("imap"), IMAPS: rig.Addr("imaps"), POP3: rig.Addr("pop3"), POP3S: silent,
		ManageSieve: rig.Addr("managesieve"), HTTP: rig.Addr("http"), HTTPS: rig.Addr("https")}
	rs, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	got := byCheck(t, rs)
	want := map[string]Verdict{
		"port smtp " + rig.Addr("smtp"):               OK,
		"port submission " + foreign:                  Fail,
		"port submissions " + free:                    OK,
		"port imap " + rig.Addr("imap"):               OK,
		"port imaps " + rig.Addr("imaps"):             OK,
		"port pop3 " + rig.Addr("pop3"):               OK,
		"port pop3s " + silent:                        Fail,
		"port managesieve " + rig.Addr("managesieve"): OK,
		"port http " + rig.Addr("http"):               OK,
		"port https " + rig.Addr("https"):             OK,
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, ok := got[k]
		if !ok {
			t.Errorf("no line %q", k)
			continue
		}
		if r.Verdict != want[k] {
			t.Errorf("%s: %s (%s), want %s", k, r.Verdict, r.Message, want[k])
		}
	}
	if r := got["port submission "+foreign]; !strings.Contains(r.Message, "Postfix") {
		t.Errorf("the foreign server's line does not quote it: %q", r.Message)
	}
	if t.Failed() {
		t.Logf("report:\n%s", dump(rs))
	}
}

func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return l.Addr().String()
}
