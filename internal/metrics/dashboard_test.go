package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	dto "github.com/prometheus/client_model/go"

	"mailroom/internal/testrig"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

var metricName = regexp.MustCompile(`\b(?:mailroom|go|process)_[a-z0-9_]+\b`)

// TestGrafanaDashboard: docs/grafana/mailroom.json parses, every panel
// queries the datasource variable, every metric its queries use is
// exposed by a running server, and every mailroom_ family the server
// exposes has a panel: the dashboard cannot rot unnoticed.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana/mailroom.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("docs/grafana/mailroom.json: %v", err)
	}
	hasDS := false
	var exprs []string
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" {
			hasDS = true
		}
		exprs = append(exprs, string(v.Query))
	}
	if !hasDS {
		t.Error("no datasource variable named datasource")
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the datasource variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	// A server that has done a little of everything the vectors need
	// to show a series: an IMAP session with a command.
	r := start(t)
	r.Account("ann@example.test")
	c, err := imapclient.DialTLS(r.Addr("imaps"), &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("ann@example.test", testrig.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s := fetch(t, r)

	used := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			family := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				base, ok := strings.CutSuffix(name, suffix)
				if f := s[base]; ok && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
					family = base
				}
			}
			used[family] = true
			if s[family] == nil {
				t.Errorf("the dashboard queries %s, which the server does not expose", name)
			}
		}
	}
	for name := range s {
		if strings.HasPrefix(name, "mailroom_") && !used[name] {
			t.Errorf("the server exposes %s, and no panel shows it", name)
		}
	}
}
