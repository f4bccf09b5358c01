package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestBoundedLabels: names outside the fixed sets fall into "other", so a
// client sending made-up commands cannot create series.
func TestBoundedLabels(t *testing.T) {
	m := New()
	p := m.Protocol("imap", []string{"NOOP", "FETCH"})
	p.Command("NOOP", time.Millisecond)
	for i := range 100 {
		p.Command("X-MADE-UP-"+strings.Repeat("A", i), time.Millisecond)
	}
	m.Protocol("gopher", []string{"GET"}).Command("GET", time.Millisecond)
	d := m.Deliveries("smtp")
	d.Rejected("no such reason")
	d.Rejected(ReasonQuota)
	m.Login("finger", LoginOK)
	m.Login("imap", "surprise")

	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]map[string]float64{} // family -> joined label values -> value or count
	for _, f := range fams {
		series[f.GetName()] = map[string]float64{}
		for _, s := range f.GetMetric() {
			var vals []string
			for _, l := range s.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = s.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				v = float64(s.GetHistogram().GetSampleCount())
			}
			series[f.GetName()][strings.Join(vals, ",")] = v
		}
	}
	cmds := series["mailroom_command_duration_seconds"]
	if len(cmds) != 3 || cmds["NOOP,imap"] != 1 || cmds["other,imap"] != 100 || cmds["GET,other"] != 1 {
		t.Errorf("command series: %v, want imap NOOP 1, imap other 100, other GET 1", cmds)
	}
	rej := series["mailroom_deliveries_rejected_total"]
	if rej["smtp,other"] != 1 || rej["smtp,quota"] != 1 || len(rej) != len(Reasons) {
		t.Errorf("rejected: %v", rej)
	}
	logins := series["mailroom_logins_total"]
	if logins["other,ok"] != 1 || logins["imap,error"] != 1 {
		t.Errorf("logins: %v", logins)
	}
}

// TestNilSafe: the nil values the instrumented packages may hold count
// nothing and do not panic.
func TestNilSafe(t *testing.T) {
	var m *Metrics
	m.Login("imap", LoginOK)
	m.Commit(time.Millisecond, 3)
	m.FeedLag(time.Millisecond)
	m.BodyRead(10)
	m.BodyWritten(10)
	var p *Protocol
	p.SessionOpened()
	p.SessionClosed()
	p.Command("NOOP", time.Millisecond)
	var d *Deliveries
	d.Accepted()
	d.Rejected(ReasonSize)
}
