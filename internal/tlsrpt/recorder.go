package tlsrpt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"mailroom/internal/store"
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
	// maxPolicies bounds the policies of one domain in one day: a
	// domain changes policy rarely; the bound holds if it changes all
	// the time.
	maxPolicies = 10
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
	// Reported is set, in the store, once the day's reports went out:
	// counts a node saves for it later are dropped, not reported again.
	Reported bool `json:"reported,omitempty"`
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

// Files is where the days' records are kept, shared by every node: the
// store's shared files (store.SharedFiles), declared here by their
// consumer. A missing file is an error wrapping store.ErrNotFound.
type Files interface {
	ReadFile(ctx context.Context, name string) ([]byte, error)
	ListFiles(ctx context.Context, prefix string) ([]string, error)
	DeleteFile(ctx context.Context, name string) error
	// UpdateFile is an atomic read-modify-write of one file across every
	// node (see store.SharedFiles).
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) (data []byte, write bool, err error)) error
}

// dayPrefix is where the shared files hold the days: "tlsrpt/<day>.json".
const dayPrefix = "tlsrpt/"

// keepReported is how long a reported day's file stays (emptied) in the
// store, so that a node saving counts for it late drops them rather than
// starting the day over and reporting it a second time.
const keepReported = 7 * 24 * time.Hour

// Recorder aggregates outcomes per UTC day. It counts in memory what this
// node recorded since it last saved, and Flush adds that to the day's
// record in the store, which the counts of every node add up in. Finished
// days wait in the store until their reports are sent. It is safe for
// concurrent use.
type Recorder struct {
	files Files // nil: memory only
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	cur     *DayRecord   // today's counts not yet saved
	pending []*DayRecord // finished days' counts not yet saved
	dirty   bool
}

// NewRecorder returns a Recorder keeping its days in files (nil keeps
// them in memory only: nothing is saved, and finished days are lost).
func NewRecorder(files Files, now func() time.Time, log *slog.Logger) *Recorder {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{files: files, now: now, log: log, cur: newDay(dayOf(now()))}
}

func newDay(d Day) *DayRecord { return &DayRecord{Day: d, Domains: map[string]*DomainRecord{}} }

// clean drops what a record read from the store may hold that no code
// here writes (a null domain, policy or detail; a negative count), so
// that a damaged file cannot crash a node or make it report nonsense.
func (rec *DayRecord) clean() {
	if rec.Domains == nil {
		rec.Domains = map[string]*DomainRecord{}
	}
	rec.Dropped = max(rec.Dropped, 0)
	for dom, dr := range rec.Domains {
		if dr == nil {
			delete(rec.Domains, dom)
			continue
		}
		dr.Policies = slices.DeleteFunc(dr.Policies, func(p *PolicyRecord) bool { return p == nil })
		for _, p := range dr.Policies {
			p.Success, p.Failure = max(p.Success, 0), max(p.Failure, 0)
			p.Details = slices.DeleteFunc(p.Details, func(d *DetailRecord) bool { return d == nil })
			for _, d := range p.Details {
				d.Count = max(d.Count, 0)
			}
		}
	}
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
		if len(dr.Policies) >= maxPolicies {
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

// rollover starts a new day when the clock has passed midnight UTC,
// keeping the finished day's counts for the next Flush. r.mu is held.
func (r *Recorder) rollover() {
	d := dayOf(r.now())
	if d == r.cur.Day {
		return
	}
	if r.dirty && r.files != nil {
		r.pending = append(r.pending, r.cur)
	}
	r.cur = newDay(d)
	r.dirty = false
}

// Flush adds what this node counted since the last Flush to the days'
// records in the store, so that a restart loses nothing recorded before
// it and every node's counts add up. Counts that cannot be saved are kept
// for the next Flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	r.rollover()
	if r.files == nil {
		r.mu.Unlock()
		return nil
	}
	days := r.pending
	if r.dirty {
		days = append(days, r.cur)
		r.cur = newDay(r.cur.Day)
		r.dirty = false
	}
	r.pending = nil
	r.mu.Unlock()

	var errs []error
	for i, day := range days {
		if err := r.merge(ctx, day); err != nil {
			errs = append(errs, err)
			// Put the rest back: they are added at the next Flush.
			r.mu.Lock()
			for _, d := range days[i:] {
				if d.Day == r.cur.Day {
					mergeDay(r.cur, d)
					r.dirty = true
				} else {
					r.pending = append(r.pending, d)
				}
			}
			r.mu.Unlock()
			break
		}
	}
	return errors.Join(errs...)
}

// merge adds day's counts to its record in the store.
func (r *Recorder) merge(ctx context.Context, day *DayRecord) error {
	dropped, tooBig := false, false
	err := r.files.UpdateFile(ctx, dayPrefix+string(day.Day)+".json", func(old []byte, exists bool) ([]byte, bool, error) {
		dropped, tooBig = false, false
		stored := newDay(day.Day)
		if exists {
			if err := json.Unmarshal(old, stored); err != nil || stored.Day != day.Day {
				// Not ours to fix by hand: start the day over
				// rather than never save again.
				r.log.Warn("TLS-RPT records unreadable; starting the day over", "day", day.Day, "err", err)
				stored = newDay(day.Day)
			}
			stored.clean()
		}
		dropped = stored.Reported
		if stored.Reported {
			return nil, false, nil
		}
		before := stored.Dropped
		mergeDay(stored, day)
		data, err := json.Marshal(stored)
		if err == nil && len(data) > store.MaxSharedFileSize {
			// The day's record would outgrow a shared file: keep it
			// as it is and count this node's outcomes as dropped,
			// rather than fail every save from now on.
			stored = newDay(day.Day)
			if err := json.Unmarshal(old, stored); err != nil {
				stored = newDay(day.Day)
			}
			stored.clean()
			stored.Dropped = before + day.outcomes()
			tooBig = true
			data, err = json.Marshal(stored)
		}
		return data, err == nil, err
	})
	if err != nil {
		return fmt.Errorf("tlsrpt: saving %s: %w", day.Day, err)
	}
	if dropped {
		r.log.Info("TLS-RPT counts for a day already reported dropped", "day", day.Day)
	}
	if tooBig {
		r.log.Warn("TLS-RPT records of the day too large to add to; counted as dropped", "day", day.Day, "outcomes", day.outcomes())
	}
	return nil
}

// outcomes is how many outcomes the record counts, dropped ones included.
func (rec *DayRecord) outcomes() int64 {
	n := rec.Dropped
	for _, d := range rec.Domains {
		for _, p := range d.Policies {
			n += p.Success + p.Failure
		}
	}
	return n
}

// mergeDay adds src's counts to dst, within the bounds RecordTLS keeps.
func mergeDay(dst, src *DayRecord) {
	dst.Dropped += src.Dropped
	for dom, sd := range src.Domains {
		dd := dst.Domains[dom]
		if dd == nil {
			if len(dst.Domains) >= MaxDomains {
				for _, p := range sd.Policies {
					dst.Dropped += p.Success + p.Failure
				}
				continue
			}
			dd = &DomainRecord{Sent: sd.Sent}
			dst.Domains[dom] = dd
		}
		for _, sp := range sd.Policies {
			var dp *PolicyRecord
			for _, p := range dd.Policies {
				if p.Type == sp.Type && slices.Equal(p.Strings, sp.Strings) && slices.Equal(p.MXHost, sp.MXHost) {
					dp = p
					break
				}
			}
			if dp == nil {
				if len(dd.Policies) >= maxPolicies {
					dst.Dropped += sp.Success + sp.Failure
					continue
				}
				dp = &PolicyRecord{Type: sp.Type, Strings: slices.Clone(sp.Strings), MXHost: slices.Clone(sp.MXHost)}
				dd.Policies = append(dd.Policies, dp)
			}
			dp.Success += sp.Success
			dp.Failure += sp.Failure
			for _, sdet := range sp.Details {
				found := false
				for _, d := range dp.Details {
					if d.ResultType == sdet.ResultType && d.SendingIP == sdet.SendingIP && d.ReceivingMX == sdet.ReceivingMX && d.ReceivingIP == sdet.ReceivingIP {
						d.Count += sdet.Count
						d.Info = sdet.Info
						found = true
						break
					}
				}
				if !found && len(dp.Details) < MaxDetails {
					c := *sdet
					dp.Details = append(dp.Details, &c)
				}
			}
		}
	}
}

// Finished returns the days before today with records waiting to be
// reported, oldest first, as the store has them (every node's counts
// saved so far). It deletes the files of days reported long ago.
func (r *Recorder) Finished(ctx context.Context) ([]*DayRecord, error) {
	r.mu.Lock()
	r.rollover()
	today := r.cur.Day
	r.mu.Unlock()
	if r.files == nil {
		return nil, nil
	}
	names, err := r.files.ListFiles(ctx, dayPrefix)
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: listing days: %w", err)
	}
	var out []*DayRecord
	for _, name := range names {
		d, ok := strings.CutSuffix(strings.TrimPrefix(name, dayPrefix), ".json")
		if !ok || Day(d) >= today || dayOf(Day(d).Start()) != Day(d) {
			continue
		}
		rec, err := r.load(ctx, Day(d))
		if err != nil {
			r.log.Warn("reading TLS-RPT records", "day", d, "err", err)
			continue
		}
		if rec.Reported {
			if r.now().Sub(rec.Day.Start()) > keepReported {
				if err := r.files.DeleteFile(ctx, name); err != nil {
					r.log.Warn("removing TLS-RPT records", "day", d, "err", err)
				}
			}
			continue
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b *DayRecord) int { return strings.Compare(string(a.Day), string(b.Day)) })
	return out, nil
}

// MarkSent records in the store that domain's report for d went out (or
// was not wanted), so that no node sends it again.
func (r *Recorder) MarkSent(ctx context.Context, d Day, domain string) error {
	return r.update(ctx, d, func(rec *DayRecord) {
		if dr := rec.Domains[domain]; dr != nil {
			dr.Sent = true
		}
	})
}

// Done marks a finished day reported once its reports are sent: its
// counts are forgotten, and any a node saves for it later are dropped.
func (r *Recorder) Done(ctx context.Context, d Day) error {
	return r.update(ctx, d, func(rec *DayRecord) {
		rec.Reported = true
		rec.Domains = map[string]*DomainRecord{}
		rec.Dropped = 0
	})
}

// update changes the stored record of d with fn.
func (r *Recorder) update(ctx context.Context, d Day, fn func(*DayRecord)) error {
	if r.files == nil {
		return nil
	}
	err := r.files.UpdateFile(ctx, dayPrefix+string(d)+".json", func(old []byte, exists bool) ([]byte, bool, error) {
		rec := newDay(d)
		if exists {
			if err := json.Unmarshal(old, rec); err != nil {
				rec = newDay(d)
			}
			rec.clean()
		}
		fn(rec)
		data, err := json.Marshal(rec)
		return data, err == nil, err
	})
	if err != nil {
		return fmt.Errorf("tlsrpt: updating %s: %w", d, err)
	}
	return nil
}

// Today returns a copy of what this node recorded today and has not saved
// yet (all it recorded today, when it keeps records in memory only).
func (r *Recorder) Today() *DayRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollover()
	data, _ := json.Marshal(r.cur)
	var cp DayRecord
	json.Unmarshal(data, &cp)
	return &cp
}

// load reads a day's record from the store.
func (r *Recorder) load(ctx context.Context, d Day) (*DayRecord, error) {
	data, err := r.files.ReadFile(ctx, dayPrefix+string(d)+".json")
	if err != nil {
		return nil, err
	}
	var rec DayRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Day != d {
		return nil, fmt.Errorf("records of %s unreadable: %v", d, err)
	}
	rec.clean()
	return &rec, nil
}
