package mtasts

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPublished(t *testing.T) {
	p := Published{Mode: Testing, MX: []string{"Mail.Example.org."}, MaxAge: 7 * 24 * time.Hour}
	if got := p.Text(); got != "version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmax_age: 604800\r\n" {
		t.Errorf("Text = %q", got)
	}
	// What we publish, we parse (and so do other senders).
	parsed, err := Parse([]byte(p.Text()))
	if err != nil || parsed.Mode != Testing || !parsed.Matches("mail.example.org") || parsed.MaxAge != 7*24*time.Hour {
		t.Errorf("Parse(Text) = %+v, %v", parsed, err)
	}
	id, ok := ParseRecord([]string{p.Record()})
	if !ok || id != p.ID() || len(id) != 20 {
		t.Errorf("record %q: id %q, %v", p.Record(), id, ok)
	}
	q := p
	q.Mode = Enforce
	if q.ID() == p.ID() {
		t.Error("the id did not change with the policy")
	}
	if p.ID() != (Published{Mode: Testing, MX: []string{"Mail.Example.org."}, MaxAge: 7 * 24 * time.Hour}).ID() {
		t.Error("the id is not stable")
	}
}

func TestHandler(t *testing.T) {
	p := Published{Mode: Enforce, MX: []string{"mail.example.org"}, MaxAge: 86400 * time.Second}
	h := Handler(p, func(_ context.Context, d string) (bool, error) { return d == "example.org", nil })
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(host string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/.well-known/mta-sts.txt", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get("MTA-STS.example.org:443")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || body != p.Text() {
		t.Errorf("our domain: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, host := range []string{"mta-sts.other.org", "example.org", "mail.example.org", "mta-sts."} {
		if resp, _ := get(host); resp.StatusCode != 404 {
			t.Errorf("Host %s: %d, want 404", host, resp.StatusCode)
		}
	}
}
