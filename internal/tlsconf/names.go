package tlsconf

// Where the certificates of the self-signed and ACME modes live among the
// shared files, for `mailroom check` (internal/selfcheck), which reads
// them to report their names and expiry.

// SelfSignedFile is the shared file holding the self-signed certificate
// and its key (PEM).
const SelfSignedFile = selfSignedName

// ACMEFile is the shared file holding the certificate ACME obtained for
// host, with its key (PEM): autocert's cache entry, keyed by the name
// itself for the ECDSA certificate it prefers.
func ACMEFile(host string) string { return acmePrefix + host }
