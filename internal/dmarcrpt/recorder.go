// Package dmarcrpt sends DMARC aggregate reports (RFC 7489 section 7.2):
// it counts the DMARC outcomes of the mail we receive per author domain and
// UTC day, and once a day mails each domain whose DMARC record asks for
// them (rua=mailto:) an XML report of who sent mail in its name and how it
// authenticated.
//
// The inbound DMARC evaluation produces the outcomes; this package only
// aggregates and reports them.
package dmarcrpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds on one day's records.
const (
	// MaxDomains is how many policy domains one day records.
	MaxDomains = 10000
	// MaxRows is how many distinct rows (source address and results)
	// one domain keeps a day; more messages alike in those still count.
	MaxRows = 1000
)

// Policy is a domain's published DMARC policy (RFC 7489 section 6.3), as
// the report's policy_published repeats it.
type Policy struct {
	ADKIM string `json:"adkim"` // "r" or "s"
	ASPF  string `json:"aspf"`
	P     string `json:"p"` // none, quarantine, reject
	SP    string `json:"sp"`
	Pct   int    `json:"pct"`
	Fo    string `json:"fo,omitempty"`
}

// DKIMResult is one DKIM signature's verification result.
type DKIMResult struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector,omitempty"`
	Result   string `json:"result"` // none, pass, fail, policy, neutral, temperror, permerror
}

// SPFResult is the SPF check's result.
type SPFResult struct {
	Domain string `json:"domain"`
	Scope  string `json:"scope,omitempty"` // "mfrom" or "helo"
	Result string `json:"result"`          // none, neutral, pass, fail, softfail, temperror, permerror
}

// Reason is why the disposition differs from the policy (RFC 7489
// Appendix C, PolicyOverrideType).
type Reason struct {
	Type    string `json:"type"` // forwarded, sampled_out, trusted_forwarder, mailing_list, local_policy, other
	Comment string `json:"comment,omitempty"`
}

// Evaluation is the DMARC outcome of one message received.
type Evaluation struct {
	// PolicyDomain is where the DMARC record was found: the From domain
	// or its organizational domain.
	PolicyDomain string
	Policy       Policy
	SourceIP     string
	HeaderFrom   string // the RFC5322.From domain
	EnvelopeFrom string // the RFC5321.MailFrom domain; "" for the null sender
	Disposition  string // none, quarantine, reject
	DKIM, SPF    string // the DMARC results: "pass" if aligned and passing, else "fail"
	Reasons      []Reason
	DKIMResults  []DKIMResult
	SPFResult    SPFResult
}

// Row is a set of alike messages and how many there were.
type Row struct {
	SourceIP     string       `json:"source_ip"`
	HeaderFrom   string       `json:"header_from"`
	EnvelopeFrom string       `json:"envelope_from,omitempty"`
	Disposition  string       `json:"disposition"`
	DKIM         string       `json:"dkim"`
	SPF          string       `json:"spf"`
	Reasons      []Reason     `json:"reasons,omitempty"`
	DKIMResults  []DKIMResult `json:"dkim_results,omitempty"`
	SPFResult    SPFResult    `json:"spf_result"`
	Count        int64        `json:"count"`
}

func (r *Row) same(e *Evaluation) bool {
	return r.SourceIP == e.SourceIP && r.HeaderFrom == e.HeaderFrom && r.EnvelopeFrom == e.EnvelopeFrom &&
		r.Disposition == e.Disposition && r.DKIM == e.DKIM && r.SPF == e.SPF &&
		slices.Equal(r.Reasons, e.Reasons) && slices.Equal(r.DKIMResults, e.DKIMResults) && r.SPFResult == e.SPFResult
}

// DomainRecord is one policy domain's day.
type DomainRecord struct {
	Policy  Policy `json:"policy"` // the latest seen
	Rows    []*Row `json:"rows"`
	Dropped int64  `json:"dropped,omitempty"` // messages beyond MaxRows rows
	Sent    bool   `json:"sent,omitempty"`
}

// Day is a UTC day, "2006-01-02".
type Day string

func dayOf(t time.Time) Day { return Day(t.UTC().Format(time.DateOnly)) }

// Start is the day's first instant.
func (d Day) Start() time.Time {
	t, _ := time.Parse(time.DateOnly, string(d))
	return t
}

// DayRecord is one day's evaluations, by policy domain.
type DayRecord struct {
	Day     Day                      `json:"day"`
	Domains map[string]*DomainRecord `json:"domains"`
	Dropped int64                    `json:"dropped,omitempty"`
}

// Recorder aggregates evaluations per UTC day in memory and saves the day
// to a directory on Flush. It is safe for concurrent use.
type Recorder struct {
	dir string
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	cur   *DayRecord
	dirty bool
}

// NewRecorder returns a Recorder keeping its days in dir ("": memory only).
func NewRecorder(dir string, now func() time.Time, log *slog.Logger) *Recorder {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{dir: dir, now: now, log: log}
	d := dayOf(now())
	if r.cur = r.load(d); r.cur == nil {
		r.cur = &DayRecord{Day: d, Domains: map[string]*DomainRecord{}}
	}
	return r
}

// Record counts one message's evaluation.
func (r *Recorder) Record(e Evaluation) {
	dom := strings.ToLower(strings.TrimSuffix(e.PolicyDomain, "."))
	if dom == "" {
		return
	}
	e.HeaderFrom = strings.ToLower(e.HeaderFrom)
	e.EnvelopeFrom = strings.ToLower(e.EnvelopeFrom)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollover()
	dr := r.cur.Domains[dom]
	if dr == nil {
		if len(r.cur.Domains) >= MaxDomains {
			r.cur.Dropped++
			return
		}
		dr = &DomainRecord{}
		r.cur.Domains[dom] = dr
	}
	dr.Policy = e.Policy
	r.dirty = true
	for _, row := range dr.Rows {
		if row.same(&e) {
			row.Count++
			return
		}
	}
	if len(dr.Rows) >= MaxRows {
		dr.Dropped++
		return
	}
	dr.Rows = append(dr.Rows, &Row{SourceIP: e.SourceIP, HeaderFrom: e.HeaderFrom, EnvelopeFrom: e.EnvelopeFrom,
		Disposition: e.Disposition, DKIM: e.DKIM, SPF: e.SPF, Reasons: slices.Clone(e.Reasons),
		DKIMResults: slices.Clone(e.DKIMResults), SPFResult: e.SPFResult, Count: 1})
}

// rollover starts a new day after midnight UTC, saving the old one. r.mu
// is held.
func (r *Recorder) rollover() {
	d := dayOf(r.now())
	if d == r.cur.Day {
		return
	}
	if err := r.save(r.cur); err != nil {
		r.log.Warn("saving DMARC report records", "day", r.cur.Day, "err", err)
	}
	r.cur = &DayRecord{Day: d, Domains: map[string]*DomainRecord{}}
	r.dirty = false
}

// Flush saves today's record if it changed.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollover()
	if !r.dirty {
		return nil
	}
	if err := r.save(r.cur); err != nil {
		return err
	}
	r.dirty = false
	return nil
}

// Today returns a copy of today's record so far.
func (r *Recorder) Today() *DayRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollover()
	data, _ := json.Marshal(r.cur)
	var cp DayRecord
	json.Unmarshal(data, &cp)
	return &cp
}

// Finished returns the saved days before today, oldest first.
func (r *Recorder) Finished() ([]*DayRecord, error) {
	r.mu.Lock()
	r.rollover()
	today := r.cur.Day
	r.mu.Unlock()
	if r.dir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("dmarcrpt: listing %s: %w", r.dir, err)
	}
	var out []*DayRecord
	for _, e := range ents {
		d, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || Day(d) >= today || dayOf(Day(d).Start()) != Day(d) {
			continue
		}
		if rec := r.load(Day(d)); rec != nil {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b *DayRecord) int { return strings.Compare(string(a.Day), string(b.Day)) })
	return out, nil
}

// Done forgets a finished day.
func (r *Recorder) Done(d Day) error {
	if r.dir == "" {
		return nil
	}
	if err := os.Remove(r.path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dmarcrpt: %w", err)
	}
	return nil
}

func (r *Recorder) path(d Day) string { return filepath.Join(r.dir, string(d)+".json") }

func (r *Recorder) load(d Day) *DayRecord {
	if r.dir == "" {
		return nil
	}
	data, err := os.ReadFile(r.path(d))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.log.Warn("reading DMARC report records", "day", d, "err", err)
		}
		return nil
	}
	var rec DayRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Day != d {
		r.log.Warn("DMARC report records unreadable", "day", d, "err", err)
		return nil
	}
	if rec.Domains == nil {
		rec.Domains = map[string]*DomainRecord{}
	}
	return &rec
}

// save writes a day through a temporary file and a rename.
func (r *Recorder) save(rec *DayRecord) error {
	if r.dir == "" {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("dmarcrpt: %w", err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("dmarcrpt: %w", err)
	}
	f, err := os.CreateTemp(r.dir, string(rec.Day)+".*.tmp")
	if err != nil {
		return fmt.Errorf("dmarcrpt: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), r.path(rec.Day))
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("dmarcrpt: saving %s: %w", rec.Day, werr)
	}
	return nil
}
