package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAutoconfigForeignDomain: a domain this server does not host is "not
// found" to both Thunderbird's autoconfig (HTTP 404) and Outlook's
// Autodiscover (ErrorCode 500, "The e-mail address cannot be found",
// [MS-OXDSCLI]), so clients go on to their other methods; it used to be a
// server error (HTTP 500 and ErrorCode 603).
func TestAutoconfigForeignDomain(t *testing.T) {
	r := newRig(t)
	c := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{
		"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob@elsewhere.example",
		"/mail/config-v1.1.xml?emailaddress=bob@elsewhere.example",
	} {
		resp, err := c.Get(r.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	req := `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>bob@elsewhere.example</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
	resp, err := c.Post(r.base+"/autodiscover/autodiscover.xml", "text/xml", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<ErrorCode>500</ErrorCode>") {
		t.Errorf("Autodiscover for a foreign domain: %s\n%s", resp.Status, body)
	}
}
