package tlsrpt

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

// Bounds on what one day's records hold, so that a flood of domains or of
// distinct failures cannot grow memory or the report without limit.
const (
	// MaxDomains is how many policy domains one day records; outcomes
	// for more are counted in Dropped only.
	MaxDomains = 10000
	// MaxDetails is how many distinct failure details one policy keeps;
	// further failures still count in the summary.
	MaxDetails = 100
	// maxDetailText bounds a failure's additional information.
	maxDetailText = 200
)

// Day is the UTC calendar day reports cover, "2006-01-02".
type Day string

func dayOf(t time.Time) Day { return Day(t.UTC().Format(time.DateOnly)) }

// Start is the first instant of the day.
func (d Day) Start() time.Time {
	t, _ := time.Parse(time.DateOnly, string(d))
	return t
}

// DayRecord is one day's outcomes, by policy domain.
type DayRecord struct {
	Day     Day                      `json:"day"`
	Domains map[string]*DomainRecord `json:"domains"`
	Dropped int64                    `json:"dropped,omitempty"`
}

// DomainRecord is one policy domain's outcomes, by policy.
type DomainRecord struct {
	Policies []*PolicyRecord `json:"policies"`
	// Sent is set once the day's report went out (or was not wanted).
	Sent bool `json:"sent,omitempty"`
}

// PolicyRecord aggregates the sessions under one policy.
type PolicyRecord struct {
	Type    string          `json:"type"`
	Strings []string        `json:"strings,omitempty"`
	MXHost  []string        `json:"mx_host,omitempty"`
	Success int64           `json:"success"`
	Failure int64           `json:"failure"`
	Details []*DetailRecord `json:"details,omitempty"`
}

// DetailRecord counts failures alike in result type and hosts.
type DetailRecord struct {
	ResultType  string `json:"result_type"`
	SendingIP   string `json:"sending_ip,omitempty"`
	ReceivingMX string `json:"receiving_mx,omitempty"`
	ReceivingIP string `json:"receiving_ip,omitempty"`
	Info        string `json:"info,omitempty"`
	Count       int64  `json:"count"`
}

// Recorder aggregates outcomes per UTC day. It keeps the current day in
// memory and saves it to Dir on Flush; finished days wait in Dir until
// their reports are sent. It is safe for concurrent use.
type Recorder struct {
	dir string
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	cur   *DayRecord
	dirty bool
}

// NewRecorder returns a Recorder keeping its days in dir ("" keeps them in
// memory only, and finished days are lost).
func NewRecorder(dir string, now func() time.Time, log *slog.Logger) *Recorder {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{dir: dir, now: now, log: log}
	d := dayOf(now())
	r.cur = r.load(d)
	if r.cur == nil {
		r.cur = &DayRecord{Day: d, Domains: map[string]*DomainRecord{}}
	}
	return r
}

// RecordTLS adds one outcome to today's record.
func (r *Recorder) RecordTLS(o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollover()
	dom := strings.ToLower(strings.TrimSuffix(o.PolicyDomain, "."))
	if dom == "" {
		return
	}
	dr := r.cur.Domains[dom]
	if dr == nil {
		if len(r.cur.Domains) >= MaxDomains {
			r.cur.Dropped++
			return
		}
		dr = &DomainRecord{}
		r.cur.Domains[dom] = dr
	}
	var pr *PolicyRecord
	for _, p := range dr.Policies {
		if p.Type == o.PolicyType && slices.Equal(p.Strings, o.PolicyString) && slices.Equal(p.MXHost, o.MXHost) {
			pr = p
			break
		}
	}
	if pr == nil {
		// A domain changes policy rarely; a bound still holds if it
		// changes all the time.
		if len(dr.Policies) >= 10 {
			r.cur.Dropped++
			return
		}
		pr = &PolicyRecord{Type: o.PolicyType, Strings: slices.Clone(o.PolicyString), MXHost: slices.Clone(o.MXHost)}
		dr.Policies = append(dr.Policies, pr)
	}
	r.dirty = true
	if o.Success {
		pr.Success++
		return
	}
	pr.Failure++
	info := o.Detail
	if len(info) > maxDetailText {
		info = info[:maxDetailText]
	}
	for _, d := range pr.Details {
		if d.ResultType == o.ResultType && d.SendingIP == o.SendingIP && d.ReceivingMX == o.ReceivingMX && d.ReceivingIP == o.ReceivingIP {
			d.Count++
			d.Info = info // the latest says most
			return
		}
	}
	if len(pr.Details) < MaxDetails {
		pr.Details = append(pr.Details, &DetailRecord{ResultType: o.ResultType, SendingIP: o.SendingIP,
			ReceivingMX: o.ReceivingMX, ReceivingIP: o.ReceivingIP, Info: info, Count: 1})
	}
}

// rollover starts a new day when the clock has passed midnight UTC, saving
// the finished one for the reporter. r.mu is held.
func (r *Recorder) rollover() {
	d := dayOf(r.now())
	if d == r.cur.Day {
		return
	}
	if err := r.save(r.cur); err != nil {
		r.log.Warn("saving TLS-RPT records", "day", r.cur.Day, "err", err)
	}
	r.cur = &DayRecord{Day: d, Domains: map[string]*DomainRecord{}}
	r.dirty = false
}

// Flush saves today's record, if it changed, so that a restart loses
// nothing recorded before it.
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

// Finished returns the days before today with records waiting to be
// reported, oldest first.
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
		return nil, fmt.Errorf("tlsrpt: listing %s: %w", r.dir, err)
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

// Done forgets a finished day once its reports are sent.
func (r *Recorder) Done(d Day) error {
	if r.dir == "" {
		return nil
	}
	if err := os.Remove(r.path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tlsrpt: %w", err)
	}
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

func (r *Recorder) path(d Day) string { return filepath.Join(r.dir, string(d)+".json") }

func (r *Recorder) load(d Day) *DayRecord {
	if r.dir == "" {
		return nil
	}
	data, err := os.ReadFile(r.path(d))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.log.Warn("reading TLS-RPT records", "day", d, "err", err)
		}
		return nil
	}
	var rec DayRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Day != d {
		r.log.Warn("TLS-RPT records unreadable", "day", d, "err", err)
		return nil
	}
	if rec.Domains == nil {
		rec.Domains = map[string]*DomainRecord{}
	}
	return &rec
}

// save writes a day's record through a temporary file and a rename.
func (r *Recorder) save(rec *DayRecord) error {
	if r.dir == "" {
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("tlsrpt: %w", err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("tlsrpt: %w", err)
	}
	f, err := os.CreateTemp(r.dir, string(rec.Day)+".*.tmp")
	if err != nil {
		return fmt.Errorf("tlsrpt: %w", err)
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
		return fmt.Errorf("tlsrpt: saving %s: %w", rec.Day, werr)
	}
	return nil
}
