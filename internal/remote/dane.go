package remote

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// TLSA fields (RFC 6698 section 2.1; RFC 7218 names).
const (
	usageDANETA = 2
	usageDANEEE = 3

	selectorCert = 0
	selectorSPKI = 1

	matchFull   = 0
	matchSHA256 = 1
	matchSHA512 = 2
)

// usableTLSA keeps the records DANE for SMTP can use (RFC 7672 section
// 2.2): usages DANE-TA(2) and DANE-EE(3), as the PKIX usages 0 and 1 have
// no meaning without a CA list SMTP does not agree on (section 3.1.3);
// known selectors and matching types; digests of the right length.
func usableTLSA(recs []*dns.TLSA) []*dns.TLSA {
	var out []*dns.TLSA
	for _, r := range recs {
		if r.Usage != usageDANETA && r.Usage != usageDANEEE {
			continue
		}
		if r.Selector != selectorCert && r.Selector != selectorSPKI {
			continue
		}
		data, err := hex.DecodeString(r.Certificate)
		if err != nil {
			continue
		}
		switch {
		case r.MatchingType == matchFull && len(data) > 0,
			r.MatchingType == matchSHA256 && len(data) == sha256.Size,
			r.MatchingType == matchSHA512 && len(data) == sha512.Size:
			out = append(out, r)
		}
	}
	return out
}

// daneError is a peer that matches none of the TLSA records.
type daneError struct{ msg string }

func (e *daneError) Error() string { return e.msg }

// daneVerify returns the check of a server's certificate against its
// usable TLSA records (RFC 7672 section 3). With none, TLS is mandatory
// but any certificate does (section 2.2). names are the reference
// identifiers for DANE-TA: the TLSA base domain, then the MX host name.
func daneVerify(recs []*dns.TLSA, names []string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(recs) == 0 {
			return nil
		}
		certs := cs.PeerCertificates
		if len(certs) == 0 {
			return &daneError{"DANE: the server sent no certificate"}
		}
		// DANE-EE(3): the server's own certificate or key, whatever
		// its names, issuer or dates (section 3.1.1).
		for _, r := range recs {
			if r.Usage == usageDANEEE && tlsaMatches(r, certs[0]) {
				return nil
			}
		}
		// DANE-TA(2): a certificate in the chain the server sent is
		// the trust anchor; the server's certificate must chain to it
		// and carry one of the names (sections 3.1.2 and 3.2.2).
		var lastErr error
		for _, r := range recs {
			if r.Usage != usageDANETA {
				continue
			}
			for i, ta := range certs {
				if !tlsaMatches(r, ta) {
					continue
				}
				roots := x509.NewCertPool()
				roots.AddCert(ta)
				inter := x509.NewCertPool()
				for _, c := range certs[1:i] {
					inter.AddCert(c)
				}
				for _, name := range names {
					_, err := certs[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
					if err == nil {
						return nil
					}
					lastErr = err
				}
			}
		}
		if lastErr != nil {
			return &daneError{fmt.Sprintf("DANE: the chain matches a DANE-TA record but does not verify: %v", lastErr)}
		}
		return &daneError{fmt.Sprintf("DANE: the certificate of %s matches none of its %d TLSA records", names[0], len(recs))}
	}
}

// tlsaMatches reports whether cert matches the record's association data.
func tlsaMatches(r *dns.TLSA, cert *x509.Certificate) bool {
	var data []byte
	switch r.Selector {
	case selectorCert:
		data = cert.Raw
	case selectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch r.MatchingType {
	case matchSHA256:
		sum := sha256.Sum256(data)
		data = sum[:]
	case matchSHA512:
		sum := sha512.Sum512(data)
		data = sum[:]
	case matchFull:
	default:
		return false
	}
	want, err := hex.DecodeString(strings.TrimSpace(r.Certificate))
	return err == nil && subtle.ConstantTimeCompare(want, data) == 1
}
