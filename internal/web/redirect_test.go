package web

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/listener"
	"mailroom/internal/server"
)

// TestHTTPRedirectsToHTTPS: with both listeners on, plain HTTP sends
// browsers to HTTPS (same host, the path kept, nothing else), except client
// autoconfiguration, which some clients fetch over HTTP only.
func TestHTTPRedirectsToHTTPS(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{HTTP: "127.0.0.1:0", HTTPS: "127.0.0.1:18443", IMAPS: ":993", Submissions: ":465"}
	cfg.TLS.SelfSigned = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), map[string]listener.Factory{"http": Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Skipf("port 18443 busy? %v", err)
	}
	defer srv.Shutdown(context.Background())
	if _, err := srv.Deps().Store.CreateDomain(context.Background(), "example.test"); err != nil {
		t.Fatal(err)
	}
	var plain, secure string
	for _, l := range srv.Listening() {
		switch l.Key {
		case "http":
			plain = l.Addr
		case "https":
			secure = l.Addr
		}
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("http://" + plain + "/mail/INBOX?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://127.0.0.1:18443/mail/INBOX" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A Host header cannot send the browser elsewhere than a host name.
	req, _ := http.NewRequest("GET", "http://"+plain+"/", nil)
	req.Host = "evil.example/path"
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://mail.example.test:18443/") {
		t.Fatalf("redirect with a bad Host: %q", loc)
	}
	resp, err = c.Get("http://" + plain + "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		t.Fatalf("autoconfig over HTTP: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = c.Get("https://" + secure + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("HTTPS login page: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestClientSetupPorts: client setup names the ports the listeners are
// bound to (mailroom dev's 2993, not 993), and a standard one only for an
// ephemeral ":0".
func TestClientSetupPorts(t *testing.T) {
	c := config.Default()
	c.Listen = config.Listen{IMAPS: "127.0.0.1:2993", IMAP: ":143", Submission: "127.0.0.1:0"}
	srv := clientServer(c)
	if len(srv.IMAP) != 2 || srv.IMAP[0].Port != 2993 || srv.IMAP[1].Port != 143 || len(srv.POP3) != 0 ||
		len(srv.Submission) != 1 || srv.Submission[0].Port != 587 {
		t.Fatalf("client setup: %+v", srv)
	}
}
