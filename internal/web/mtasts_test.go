package web

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/mtasts"
	"mailroom/internal/server"
)

// TestMTASTSPolicyServed: the HTTPS listener serves our MTA-STS policy to
// Host mta-sts.DOMAIN for the domains we host, as [mta_sts] describes it,
// and to no other host.
func TestMTASTSPolicyServed(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{HTTPS: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	cfg.MTASTS.Mode = "enforce"
	cfg.MTASTS.MaxAge = config.Duration(30 * 24 * time.Hour)
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{"http": Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if _, err := srv.Deps().Store.CreateDomain(context.Background(), "example.test"); err != nil {
		t.Fatal(err)
	}
	addr := srv.Listening()[0].Addr
	// The certificate is self-signed for the host name; what is checked
	// here is the document.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(host string) (int, string, []byte) {
		req, _ := http.NewRequest("GET", "https://"+addr+"/.well-known/mta-sts.txt", nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), body
	}
	code, ctype, body := get("mta-sts.example.test")
	if code != 200 || ctype != "text/plain; charset=utf-8" {
		t.Fatalf("policy: %d %q %q", code, ctype, body)
	}
	p, err := mtasts.Parse(body)
	if err != nil || p.Mode != mtasts.Enforce || !p.Matches("mail.example.test") || p.MaxAge != 30*24*time.Hour {
		t.Errorf("served policy %q parses to %+v, %v", body, p, err)
	}
	if string(body) != mtasts.FromConfig(cfg).Text() {
		t.Errorf("served %q, but domain dns derives its id from %q", body, mtasts.FromConfig(cfg).Text())
	}
	for _, host := range []string{"mta-sts.other.test", "mail.example.test"} {
		if code, _, _ := get(host); code != http.StatusNotFound {
			t.Errorf("Host %s: %d, want 404", host, code)
		}
	}
}
