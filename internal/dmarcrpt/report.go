package dmarcrpt

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Feedback is the aggregate report (RFC 7489 Appendix C).
type Feedback struct {
	XMLName         xml.Name        `xml:"feedback"`
	Version         string          `xml:"version"`
	ReportMetadata  ReportMetadata  `xml:"report_metadata"`
	PolicyPublished PolicyPublished `xml:"policy_published"`
	Records         []Record        `xml:"record"`
}

// ReportMetadata describes the report and its sender.
type ReportMetadata struct {
	OrgName   string    `xml:"org_name"`
	Email     string    `xml:"email"`
	ReportID  string    `xml:"report_id"`
	DateRange DateRange `xml:"date_range"`
}

// DateRange is the period covered, in seconds since the epoch.
type DateRange struct {
	Begin int64 `xml:"begin"`
	End   int64 `xml:"end"`
}

// PolicyPublished is the DMARC policy the domain published.
type PolicyPublished struct {
	Domain string `xml:"domain"`
	ADKIM  string `xml:"adkim"`
	ASPF   string `xml:"aspf"`
	P      string `xml:"p"`
	SP     string `xml:"sp"`
	Pct    int    `xml:"pct"`
	Fo     string `xml:"fo,omitempty"`
}

// Record is one row of alike messages.
type Record struct {
	Row         XMLRow      `xml:"row"`
	Identifiers Identifiers `xml:"identifiers"`
	AuthResults AuthResults `xml:"auth_results"`
}

// XMLRow is the source and the DMARC outcome.
type XMLRow struct {
	SourceIP        string          `xml:"source_ip"`
	Count           int64           `xml:"count"`
	PolicyEvaluated PolicyEvaluated `xml:"policy_evaluated"`
}

// PolicyEvaluated is the result of applying the policy.
type PolicyEvaluated struct {
	Disposition string      `xml:"disposition"`
	DKIM        string      `xml:"dkim"`
	SPF         string      `xml:"spf"`
	Reasons     []XMLReason `xml:"reason,omitempty"`
}

// XMLReason is a policy override.
type XMLReason struct {
	Type    string `xml:"type"`
	Comment string `xml:"comment,omitempty"`
}

// Identifiers are the domains the message claimed.
type Identifiers struct {
	EnvelopeFrom string `xml:"envelope_from,omitempty"`
	HeaderFrom   string `xml:"header_from"`
}

// AuthResults are the underlying DKIM and SPF results.
type AuthResults struct {
	DKIM []XMLDKIM `xml:"dkim,omitempty"`
	SPF  []XMLSPF  `xml:"spf"`
}

// XMLDKIM is one signature's result.
type XMLDKIM struct {
	Domain   string `xml:"domain"`
	Selector string `xml:"selector,omitempty"`
	Result   string `xml:"result"`
}

// XMLSPF is the SPF result.
type XMLSPF struct {
	Domain string `xml:"domain"`
	Scope  string `xml:"scope,omitempty"`
	Result string `xml:"result"`
}

// Build returns the report of one domain's day. submitter is our host
// name (org_name), email the address for questions.
func Build(day Day, domain string, dr *DomainRecord, submitter, email string) *Feedback {
	start := day.Start()
	var rnd [6]byte
	rand.Read(rnd[:])
	f := &Feedback{
		Version: "1.0",
		ReportMetadata: ReportMetadata{
			OrgName: submitter, Email: email,
			ReportID:  string(day) + "." + domain + "." + hex.EncodeToString(rnd[:]),
			DateRange: DateRange{Begin: start.Unix(), End: start.Add(24*time.Hour - time.Second).Unix()},
		},
		PolicyPublished: PolicyPublished{Domain: domain, ADKIM: dr.Policy.ADKIM, ASPF: dr.Policy.ASPF,
			P: dr.Policy.P, SP: dr.Policy.SP, Pct: dr.Policy.Pct, Fo: dr.Policy.Fo},
	}
	for _, r := range dr.Rows {
		rec := Record{
			Row: XMLRow{SourceIP: r.SourceIP, Count: r.Count,
				PolicyEvaluated: PolicyEvaluated{Disposition: r.Disposition, DKIM: r.DKIM, SPF: r.SPF}},
			Identifiers: Identifiers{EnvelopeFrom: r.EnvelopeFrom, HeaderFrom: r.HeaderFrom},
			AuthResults: AuthResults{SPF: []XMLSPF{{Domain: r.SPFResult.Domain, Scope: r.SPFResult.Scope, Result: r.SPFResult.Result}}},
		}
		for _, rs := range r.Reasons {
			rec.Row.PolicyEvaluated.Reasons = append(rec.Row.PolicyEvaluated.Reasons, XMLReason(rs))
		}
		for _, d := range r.DKIMResults {
			rec.AuthResults.DKIM = append(rec.AuthResults.DKIM, XMLDKIM(d))
		}
		f.Records = append(f.Records, rec)
	}
	return f
}

// Gzip returns the report as gzipped XML.
func (f *Feedback) Gzip() ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, xml.Header)
	enc := xml.NewEncoder(zw)
	enc.Indent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("dmarcrpt: encoding report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("dmarcrpt: compressing report: %w", err)
	}
	return b.Bytes(), nil
}

// Filename is the attachment's name (RFC 7489 section 7.2.1.1):
// receiver!policy-domain!begin!end!unique-id.xml.gz.
func (f *Feedback) Filename() string {
	m := f.ReportMetadata
	return fmt.Sprintf("%s!%s!%d!%d!%s.xml.gz", m.OrgName, f.PolicyPublished.Domain, m.DateRange.Begin, m.DateRange.End,
		m.ReportID[strings.LastIndexByte(m.ReportID, '.')+1:])
}

// Message returns the report as mail (RFC 7489 section 7.2.1.1): the
// Subject the section gives, a short text and the gzipped XML attached.
func (f *Feedback) Message(gz []byte, from, to string, date time.Time) []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	var h bytes.Buffer
	field := func(k, v string) { fmt.Fprintf(&h, "%s: %s\r\n", k, v) }
	m := f.ReportMetadata
	field("From", "<"+from+">")
	field("To", "<"+to+">")
	field("Date", date.UTC().Format(time.RFC1123Z))
	field("Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", f.PolicyPublished.Domain, m.OrgName, m.ReportID))
	field("Message-ID", "<"+m.ReportID+"@"+m.OrgName+">")
	field("Auto-Submitted", "auto-generated")
	field("MIME-Version", "1.0")
	field("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	h.WriteString("\r\n")
	text, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=us-ascii"}})
	fmt.Fprintf(text, "This is a DMARC aggregate report from %s for %s,\r\ncovering %s (UTC).\r\n",
		m.OrgName, f.PolicyPublished.Domain, time.Unix(m.DateRange.Begin, 0).UTC().Format(time.DateOnly))
	att, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/gzip"},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename()})},
	})
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 0 {
		n := min(76, len(enc))
		io.WriteString(att, enc[:n]+"\r\n")
		enc = enc[n:]
	}
	mw.Close()
	return append(h.Bytes(), body.Bytes()...)
}

// Destination is a rua address with its size limit (0: none).
type Destination struct {
	Address string
	Limit   int64
}

// ParseRUA returns the mailto: destinations of a domain's _dmarc TXT
// records (RFC 7489 sections 6.3 and 6.4): the one record starting with
// "v=DMARC1", its rua tag, each URI with an optional "!size[kmgt]" limit.
// Other URI schemes are skipped: section 7.2.1 defines delivery by mail.
func ParseRUA(txts []string) []Destination {
	var found []string
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, ";"); strings.TrimSpace(v) == "v=DMARC1" {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return nil // RFC 7489 section 6.6.3: none, or ambiguous
	}
	var out []Destination
	for _, tag := range strings.Split(found[0], ";")[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(tag), "=")
		if !ok || strings.TrimSpace(k) != "rua" {
			continue
		}
		for u := range strings.SplitSeq(v, ",") {
			u = strings.TrimSpace(u)
			var limit int64
			if i := strings.LastIndexByte(u, '!'); i >= 0 {
				var err error
				if limit, err = parseSize(u[i+1:]); err != nil {
					continue
				}
				u = u[:i]
			}
			if len(u) < 7 || !strings.EqualFold(u[:7], "mailto:") {
				continue
			}
			addr, err := mailtoAddress(u)
			if err != nil {
				continue
			}
			out = append(out, Destination{Address: addr, Limit: limit})
		}
		break
	}
	return out
}

// parseSize reads "10m": 1*DIGIT [ "k" / "m" / "g" / "t" ].
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// mailtoAddress returns the address of a mailto: URI, percent-decoded,
// without ?query; anything that could break out of an address is refused.
func mailtoAddress(u string) (string, error) {
	a, _, _ := strings.Cut(u[len("mailto:"):], "?")
	var b strings.Builder
	for i := 0; i < len(a); i++ {
		if a[i] == '%' && i+2 < len(a) {
			n, err := strconv.ParseUint(a[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %q", u)
			}
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(a[i])
	}
	addr := b.String()
	if at := strings.LastIndexByte(addr, '@'); at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " <>\r\n,;\"") {
		return "", fmt.Errorf("not an address: %q", u)
	}
	return addr, nil
}
