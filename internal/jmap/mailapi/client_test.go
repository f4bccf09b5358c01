package mailapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }

// rig is a real Mailroom serving the web listener (and so JMAP) on loopback.
type rig struct {
	*testrig.Rig
	base string
	acct store.Account
}

func newRig(t *testing.T, opts ...testrig.Option) *rig { return newRigB(t, opts...) }

func newRigB(t testing.TB, opts ...testrig.Option) *rig {
	t.Helper()
	opts = append([]testrig.Option{testrig.Listen("http"), testrig.Config(func(c *config.Config) {})}, opts...)
	tr := testrig.Start(t, testrig.Factories{"http": web.Factory()}, opts...)
	r := &rig{Rig: tr, base: "http://" + tr.Addr("http")}
	r.acct = r.Account("ann@example.test")
	return r
}

// client is a minimal JMAP client: Basic auth, the session, API calls.
type client struct {
	t       testing.TB
	base    string
	user    string
	pass    string
	c       *http.Client
	session map[string]any
	apiURL  string
	account string
}

func (r *rig) client(t *testing.T, user string) *client { return r.clientB(t, user) }

func (r *rig) clientB(t testing.TB, user string) *client {
	cl := &client{t: t, base: r.base, user: user, pass: testrig.Password, c: &http.Client{Timeout: 20 * time.Second}}
	code, body := cl.do("GET", r.base+"/.well-known/jmap", "", nil)
	if code != 200 {
		t.Fatalf("session: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &cl.session); err != nil {
		t.Fatalf("session: %v", err)
	}
	cl.apiURL = cl.session["apiUrl"].(string)
	cl.account = cl.session["primaryAccounts"].(map[string]any)["urn:ietf:params:jmap:mail"].(string)
	return cl
}

func (cl *client) do(method, url, ctype string, body []byte) (int, []byte) {
	cl.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		cl.t.Fatal(err)
	}
	req.SetBasicAuth(cl.user, cl.pass)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := cl.c.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// call sends one request of method calls ([name, args, id] triples) and
// returns the responses' arguments by call id (a method error comes as
// "error" with its type).
type invocation struct {
	Name   string
	Args   map[string]any
	CallID string
}

func (cl *client) call(using []string, calls ...[]any) []invocation {
	cl.t.Helper()
	if using == nil {
		using = []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"}
	}
	b, _ := json.Marshal(map[string]any{"using": using, "methodCalls": calls})
	code, body := cl.do("POST", cl.apiURL, "application/json", b)
	if code != 200 {
		cl.t.Fatalf("request: %d %s", code, body)
	}
	var resp struct {
		MethodResponses [][]json.RawMessage `json:"methodResponses"`
		SessionState    string              `json:"sessionState"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		cl.t.Fatalf("response: %v: %s", err, body)
	}
	if resp.SessionState == "" {
		cl.t.Errorf("no sessionState in %s", body)
	}
	var out []invocation
	for _, r := range resp.MethodResponses {
		var inv invocation
		json.Unmarshal(r[0], &inv.Name)
		json.Unmarshal(r[1], &inv.Args)
		json.Unmarshal(r[2], &inv.CallID)
		out = append(out, inv)
	}
	return out
}

// one makes one call and returns its response, failing on an error response.
func (cl *client) one(name string, args map[string]any) map[string]any {
	cl.t.Helper()
	if _, ok := args["accountId"]; !ok {
		args["accountId"] = cl.account
	}
	resp := cl.call(nil, []any{name, args, "c0"})
	if len(resp) != 1 || resp[0].Name != name {
		b, _ := json.Marshal(resp)
		cl.t.Fatalf("%s: %s", name, b)
	}
	return resp[0].Args
}

// problem posts a raw body and returns the status and problem type.
func (cl *client) problem(body []byte) (int, map[string]any) {
	cl.t.Helper()
	code, b := cl.do("POST", cl.apiURL, "application/json", body)
	var p map[string]any
	json.Unmarshal(b, &p)
	return code, p
}

func msg(from, subject, body string) string {
	return "From: " + from + "\r\nTo: ann@example.test\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.test>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n"
}
