package autoconfig

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"mailroom/internal/address"
)

// tbConfig mirrors the clientConfig format of
// wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat. It is
// written apart from the production types, so that a mistake in a struct tag
// does not cancel out.
type tbConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID               string     `xml:"id,attr"`
		Domains          []string   `xml:"domain"`
		DisplayName      string     `xml:"displayName"`
		DisplayShortName string     `xml:"displayShortName"`
		Incoming         []tbServer `xml:"incomingServer"`
		Outgoing         []tbServer `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

type tbServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

func tbs(typ string, port int, socket string) tbServer {
	return tbServer{typ, "mail.example.org", port, socket, "%EMAILADDRESS%", "password-cleartext"}
}

func readClientConfig(t *testing.T, resp *http.Response) tbConfig {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	wantHeader(t, resp, "Content-Type", "application/xml; charset=utf-8")
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), "<?xml") {
		t.Errorf("no XML declaration: %.60q", body)
	}
	var c tbConfig
	if err := xml.Unmarshal(body, &c); err != nil {
		t.Fatalf("parsing clientConfig: %v\n%s", err, body)
	}
	return c
}

func TestClientConfigWellKnown(t *testing.T) {
	ts := serve(t, testServer())
	resp := get(t, ts, "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+url.QueryEscape("Bob@Example.ORG"))
	c := readClientConfig(t, resp)
	// Nothing personal is in the document, so it may be cached.
	wantHeader(t, resp, "Cache-Control", "public, max-age=3600")

	if c.Version != "1.1" {
		t.Errorf("version %q", c.Version)
	}
	p := c.Provider
	if p.ID != "example.org" || !reflect.DeepEqual(p.Domains, []string{"example.org"}) {
		t.Errorf("provider id %q, domains %q", p.ID, p.Domains)
	}
	if p.DisplayName != "Example mail" || p.DisplayShortName != "example.org" {
		t.Errorf("displayName %q, displayShortName %q", p.DisplayName, p.DisplayShortName)
	}
	wantIn := []tbServer{
		tbs("imap", 993, "SSL"), tbs("imap", 143, "STARTTLS"),
		tbs("pop3", 995, "SSL"), tbs("pop3", 110, "STARTTLS"),
	}
	if !reflect.DeepEqual(p.Incoming, wantIn) {
		t.Errorf("incomingServer:\n got %v\nwant %v", p.Incoming, wantIn)
	}
	wantOut := []tbServer{tbs("smtp", 465, "SSL"), tbs("smtp", 587, "STARTTLS")}
	if !reflect.DeepEqual(p.Outgoing, wantOut) {
		t.Errorf("outgoingServer:\n got %v\nwant %v", p.Outgoing, wantOut)
	}
}

func TestClientConfigHead(t *testing.T) {
	ts := serve(t, testServer())
	resp, err := ts.Client().Head(ts.URL + "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.org")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		t.Fatalf("HEAD: status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestClientConfigHost(t *testing.T) {
	ts := serve(t, testServer())

	// Host autoconfig.<domain>, without emailaddress, as older clients ask.
	c := readClientConfig(t, get(t, ts, "autoconfig.example.net:8080", "/mail/config-v1.1.xml"))
	if c.Provider.ID != "example.net" {
		t.Errorf("domain from Host: %q, want example.net", c.Provider.ID)
	}
	// The emailaddress parameter names the domain being set up, and it wins
	// over the Host header.
	c = readClientConfig(t, get(t, ts, "autoconfig.example.net", "/mail/config-v1.1.xml?emailaddress=bob%40example.org"))
	if c.Provider.ID != "example.org" {
		t.Errorf("domain from emailaddress: %q, want example.org", c.Provider.ID)
	}
	// A domain in the Host header that is not ours.
	resp := get(t, ts, "autoconfig.elsewhere.com", "/mail/config-v1.1.xml")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("foreign Host: status %d, want 404", resp.StatusCode)
	}
}

// longAddress returns an address that is well formed but longer than the
// 254 octets that SMTP allows.
func longAddress() string {
	return strings.Repeat("a", 60) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "org"
}

func TestParseAddressLength(t *testing.T) {
	long := longAddress()
	if _, err := address.Parse(long); err != nil {
		t.Fatalf("the long test address should be well formed: %v", err)
	}
	if _, err := parseAddress(long); err == nil {
		t.Fatalf("parseAddress accepted %d octets", len(long))
	}
}

func TestClientConfigErrors(t *testing.T) {
	ts := serve(t, testServer())
	for _, tc := range []struct {
		name, host, path string
		status           int
	}{
		{"foreign domain", "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40elsewhere.com", http.StatusNotFound},
		{"malformed address", "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob", http.StatusBadRequest},
		{"empty address", "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=", http.StatusBadRequest},
		{"markup in address", "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=" + url.QueryEscape("<b>@example.org"), http.StatusBadRequest},
		{"long address", "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=" + url.QueryEscape(longAddress()), http.StatusBadRequest},
		{"long query", "example.org", "/.well-known/autoconfig/mail/config-v1.1.xml?x=" + strings.Repeat("x", 2000), http.StatusBadRequest},
		{"bad Host", "autoconfig.bad_host.org", "/mail/config-v1.1.xml", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, ts, tc.host, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			wantHeader(t, resp, "Cache-Control", "no-store")
			wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
		})
	}

	resp, err := http.Post(ts.URL+"/mail/config-v1.1.xml", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestClientConfigLookupError(t *testing.T) {
	ts := serveHandler(t, New(testServer(), failingLookup))
	resp := get(t, ts, "", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.org")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
}

func TestClientConfigProtocolOff(t *testing.T) {
	srv := testServer()
	srv.POP3 = nil
	srv.Submission = srv.Submission[1:] // 587 only
	c := readClientConfig(t, get(t, serve(t, srv), "", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.org"))
	for _, s := range c.Provider.Incoming {
		if s.Type != "imap" {
			t.Errorf("incomingServer %v with POP3 off", s)
		}
	}
	if want := []tbServer{tbs("smtp", 587, "STARTTLS")}; !reflect.DeepEqual(c.Provider.Outgoing, want) {
		t.Errorf("outgoingServer %v, want %v", c.Provider.Outgoing, want)
	}

	// With nothing to receive mail from, there is no configuration.
	srv.IMAP = nil
	resp := get(t, serve(t, srv), "", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.org")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("no incoming protocol: status %d, want 404", resp.StatusCode)
	}
}

// TestClientConfigEscapes checks that markup in the configured display name
// reaches the client as text.
func TestClientConfigEscapes(t *testing.T) {
	srv := testServer()
	srv.DisplayName = `Mail & more </displayName><x a="1">`
	c := readClientConfig(t, get(t, serve(t, srv), "", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.org"))
	if c.Provider.DisplayName != srv.DisplayName {
		t.Fatalf("displayName %q, want %q", c.Provider.DisplayName, srv.DisplayName)
	}
}
