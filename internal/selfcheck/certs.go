package selfcheck

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/tlsconf"
)

// expiryWarning is how long before expiry a certificate is reported: ACME
// clients renew 30 days ahead, so 14 days left means renewal is failing.
const expiryWarning = 14 * 24 * time.Hour

// maxCertFile bounds what is read of a certificate file: a chain is a few
// KB, and a wrong path must not read a disk image into memory.
const maxCertFile = 1 << 20

// checkCertificates reports on the configured certificate source: the
// certificate files, the self-signed certificate or the ACME ones.
func checkCertificates(ctx context.Context, o Options, domains []string) []Result {
	t := o.Config.TLS
	host := strings.ToLower(o.Config.Hostname)
	switch {
	case t.CertFile != "":
		chain, err := readChain(t.CertFile)
		if err != nil {
			return []Result{{"certificate " + t.CertFile, Fail, err.Error() + ": fix tls.cert_file"}}
		}
		return certResults(o, "certificate "+t.CertFile, chain, true, wantedNames(o, host, domains, true))
	case t.SelfSigned:
		rs := []Result{{"certificate", Warn, "self-signed: mail clients warn about it and senders enforcing MTA-STS or DANE refuse it; " +
			"use tls.cert_file/key_file or tls.acme_email for a public server"}}
		chain, err := storedChain(ctx, o.Store, tlsconf.SelfSignedFile)
		if err != nil {
			return append(rs, Result{"certificate self-signed", Warn, err.Error() + " (serve makes it at its first start)"})
		}
		return append(rs, certResults(o, "certificate self-signed", chain, false, nil)...)
	case t.ACMEEmail != "":
		// ACME obtains one certificate per name, at the first TLS
		// connection that asks for it: the host name, and mta-sts.DOMAIN
		// for the MTA-STS policy fetches.
		names := []string{host}
		if o.Config.Listen.HTTPS != "" {
			for _, d := range domains {
				names = append(names, "mta-sts."+d)
			}
		}
		var rs []Result
		for _, n := range names {
			chain, err := storedChain(ctx, o.Store, tlsconf.ACMEFile(n))
			if err != nil {
				rs = append(rs, Result{"certificate ACME " + n, Warn, err.Error() +
					": it is requested at the first TLS connection naming " + n + "; that needs " + n + " to resolve to this server and port 443 (or 80) to reach it"})
				continue
			}
			rs = append(rs, certResults(o, "certificate ACME "+n, chain, true, []wantName{{n, Fail, "it is the name the certificate was requested for"}})...)
		}
		return rs
	}
	return []Result{{"certificate", Warn, "no TLS configured: passwords and mail cross the network in clear; " +
		"set tls.cert_file/key_file or tls.acme_email"}}
}

// A wantName is a name the certificate should cover and how much its
// absence matters.
type wantName struct {
	name    string
	verdict Verdict
	why     string
}

// wantedNames are the names clients reach this server by (docs/operations.md,
// "DNS records"): the host name; for each domain the MTA-STS policy host
// (senders refuse a policy served under a certificate without it) and the
// autoconfiguration names (clients then fall back to asking the user).
func wantedNames(o Options, host string, domains []string, perDomain bool) []wantName {
	ws := []wantName{{host, Fail, "mail clients and other servers connect to it"}}
	if !perDomain {
		return ws
	}
	for _, d := range domains {
		if o.Config.Listen.HTTPS != "" {
			ws = append(ws, wantName{"mta-sts." + d, Fail, "senders fetch the MTA-STS policy of " + d + " from it"})
		}
		ws = append(ws,
			wantName{"autoconfig." + d, Warn, "Thunderbird fetches its settings from it"},
			wantName{"autodiscover." + d, Warn, "Outlook fetches its settings from it"})
	}
	return ws
}

// certResults judges a chain (leaf first): whether it verifies up to a
// trusted root (verify false for a self-signed one), its names and its
// expiry.
func certResults(o Options, label string, chain []*x509.Certificate, verify bool, names []wantName) []Result {
	leaf := chain[0]
	now := o.Now()
	var rs []Result
	if verify {
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		// Judge the chain apart from expiry, which has a line of its own.
		at := now
		if at.After(leaf.NotAfter) {
			at = leaf.NotAfter.Add(-time.Minute)
		}
		if at.Before(leaf.NotBefore) {
			at = leaf.NotBefore.Add(time.Minute)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: o.RootCAs, Intermediates: inter, CurrentTime: at})
		if err != nil {
			rs = append(rs, Result{label + " chain", Fail, fmt.Sprintf("does not verify: %v; "+
				"the file must hold the certificate followed by every intermediate certificate (certbot's fullchain.pem)", err)})
		} else {
			rs = append(rs, Result{label + " chain", OK, fmt.Sprintf("complete, issued by %s", issuer(chain))})
		}
	}
	var missing []string
	worst := OK
	for _, w := range names {
		if err := leaf.VerifyHostname(w.name); err != nil {
			missing = append(missing, w.name+" ("+w.why+")")
			worst = max(worst, w.verdict)
		}
	}
	if len(names) > 0 {
		if len(missing) == 0 {
			rs = append(rs, Result{label + " names", OK, "covers " + joinNames(names)})
		} else {
			rs = append(rs, Result{label + " names", worst, "does not cover " + strings.Join(missing, ", ") +
				"; get a certificate that also names them (it names " + strings.Join(leaf.DNSNames, ", ") + ")"})
		}
	}
	left := leaf.NotAfter.Sub(now)
	switch {
	case left <= 0:
		rs = append(rs, Result{label + " expiry", Fail, fmt.Sprintf("expired on %s: renew it now", leaf.NotAfter.UTC().Format(time.DateOnly))})
	case left < expiryWarning:
		rs = append(rs, Result{label + " expiry", Warn, fmt.Sprintf("expires in %d days (%s): renewal seems to be failing, renew it",
			int(left.Hours()/24), leaf.NotAfter.UTC().Format(time.DateOnly))})
	default:
		rs = append(rs, Result{label + " expiry", OK, fmt.Sprintf("valid until %s (%d days)", leaf.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24))})
	}
	return rs
}

func issuer(chain []*x509.Certificate) string {
	last := chain[len(chain)-1]
	if n := last.Issuer.CommonName; n != "" {
		return n
	}
	return last.Issuer.String()
}

func joinNames(ws []wantName) string {
	var ns []string
	for _, w := range ws {
		ns = append(ns, w.name)
	}
	return strings.Join(ns, ", ")
}

func readChain(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCertFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxCertFile {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a certificate chain", path, maxCertFile)
	}
	return parseChain(data, path)
}

func storedChain(ctx context.Context, st Store, name string) ([]*x509.Certificate, error) {
	data, err := st.ReadFile(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("no certificate in the store yet")
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from the store: %w", name, err)
	}
	return parseChain(data, name)
}

// parseChain returns the CERTIFICATE blocks of PEM data in order, skipping
// others (a key kept in the same file).
func parseChain(data []byte, name string) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d of %s: %w", len(chain)+1, name, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", name)
	}
	return chain, nil
}
