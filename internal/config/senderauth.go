package config

import (
	"fmt"
	"strings"
	"time"
)

// defaultDNSTimeout is [dns] timeout's default.
const defaultDNSTimeout = 5 * time.Second

// validateSenderAuth checks the sender authentication keys of [smtp]
// (SPF, DKIM, DMARC, ARC, blocklists: internal/msgauth).
func (s *SMTP) validateSenderAuth() error {
	if strings.ContainsAny(s.AuthservID, " \t\r\n;()\"") {
		return &Error{Key: "smtp.authserv_id", Msg: fmt.Sprintf("want a host name such as \"mx.example.org\", not %q", s.AuthservID)}
	}
	switch s.DMARCTempError {
	case "accept", "defer":
	default:
		return &Error{Key: "smtp.dmarc_temperror", Msg: fmt.Sprintf("want \"accept\" or \"defer\", not %q", s.DMARCTempError)}
	}
	for key, list := range map[string][]string{"smtp.arc_trusted_sealers": s.ARCTrustedSealers, "smtp.dnsbl": s.DNSBL} {
		for _, d := range list {
			if !looksLikeDomain(d) {
				return &Error{Key: key, Msg: fmt.Sprintf("want domain names such as \"example.org\", not %q", d)}
			}
		}
	}
	return nil
}

// looksLikeDomain: dot-separated labels of letters, digits, hyphens.
func looksLikeDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return false
		}
	}
	return true
}
