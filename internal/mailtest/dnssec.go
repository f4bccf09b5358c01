package mailtest

import (
	"strings"

	"github.com/miekg/dns"
)

// Secure marks names as DNSSEC-validated: answers about them carry the AD
// bit, as a validating resolver sets it, when the query asks for DNSSEC
// (the DO bit) or for AD itself (RFC 6840 section 5.7). The server signs
// nothing; it plays the validating resolver a client trusts.
func (d *DNS) Secure(names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.secure == nil {
		d.secure = map[string]bool{}
	}
	for _, n := range names {
		d.secure[strings.ToLower(dns.Fqdn(n))] = true
	}
}

// authenticated reports whether the answer to req about name gets AD.
func (d *DNS) authenticated(req *dns.Msg, name string) bool {
	d.mu.Lock()
	ok := d.secure[name]
	d.mu.Unlock()
	if !ok {
		return false
	}
	opt := req.IsEdns0()
	return req.AuthenticatedData || (opt != nil && opt.Do())
}
