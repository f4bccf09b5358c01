// Package tlsrpt implements the sending side of SMTP TLS Reporting (RFC
// 8460): it aggregates what became of TLS in each outbound session, per
// policy domain and day, and once a day sends each domain that asks for
// them (a _smtp._tls TXT record) a JSON report by mail or HTTPS POST.
package tlsrpt

// Policy types (RFC 8460 section 4.4).
const (
	PolicySTS  = "sts"
	PolicyTLSA = "tlsa"
	PolicyNone = "no-policy-found"
)

// Result types (RFC 8460 section 4.3).
const (
	// Negotiation failures (section 4.3.1).
	ResultSTARTTLSNotSupported    = "starttls-not-supported"
	ResultCertificateHostMismatch = "certificate-host-mismatch"
	ResultCertificateExpired      = "certificate-expired"
	ResultCertificateNotTrusted   = "certificate-not-trusted"
	ResultValidationFailure       = "validation-failure"
	// DANE failures (section 4.3.2.1).
	ResultTLSAInvalid   = "tlsa-invalid"
	ResultDNSSECInvalid = "dnssec-invalid"
	ResultDANERequired  = "dane-required"
	// MTA-STS failures (section 4.3.2.2).
	ResultSTSPolicyFetchError = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid    = "sts-policy-invalid"
	ResultSTSWebPKIInvalid    = "sts-webpki-invalid"
)

// Outcome is what became of TLS in one session with an MX host, or of the
// attempt to find a domain's policy (ReceivingMX then empty).
type Outcome struct {
	PolicyDomain string   // the recipient domain, A-label
	PolicyType   string   // PolicySTS, PolicyTLSA or PolicyNone
	PolicyString []string // the policy: MTA-STS lines, or TLSA records
	MXHost       []string // MTA-STS mx patterns
	Success      bool
	ResultType   string // the failure's result type, "" on success
	SendingIP    string // our address, "" if unknown
	ReceivingMX  string // the MX host name
	ReceivingIP  string
	// Detail is free text for additional-information: what went wrong.
	Detail string
}
