// Package dmarcreport sends DMARC aggregate reports (RFC 7489 section 7.2):
// once a day, for each domain whose mail the MX evaluated and whose DMARC
// record asks for reports (rua=mailto:), an XML report (appendix C),
// gzipped, mailed through the outbound queue. The evaluations themselves
// are counted in the store by the MX (Record).
package dmarcreport

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/address"
	"mailroom/internal/delivery"
	"mailroom/internal/msgauth"
	"mailroom/internal/resolver"
	"mailroom/internal/store"
)

// Store is what the reporter needs of the store: the rows, and (several
// nodes run a reporter each) a lease so that one sends, and shared files
// to note which reports went out.
type Store interface {
	DMARCResults(ctx context.Context, before time.Time) ([]store.DMARCResult, error)
	DeleteDMARCResults(ctx context.Context, before time.Time) error
	Stage(ctx context.Context, r io.Reader) (store.Staged, error)
	AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	ListFiles(ctx context.Context, prefix string) ([]string, error)
	DeleteFile(ctx context.Context, name string) error
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) ([]byte, bool, error)) error
}

// sendLease is the lease of the node sending the reports; sendLeaseFor
// how long it holds it without renewing, well beyond what queuing one
// report takes.
const (
	sendLease    = "dmarcreport/send"
	sendLeaseFor = 10 * time.Minute
)

// sentPrefix holds an empty shared file for each policy domain whose
// report for a day was queued ("dmarcreport/sent/2026-12-06/bank.example"),
// so that a node taking over from one that died half-way does not queue it
// again. A file each, not a list per day: a day may have up to
// store.MaxDMARCRows domains, more than one shared file may hold.
const sentPrefix = "dmarcreport/sent/"

// sentName is the name of the note that domain's report for day was
// queued. A domain too long for a shared file's name is noted by its hash.
func sentName(day, domain string) string {
	name := sentPrefix + day + "/" + domain
	if len(name) > store.MaxSharedNameLen {
		sum := sha256.Sum256([]byte(domain))
		name = sentPrefix + day + "/sha256-" + hex.EncodeToString(sum[:])
	}
	return name
}

// ErrLeaseHeld is what Send returns while another reporter (another node,
// or this server's own daily run) holds the sending lease: try again later.
var ErrLeaseHeld = errors.New("dmarc report: another node is sending the reports")

// TXTResolver looks up TXT records (internal/resolver implements it).
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Options configure a Reporter.
type Options struct {
	Store    Store
	Outbound delivery.Outbound
	Resolver TXTResolver
	// Hostname is this server: the report's submitter and org_name, and
	// the domain of its From address (postmaster@Hostname).
	Hostname string
	Logger   *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// Reporter sends the reports. Every node runs one; a lease in the store
// makes one of them send each period's.
type Reporter struct {
	opts  Options
	owner string // this reporter's name as the holder of sendLease
}

// New returns a Reporter.
func New(opts Options) *Reporter {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reporter{opts: opts, owner: "dmarcreport-" + rand.Text()}
}

// Record converts a DMARC evaluation into the row the store counts; ok is
// false when there is nothing to report (no record, or no rua=).
func Record(res *msgauth.Result, ip netip.Addr, now time.Time) (store.DMARCResult, bool) {
	d := res.DMARC
	if d.Record == nil || len(d.Record.ReportURIAggregate) == 0 || (d.Result != "pass" && d.Result != "fail") {
		return store.DMARCResult{}, false
	}
	rec := d.Record
	pct := 100
	if rec.Percent != nil {
		pct = *rec.Percent
	}
	policy := fmt.Sprintf("p=%s sp=%s pct=%d adkim=%s aspf=%s", rec.Policy, orDefault(string(rec.SubdomainPolicy), string(rec.Policy)),
		pct, orDefault(string(rec.DKIMAlignment), "r"), orDefault(string(rec.SPFAlignment), "r"))
	var auth []string
	for _, k := range res.DKIM {
		auth = append(auth, "dkim:"+field(k.Domain)+":"+field(k.Selector)+":"+k.Result)
	}
	scope := "mfrom"
	if res.SPF.Identity == "helo" {
		scope = "helo"
	}
	auth = append(auth, "spf:"+field(res.SPF.Domain)+":"+scope+":"+orDefault(res.SPF.Result, "none"))
	return store.DMARCResult{
		Day: now, PolicyDomain: d.RecordAt, Policy: policy, ReportTo: strings.Join(rec.ReportURIAggregate, " "),
		SourceIP: ip.String(), HeaderFrom: d.FromDomain, EnvelopeFrom: res.SPF.Domain,
		Disposition: string(d.Disposition), DKIM: passFail(d.DKIMAligned), SPF: passFail(d.SPFAligned),
		Override: d.Override, AuthResults: strings.Join(auth, " "),
	}, true
}

func field(s string) string { return strings.NewReplacer(":", "", " ", "").Replace(s) }

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Run sends the reports of every finished day at once, then shortly after
// each UTC midnight, until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	for {
		today := r.opts.Now().UTC().Truncate(24 * time.Hour)
		// A few minutes past midnight: late deliveries of the day counted.
		next := today.Add(24*time.Hour + 5*time.Minute)
		switch err := r.Send(ctx, today); {
		case errors.Is(err, ErrLeaseHeld):
			// Look again once the other node's lease would have
			// run out: if it died sending, this one takes over.
			next = r.opts.Now().Add(sendLeaseFor + time.Minute)
		case err != nil:
			r.opts.Logger.Error("DMARC reports not sent, trying again tomorrow", "err", err)
		}
		t := time.NewTimer(next.Sub(r.opts.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Send mails the reports for the days before before, then forgets them.
// A report that cannot be queued is logged and dropped with the others:
// reports are a courtesy, and retrying one tomorrow would send it twice
// to the addresses that did get it.
//
// One node at a time sends (a lease), and each report queued is noted in
// the store at once, so that a node taking over from one that died
// half-way queues only the rest. With another node sending, Send returns
// an error wrapping ErrLeaseHeld.
func (r *Reporter) Send(ctx context.Context, before time.Time) error {
	if ok, err := r.lease(ctx); err != nil {
		return fmt.Errorf("dmarc report: %w", err)
	} else if !ok {
		return ErrLeaseHeld
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.opts.Store.ReleaseLease(rctx, sendLease, r.owner); err != nil {
			r.opts.Logger.Warn("releasing the DMARC report lease", "err", err)
		}
	}()
	rows, err := r.opts.Store.DMARCResults(ctx, before)
	if err != nil {
		return fmt.Errorf("dmarc report: %w", err)
	}
	type key struct {
		domain string
		day    time.Time
	}
	groups := map[key][]store.DMARCResult{}
	var keys []key
	for _, row := range rows {
		k := key{row.PolicyDomain, row.Day}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], row)
	}
	sent := map[string]map[string]bool{} // by day, the notes of reports queued before
	for _, k := range keys {
		day := k.day.UTC().Format(time.DateOnly)
		if sent[day] == nil {
			if sent[day], err = r.sentOn(ctx, day); err != nil {
				return fmt.Errorf("dmarc report: %w", err)
			}
		}
		if sent[day][sentName(day, k.domain)] {
			continue
		}
		// Renewed before each report: a node that took longer than
		// the lease and lost it stops, and the one that took it over
		// goes on from what was noted.
		if ok, err := r.lease(ctx); err != nil || !ok {
			return fmt.Errorf("dmarc report: lost the lease: %w", errors.Join(err, ErrLeaseHeld))
		}
		if err := r.sendOne(ctx, groups[k]); err != nil {
			r.opts.Logger.Warn("DMARC report not sent", "domain", k.domain, "day", day, "err", err)
		}
		if err := r.noteSent(ctx, day, k.domain); err != nil {
			return fmt.Errorf("dmarc report: %w", err)
		}
	}
	if len(rows) > 0 {
		if err := r.opts.Store.DeleteDMARCResults(ctx, before); err != nil {
			return fmt.Errorf("dmarc report: %w", err)
		}
	}
	// The notes of days whose rows are gone are no longer needed.
	names, err := r.opts.Store.ListFiles(ctx, sentPrefix)
	if err != nil {
		return fmt.Errorf("dmarc report: %w", err)
	}
	for _, name := range names {
		day, _, _ := strings.Cut(strings.TrimPrefix(name, sentPrefix), "/")
		if d, err := time.Parse(time.DateOnly, day); err == nil && d.Before(before) {
			if err := r.opts.Store.DeleteFile(ctx, name); err != nil {
				return fmt.Errorf("dmarc report: %w", err)
			}
		}
	}
	return nil
}

// lease takes or renews sendLease.
func (r *Reporter) lease(ctx context.Context) (bool, error) {
	return r.opts.Store.AcquireLease(ctx, sendLease, r.owner, time.Now().Add(sendLeaseFor))
}

// sentOn returns the notes (sentName) of the policy domains whose report
// for day was queued.
func (r *Reporter) sentOn(ctx context.Context, day string) (map[string]bool, error) {
	names, err := r.opts.Store.ListFiles(ctx, sentPrefix+day+"/")
	if err != nil {
		return nil, err
	}
	notes := map[string]bool{}
	for _, n := range names {
		notes[n] = true
	}
	return notes, nil
}

// noteSent notes that domain's report for day was queued.
func (r *Reporter) noteSent(ctx context.Context, day, domain string) error {
	return r.opts.Store.UpdateFile(ctx, sentName(day, domain), func([]byte, bool) ([]byte, bool, error) {
		return []byte{}, true, nil
	})
}

func (r *Reporter) sendOne(ctx context.Context, rows []store.DMARCResult) error {
	first := rows[0]
	begin, end := first.Day, first.Day.Add(24*time.Hour-time.Second)
	var id [8]byte
	rand.Read(id[:])
	reportID := first.Day.Format("20060102") + "." + hex.EncodeToString(id[:])
	xmlBody, err := r.report(rows, reportID, begin, end)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(xmlBody)
	zw.Close()

	var to []string
	for _, uri := range strings.Fields(first.ReportTo) {
		addr, limit, ok := mailtoURI(uri)
		if !ok {
			continue
		}
		if limit > 0 && int64(gz.Len()) > limit {
			r.opts.Logger.Info("DMARC report larger than the receiver accepts", "to", addr, "limit", limit)
			continue
		}
		if err := r.verifyDestination(ctx, first.PolicyDomain, addr); err != nil {
			r.opts.Logger.Info("DMARC report destination not authorised", "domain", first.PolicyDomain, "to", addr, "err", err)
			continue
		}
		to = append(to, addr)
	}
	if len(to) == 0 {
		return nil
	}
	filename := fmt.Sprintf("%s!%s!%d!%d.xml.gz", r.opts.Hostname, first.PolicyDomain, begin.Unix(), end.Unix())
	msg := r.message(first.PolicyDomain, reportID, filename, to, gz.Bytes())
	staged, err := r.opts.Store.Stage(ctx, bytes.NewReader(msg))
	if err != nil {
		return err
	}
	defer staged.Discard()
	env := delivery.Envelope{From: ""} // no bounces about reports
	for _, a := range to {
		env.Recipients = append(env.Recipients, delivery.Recipient{Address: a, Resolved: delivery.Resolved{Remote: []string{a}}})
	}
	if err := r.opts.Outbound.Enqueue(ctx, env, staged); err != nil {
		return err
	}
	r.opts.Logger.Info("DMARC report queued", "domain", first.PolicyDomain, "day", first.Day.Format(time.DateOnly), "to", to, "rows", len(rows))
	return nil
}

// mailtoURI parses a rua entry "mailto:addr[!size]" (RFC 7489 6.2, 6.4).
func mailtoURI(uri string) (addr string, limit int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(uri), "mailto:")
	if !found {
		return "", 0, false
	}
	rest, size, hasSize := strings.Cut(rest, "!")
	if hasSize && size != "" {
		mult := int64(1)
		switch size[len(size)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			size = size[:len(size)-1]
		}
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n <= 0 {
			return "", 0, false
		}
		if n <= math.MaxInt64/mult {
			limit = n * mult
		} // else larger than any report: no limit

	}
	a, err := address.Parse(rest)
	if err != nil {
		return "", 0, false
	}
	return a.String(), limit, true
}

// verifyDestination applies RFC 7489 7.1: a report address outside the
// policy domain's organisational domain must agree to receive its reports
// with a record at <policy domain>._report._dmarc.<its domain>.
func (r *Reporter) verifyDestination(ctx context.Context, policyDomain, addr string) error {
	_, dest, _ := strings.Cut(addr, "@")
	if msgauth.OrgDomain(dest) == msgauth.OrgDomain(policyDomain) {
		return nil
	}
	txts, err := r.opts.Resolver.LookupTXT(ctx, policyDomain+"._report._dmarc."+dest)
	if err != nil {
		if resolver.IsNotFound(err) {
			return fmt.Errorf("no authorisation record")
		}
		return err
	}
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, ";"); strings.EqualFold(strings.ReplaceAll(v, " ", ""), "v=DMARC1") {
			return nil
		}
	}
	return fmt.Errorf("no authorisation record")
}

// message builds the report mail (RFC 7489 7.2.1.1).
func (r *Reporter) message(domain, reportID, filename string, to []string, gz []byte) []byte {
	var b bytes.Buffer
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "=_" + hex.EncodeToString(rnd[:])
	fmt.Fprintf(&b, "From: DMARC reports <postmaster@%s>\r\n", r.opts.Hostname)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n", domain, r.opts.Hostname, reportID)
	fmt.Fprintf(&b, "Date: %s\r\n", r.opts.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.%s@%s>\r\n", reportID, hex.EncodeToString(rnd[:4]), r.opts.Hostname)
	fmt.Fprintf(&b, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary)
	fmt.Fprintf(&b, "This is a DMARC aggregate report for %s from %s (RFC 7489).\r\n\r\n", domain, r.opts.Hostname)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n", boundary)
	fmt.Fprintf(&b, "Content-Disposition: %s\r\n\r\n", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

// report renders the XML (RFC 7489 appendix C).
func (r *Reporter) report(rows []store.DMARCResult, reportID string, begin, end time.Time) ([]byte, error) {
	first := rows[0]
	f := Feedback{
		Version: "1.0",
		Metadata: Metadata{OrgName: r.opts.Hostname, Email: "postmaster@" + r.opts.Hostname, ReportID: reportID,
			DateRange: DateRange{Begin: begin.Unix(), End: end.Unix()}},
		Policy: parsePolicy(first.PolicyDomain, first.Policy),
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Count > rows[j].Count })
	for _, row := range rows {
		rec := XMLRecord{
			Row: Row{SourceIP: row.SourceIP, Count: row.Count, Evaluated: Evaluated{
				Disposition: row.Disposition, DKIM: row.DKIM, SPF: row.SPF}},
			Identifiers: Identifiers{EnvelopeFrom: row.EnvelopeFrom, HeaderFrom: row.HeaderFrom},
		}
		if row.Override != "" {
			rec.Row.Evaluated.Reasons = []Reason{{Type: row.Override}}
		}
		for _, a := range strings.Fields(row.AuthResults) {
			p := strings.Split(a, ":")
			if len(p) != 4 {
				continue
			}
			switch p[0] {
			case "dkim":
				rec.Auth.DKIM = append(rec.Auth.DKIM, DKIMAuth{Domain: p[1], Selector: p[2], Result: p[3]})
			case "spf":
				rec.Auth.SPF = append(rec.Auth.SPF, SPFAuth{Domain: p[1], Scope: p[2], Result: p[3]})
			}
		}
		f.Records = append(f.Records, rec)
	}
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dmarc report: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

func parsePolicy(domain, s string) Policy {
	p := Policy{Domain: domain}
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "p":
			p.P = v
		case "sp":
			p.SP = v
		case "pct":
			p.Pct, _ = strconv.Atoi(v)
		case "adkim":
			p.ADKIM = v
		case "aspf":
			p.ASPF = v
		}
	}
	return p
}
