package dmarcreport

import "encoding/xml"

// The aggregate report format of RFC 7489 appendix C.

// Feedback is the report's root element.
type Feedback struct {
	XMLName  xml.Name    `xml:"feedback"`
	Version  string      `xml:"version"`
	Metadata Metadata    `xml:"report_metadata"`
	Policy   Policy      `xml:"policy_published"`
	Records  []XMLRecord `xml:"record"`
}

// Metadata says who reports, and for which time.
type Metadata struct {
	OrgName   string    `xml:"org_name"`
	Email     string    `xml:"email"`
	ReportID  string    `xml:"report_id"`
	DateRange DateRange `xml:"date_range"`
}

// DateRange is in Unix seconds, UTC.
type DateRange struct {
	Begin int64 `xml:"begin"`
	End   int64 `xml:"end"`
}

// Policy is the DMARC record that was applied.
type Policy struct {
	Domain string `xml:"domain"`
	ADKIM  string `xml:"adkim,omitempty"`
	ASPF   string `xml:"aspf,omitempty"`
	P      string `xml:"p"`
	SP     string `xml:"sp,omitempty"`
	Pct    int    `xml:"pct"`
}

// XMLRecord is one row with its identifiers and results.
type XMLRecord struct {
	Row         Row         `xml:"row"`
	Identifiers Identifiers `xml:"identifiers"`
	Auth        AuthResults `xml:"auth_results"`
}

// Row counts messages from one address with one evaluation.
type Row struct {
	SourceIP  string    `xml:"source_ip"`
	Count     int       `xml:"count"`
	Evaluated Evaluated `xml:"policy_evaluated"`
}

// Evaluated is the policy applied.
type Evaluated struct {
	Disposition string   `xml:"disposition"`
	DKIM        string   `xml:"dkim"`
	SPF         string   `xml:"spf"`
	Reasons     []Reason `xml:"reason,omitempty"`
}

// Reason is a policy override.
type Reason struct {
	Type    string `xml:"type"`
	Comment string `xml:"comment,omitempty"`
}

// Identifiers are the domains evaluated.
type Identifiers struct {
	EnvelopeFrom string `xml:"envelope_from,omitempty"`
	HeaderFrom   string `xml:"header_from"`
}

// AuthResults are the raw SPF and DKIM results.
type AuthResults struct {
	DKIM []DKIMAuth `xml:"dkim"`
	SPF  []SPFAuth  `xml:"spf"`
}

// DKIMAuth is one signature's result.
type DKIMAuth struct {
	Domain   string `xml:"domain"`
	Selector string `xml:"selector,omitempty"`
	Result   string `xml:"result"`
}

// SPFAuth is the SPF result.
type SPFAuth struct {
	Domain string `xml:"domain"`
	Scope  string `xml:"scope,omitempty"`
	Result string `xml:"result"`
}
