package autoconfig

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const nsRequest = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"

// outlookRequest is the body that Outlook posts.
func outlookRequest(email string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="` + nsRequest + `">
  <Request>
    <EMailAddress>` + email + `</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
}

// The response, mirrored from the POX reference with every namespace spelled
// out. Unmarshaling checks the namespaces: Account and what it contains must
// inherit responseschema/2006a from Response.
type poxAutodiscover struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLName xml.Name
		Account *struct {
			AccountType string        `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a AccountType"`
			Action      string        `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Action"`
			Protocol    []poxProtocol `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Protocol"`
		} `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Account"`
		Error *struct {
			Time      string `xml:"Time,attr"`
			ID        string `xml:"Id,attr"`
			ErrorCode int    `xml:"ErrorCode"`
			Message   string `xml:"Message"`
		} `xml:"Error"`
	} `xml:"Response"`
}

type poxProtocol struct {
	Type           string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Type"`
	Server         string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Server"`
	Port           int    `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Port"`
	LoginName      string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a LoginName"`
	DomainRequired string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a DomainRequired"`
	SPA            string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a SPA"`
	SSL            string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a SSL"`
	Encryption     string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Encryption"`
	AuthRequired   string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a AuthRequired"`
}

func pox(typ string, port int, enc string) poxProtocol {
	return poxProtocol{typ, "mail.example.org", port, "bob@example.org", "off", "off", "on", enc, "on"}
}

func post(t *testing.T, ts *httptest.Server, path, body string) *http.Response {
	t.Helper()
	resp, err := ts.Client().Post(ts.URL+path, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readPOX(t *testing.T, resp *http.Response, status int) poxAutodiscover {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	wantHeader(t, resp, "Content-Type", "text/xml; charset=utf-8")
	wantHeader(t, resp, "Cache-Control", "no-store")
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	var doc poxAutodiscover
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("parsing response: %v\n%s", err, body)
	}
	return doc
}

// wantPOXError checks an Error response. inProvider says whether Response
// should carry the Outlook namespace.
func wantPOXError(t *testing.T, doc poxAutodiscover, code int, inProvider bool) {
	t.Helper()
	if doc.Response.Account != nil {
		t.Errorf("error response with an Account")
	}
	e := doc.Response.Error
	if e == nil {
		t.Fatalf("no Error in response")
	}
	if e.ErrorCode != code {
		t.Errorf("ErrorCode %d (%s), want %d", e.ErrorCode, e.Message, code)
	}
	if e.Message == "" {
		t.Errorf("no Message")
	}
	if _, err := time.Parse(adTimeFormat, e.Time); err != nil {
		t.Errorf("Time %q: %v", e.Time, err)
	}
	if _, err := strconv.ParseUint(e.ID, 10, 32); err != nil {
		t.Errorf("Id %q: %v", e.ID, err)
	}
	ns := nsResponseRoot
	if inProvider {
		ns = nsOutlook
	}
	if got := doc.Response.XMLName.Space; got != ns {
		t.Errorf("Response namespace %q, want %q", got, ns)
	}
}

func TestAutodiscover(t *testing.T) {
	ts := serve(t, testServer())
	for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml", "/AUTODISCOVER/autodiscover.XML"} {
		t.Run(path, func(t *testing.T) {
			doc := readPOX(t, post(t, ts, path, outlookRequest("Bob@Example.org")), http.StatusOK)
			if doc.Response.Error != nil {
				t.Fatalf("error %+v", *doc.Response.Error)
			}
			if doc.Response.XMLName.Space != nsOutlook {
				t.Errorf("Response namespace %q", doc.Response.XMLName.Space)
			}
			a := doc.Response.Account
			if a == nil {
				t.Fatal("no Account")
			}
			if a.AccountType != "email" || a.Action != "settings" {
				t.Errorf("AccountType %q, Action %q", a.AccountType, a.Action)
			}
			// One entry for each protocol, and implicit TLS is preferred.
			want := []poxProtocol{pox("IMAP", 993, "SSL"), pox("POP3", 995, "SSL"), pox("SMTP", 465, "SSL")}
			if !reflect.DeepEqual(a.Protocol, want) {
				t.Errorf("Protocol:\n got %+v\nwant %+v", a.Protocol, want)
			}
		})
	}
}

// TestAutodiscoverStartTLS checks a server that offers only STARTTLS
// ports, with POP3 switched off.
func TestAutodiscoverStartTLS(t *testing.T) {
	srv := testServer()
	srv.IMAP = []Endpoint{{143, SecurityStartTLS}}
	srv.POP3 = nil
	srv.Submission = []Endpoint{{587, SecurityStartTLS}}
	doc := readPOX(t, post(t, serve(t, srv), "/autodiscover/autodiscover.xml", outlookRequest("bob@example.org")), http.StatusOK)
	if doc.Response.Account == nil {
		t.Fatalf("no Account: %+v", doc.Response.Error)
	}
	want := []poxProtocol{pox("IMAP", 143, "TLS"), pox("SMTP", 587, "TLS")}
	if got := doc.Response.Account.Protocol; !reflect.DeepEqual(got, want) {
		t.Errorf("Protocol:\n got %+v\nwant %+v", got, want)
	}
}

func TestAutodiscoverErrors(t *testing.T) {
	ts := serve(t, testServer())
	for _, tc := range []struct {
		name       string
		body       string
		code       int
		inProvider bool
	}{
		{"foreign domain", outlookRequest("bob@elsewhere.com"), adErrNotFound, true},
		{"malformed address", outlookRequest("bob"), adErrInvalid, true},
		{"markup in address", outlookRequest("&lt;b&gt;@example.org"), adErrInvalid, true},
		{"long address", outlookRequest(longAddress()), adErrInvalid, true},
		{"not XML", "EMailAddress=bob@example.org", adErrInvalid, false},
		{"empty", "", adErrInvalid, false},
		{"truncated", outlookRequest("bob@example.org")[:120], adErrInvalid, false},
		{"no address", `<Autodiscover xmlns="` + nsRequest + `"><Request/></Autodiscover>`, adErrInvalid, false},
		{"wrong root", `<Request><EMailAddress>bob@example.org</EMailAddress></Request>`, adErrInvalid, false},
		{"undefined entity", outlookRequest("&bob;@example.org"), adErrInvalid, false},
		{"ActiveSync schema", `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request>
			<EMailAddress>bob@example.org</EMailAddress>
			<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema>
			</Request></Autodiscover>`, adErrNoProvider, false},
		{"external entity", `<?xml version="1.0"?>
<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Autodiscover xmlns="` + nsRequest + `"><Request><EMailAddress>&xxe;</EMailAddress></Request></Autodiscover>`, adErrInvalid, false},
		{"entity bomb", `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Autodiscover xmlns="` + nsRequest + `"><Request><EMailAddress>&lol4;@example.org</EMailAddress></Request></Autodiscover>`, adErrInvalid, false},
		{"deep nesting", `<Autodiscover>` + strings.Repeat("<a>", 20000), adErrInvalid, false},
		{"long schema", strings.Replace(outlookRequest("bob@example.org"), "</AcceptableResponseSchema>", strings.Repeat("/x", maxSchemaLen)+"</AcceptableResponseSchema>", 1), adErrInvalid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantPOXError(t, readPOX(t, post(t, ts, "/autodiscover/autodiscover.xml", tc.body), http.StatusOK), tc.code, tc.inProvider)
		})
	}
}

func TestAutodiscoverLookupError(t *testing.T) {
	ts := serveHandler(t, New(testServer(), failingLookup))
	doc := readPOX(t, post(t, ts, "/autodiscover/autodiscover.xml", outlookRequest("bob@example.org")), http.StatusOK)
	wantPOXError(t, doc, adErrInternal, true)
}

// TestAutodiscoverNothingToOffer checks that an address in a local domain
// gets 501 when no protocol for receiving mail is on.
func TestAutodiscoverNothingToOffer(t *testing.T) {
	srv := testServer()
	srv.IMAP, srv.POP3 = nil, nil
	doc := readPOX(t, post(t, serve(t, srv), "/autodiscover/autodiscover.xml", outlookRequest("bob@example.org")), http.StatusOK)
	wantPOXError(t, doc, adErrNoConfig, true)
}

func TestAutodiscoverMethods(t *testing.T) {
	ts := serve(t, testServer())
	// A GET gets Exchange's "600 Invalid Request".
	wantPOXError(t, readPOX(t, get(t, ts, "", "/Autodiscover/Autodiscover.xml"), http.StatusOK), adErrInvalid, false)

	req, err := http.NewRequest(http.MethodPut, ts.URL+"/autodiscover/autodiscover.xml", strings.NewReader(outlookRequest("bob@example.org")))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// endless is a body that never ends.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

// TestAutodiscoverHostileBodies sends bodies that never end. The handler
// must answer, and it must not read everything it is offered.
func TestAutodiscoverHostileBodies(t *testing.T) {
	h := New(testServer(), domains("example.org"))
	for _, tc := range []struct {
		name   string
		body   io.Reader
		status int
	}{
		// An endless address: its length limit stops it.
		{"endless address", io.MultiReader(strings.NewReader(`<Autodiscover><Request><EMailAddress>`), endless{'a'}), http.StatusOK},
		// Endless white space between elements, and an endless comment:
		// no limit of the parser applies, so the size limit stops them.
		{"endless space", io.MultiReader(strings.NewReader(`<Autodiscover><Request>`), endless{' '}), http.StatusRequestEntityTooLarge},
		{"endless comment", io.MultiReader(strings.NewReader(`<Autodiscover><!--`), endless{'x'}), http.StatusRequestEntityTooLarge},
		// Endless nesting: the depth limit stops it long before the size limit.
		{"endless nesting", io.MultiReader(strings.NewReader(`<Autodiscover>`), endlessElements{}), http.StatusOK},
		// A whole document that is too large.
		{"oversized", strings.NewReader(strings.Replace(outlookRequest("bob@example.org"), "<Request>", "<Request>"+strings.Repeat(" ", maxRequestBody), 1)), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/autodiscover/autodiscover.xml", tc.body))
				done <- rec
			}()
			select {
			case rec := <-done:
				resp := rec.Result()
				wantPOXError(t, readPOX(t, resp, tc.status), adErrInvalid, false)
			case <-time.After(10 * time.Second):
				t.Fatal("no answer after 10s")
			}
		})
	}
}

// endlessElements is a body of <a><a><a>... without end.
type endlessElements struct{}

func (endlessElements) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "<a>"[i%3]
	}
	return len(p) - len(p)%3, nil
}

// TestReadAutodiscoverRequest checks the parser alone: white space around
// the values, unknown elements, comments, and elements in another namespace.
func TestReadAutodiscoverRequest(t *testing.T) {
	req, err := readAutodiscoverRequest(strings.NewReader(`<?xml version="1.0" encoding="utf-8"?>
<!-- Outlook -->
<Autodiscover xmlns="` + nsRequest + `" xmlns:x="urn:x">
  <Request>
    <x:Extra><EMailAddress>not@this.one</EMailAddress></x:Extra>
    <EMailAddress>
      bob@example.org
    </EMailAddress>
    <AcceptableResponseSchema>` + nsOutlook + `</AcceptableResponseSchema>
  </Request>
</Autodiscover>
trailing garbage that is never read <`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(req.email) != "bob@example.org" || req.schema != nsOutlook {
		t.Errorf("got %+v", req)
	}
}
