package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the JSON report of RFC 8460 section 4.
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyReport `json:"policies"`
}

// DateRange is the period a report covers.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyReport is one policy's results.
type PolicyReport struct {
	Policy         PolicyDesc      `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// PolicyDesc names the policy the sessions were held to.
type PolicyDesc struct {
	Type   string   `json:"policy-type"`
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// Summary counts the sessions.
type Summary struct {
	Success int64 `json:"total-successful-session-count"`
	Failure int64 `json:"total-failure-session-count"`
}

// FailureDetail is one kind of failure and how often it happened.
type FailureDetail struct {
	ResultType  string `json:"result-type"`
	SendingIP   string `json:"sending-mta-ip,omitempty"`
	ReceivingMX string `json:"receiving-mx-hostname,omitempty"`
	ReceivingIP string `json:"receiving-ip,omitempty"`
	Count       int64  `json:"failed-session-count"`
	// ReasonCode is free text: the error as we saw it.
	ReasonCode string `json:"failure-reason-code,omitempty"`
}

// Build returns the report for one domain's day. submitter is our host
// name, contact the address that answers questions about reports.
func Build(day Day, domain string, dr *DomainRecord, submitter, contact string) *Report {
	start := day.Start()
	rep := &Report{
		OrganizationName: submitter,
		DateRange:        DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ContactInfo:      contact,
		ReportID:         string(day) + "_" + domain + "_" + randomID(),
	}
	for _, p := range dr.Policies {
		pr := PolicyReport{
			Policy:  PolicyDesc{Type: p.Type, String: p.Strings, Domain: domain, MXHost: p.MXHost},
			Summary: Summary{Success: p.Success, Failure: p.Failure},
		}
		for _, d := range p.Details {
			pr.FailureDetails = append(pr.FailureDetails, FailureDetail{ResultType: d.ResultType, SendingIP: d.SendingIP,
				ReceivingMX: d.ReceivingMX, ReceivingIP: d.ReceivingIP, Count: d.Count, ReasonCode: d.Info})
		}
		rep.Policies = append(rep.Policies, pr)
	}
	return rep
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Gzip returns the report as gzipped JSON (RFC 8460 section 5.1).
func (r *Report) Gzip() ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: encoding report: %w", err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(js)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("tlsrpt: compressing report: %w", err)
	}
	return b.Bytes(), nil
}

// Filename is the attachment's name (RFC 8460 section 5.1):
// submitter!policy-domain!begin!end!unique-id.json.gz, times in seconds
// since the epoch.
func (r *Report) Filename(domain string) string {
	return fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", r.OrganizationName, domain,
		r.DateRange.Start.Unix(), r.DateRange.End.Unix(), r.ReportID[strings.LastIndexByte(r.ReportID, '_')+1:])
}

// Message returns the report as a mail message (RFC 8460 section 5.3):
// multipart/report of type tlsrpt, a short text and the gzipped JSON as
// application/tlsrpt+gzip, with the Subject and TLS-Report-* fields the
// section asks for.
func (r *Report) Message(domain, from, to string, date time.Time) ([]byte, error) {
	gz, err := r.Gzip()
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	var h bytes.Buffer
	field := func(k, v string) { fmt.Fprintf(&h, "%s: %s\r\n", k, v) }
	field("From", "<"+from+">")
	field("To", "<"+to+">")
	field("Date", date.UTC().Format(time.RFC1123Z))
	field("Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, r.OrganizationName, r.ReportID))
	field("Message-ID", "<"+r.ReportID+"@"+r.OrganizationName+">")
	field("TLS-Report-Domain", domain)
	field("TLS-Report-Submitter", r.OrganizationName)
	field("Auto-Submitted", "auto-generated")
	field("MIME-Version", "1.0")
	field("Content-Type", mime.FormatMediaType("multipart/report", map[string]string{"report-type": "tlsrpt", "boundary": mw.Boundary()}))
	h.WriteString("\r\n")

	text, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=us-ascii"}})
	fmt.Fprintf(text, "This is an aggregate TLS report from %s for %s,\r\ncovering %s (UTC). The report is attached (RFC 8460).\r\n",
		r.OrganizationName, domain, r.DateRange.Start.Format(time.DateOnly))
	att, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/tlsrpt+gzip"},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": r.Filename(domain)})},
	})
	writeBase64(att, gz)
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("tlsrpt: %w", err)
	}
	return append(h.Bytes(), body.Bytes()...), nil
}

// writeBase64 writes data in base64 lines of 76 characters (RFC 2045).
func writeBase64(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 0 {
		n := min(76, len(enc))
		io.WriteString(w, enc[:n]+"\r\n")
		enc = enc[n:]
	}
}

// ParseRecord parses a domain's _smtp._tls TXT records (RFC 8460 section
// 3) and returns the rua URIs. Records not starting with "v=TLSRPTv1" are
// ignored; none, or more than one, means the domain wants no reports.
// Only mailto: and https: URIs are kept, the two the section defines.
func ParseRecord(txts []string) ([]string, bool) {
	var found []string
	for _, t := range txts {
		fields := strings.Split(t, ";")
		if strings.TrimSpace(fields[0]) != "v=TLSRPTv1" {
			continue
		}
		found = append(found, t)
	}
	if len(found) != 1 {
		return nil, false
	}
	var rua []string
	for _, f := range strings.Split(found[0], ";")[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok || strings.TrimSpace(k) != "rua" {
			continue
		}
		for u := range strings.SplitSeq(v, ",") {
			u = strings.TrimSpace(u)
			lu := strings.ToLower(u)
			if strings.HasPrefix(lu, "mailto:") || strings.HasPrefix(lu, "https://") {
				rua = append(rua, u)
			}
		}
		break
	}
	rua = slices.Compact(rua)
	// A record that names no usable destination asks for nothing.
	return rua, len(rua) > 0
}

// mailtoAddress returns the address of a mailto: URI, percent-decoded,
// without any ?query.
func mailtoAddress(u string) (string, error) {
	a := u[len("mailto:"):]
	a, _, _ = strings.Cut(a, "?")
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
	if at := strings.LastIndexByte(addr, '@'); at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " <>\r\n,;") {
		return "", fmt.Errorf("not an address: %q", u)
	}
	return addr, nil
}
