package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// JMAP (RFC 8620, RFC 8621) load: what a webmail or a phone app does all
// day. Each client logs in with HTTP Basic, reads the session resource and
// finds the inbox once per user, then every cycle
//
//   - lists the newest messages: Email/query (inMailbox, receivedAt
//     descending, collapseThreads, limit) and Email/get of the ids it
//     found, with the properties a message list shows, in ONE request
//     through a result reference (RFC 8620 §3.7), as clients do;
//   - turns $seen on or off on one of them (Email/set);
//   - asks what changed since the state it last saw (Email/changes),
//     which is how a client keeps its cache current.
//
// Beside the clients, push probes (jmappush.go) time a delivery over SMTP
// to the "event: state" on an EventSource connection.

// JMAPOptions are the settings of a JMAP run. Options.Addr is the web
// listener; Options.TLS means https. STARTTLS does not exist in HTTP.
type JMAPOptions struct {
	Options
	// Limit is how many messages Email/query lists (default 50).
	Limit int
	// SMTPAddr is where push probes deliver their messages (an MX, port
	// 25, unless SMTPAuth); without it no probe runs.
	SMTPAddr string
	// SMTPAuth logs the probes' SMTP sessions in (AUTH PLAIN as the probe
	// user, a submission port); SMTPStartTLS upgrades them first.
	SMTPAuth, SMTPStartTLS bool
	// PushEvery is how many clients share one push probe (default 5): a
	// probe is one EventSource connection, so a few per run show the
	// latency without making push the load.
	PushEvery int
	// PushGap is the pause between a probe's deliveries (default 500ms).
	PushGap time.Duration
}

const (
	defaultJMAPLimit = 50
	jmapMail         = "urn:ietf:params:jmap:mail"
	jmapCore         = "urn:ietf:params:jmap:core"
)

func (o JMAPOptions) normalized() (JMAPOptions, error) {
	if o.StartTLS {
		return o, errors.New("loadgen: JMAP is HTTP: use TLS (https), not STARTTLS")
	}
	if o.Limit <= 0 {
		o.Limit = defaultJMAPLimit
	}
	if o.PushEvery <= 0 {
		o.PushEvery = 5
	}
	if o.PushGap <= 0 {
		o.PushGap = 500 * time.Millisecond
	}
	return o, nil
}

// RunJMAP runs JMAP cycles (see the top of this file) and, with SMTPAddr,
// the push probes. Every response is checked: HTTP 200 with JSON, the
// methods answered in order by name, Email/get returning every id the
// query found with the properties asked for, Email/set updating the
// Email, Email/changes answering from the state asked with a new one (and,
// when no two clients share a user, listing the Email the client changed).
// A method error is an error of its method, counted by type in
// Report.MethodErrors.
//
// Commands are reported as SESSION (GET of the session resource),
// Mailbox/query (finding the inbox), Email/query+get (one request),
// Email/set and Email/changes; the probes add EVENTSOURCE, DELIVER and
// PUSH (see jmappush.go). Each probe uses a user after the clients'
// (UserFirst+UserCount, +1, …), so that no client's change looks like a
// delivery.
func RunJMAP(ctx context.Context, o JMAPOptions) (*Report, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	base, err := o.Options.normalized()
	if err != nil {
		return nil, err
	}
	exclusive := base.UserCount >= base.Clients
	var side sideTask
	var push *PushReport
	if o.SMTPAddr != "" {
		push = &PushReport{}
		side = func(ctx context.Context, bo *Options, tlsConf *tls.Config, rec *recorder, deadline time.Time) {
			runPushProbes(ctx, &o, bo, tlsConf, rec, deadline, push)
		}
	}
	rep, err := runSide(ctx, "jmap", o.Options, func() driver { return newJMAPClient(&o, exclusive) }, side)
	if rep != nil && push != nil {
		rep.Push = push
	}
	return rep, err
}

// baseURL is the server's URL: https with TLS.
func (o *Options) baseURL() string {
	if o.TLS {
		return "https://" + o.Addr
	}
	return "http://" + o.Addr
}

// jmapClient is one simulated JMAP client. It keeps one HTTP client (and
// with it a kept-alive connection) for all its users, as a multi-account
// app would.
type jmapClient struct {
	o         *JMAPOptions
	exclusive bool
	rng       *rand.Rand
	hc        *http.Client
	bytes     atomic.Int64 // the transport reads and writes on its own goroutines
	c         *client
	sessions  map[string]*jmapSession // by user
	req       bytes.Buffer
}

// jmapSession is what a client knows of one user's account.
type jmapSession struct {
	auth    string // the Authorization header
	apiURL  string
	account string
	inbox   string
	since   string // the Email state Email/changes asks from
	changed string // the Email this client changed since then, "" for none
}

func newJMAPClient(o *JMAPOptions, exclusive bool) *jmapClient {
	return &jmapClient{o: o, exclusive: exclusive, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		sessions: make(map[string]*jmapSession)}
}

// httpClient builds the client's HTTP client on its first cycle, when the
// run's TLS configuration and the source address are known.
func (p *jmapClient) httpClient(c *client) *http.Client {
	if p.hc != nil {
		return p.hc
	}
	d := &net.Dialer{Timeout: c.o.Timeout}
	if c.laddr != nil { // a nil *TCPAddr in the interface is not "any"
		d.LocalAddr = c.laddr
	}
	// The transport adds "h2" to its configuration's NextProtos: a copy,
	// not the run's shared one (the session cache stays shared).
	var tlsConf *tls.Config
	if c.tls != nil {
		tlsConf = c.tls.Clone()
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &atomicCountingConn{Conn: nc, n: &p.bytes}, nil
		},
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true, // what browsers speak over TLS
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	p.hc = &http.Client{Transport: tr, Timeout: c.o.Timeout}
	return p.hc
}

func (p *jmapClient) close() {
	if p.hc != nil {
		p.hc.CloseIdleConnections()
	}
	if p.c != nil {
		p.c.bytes += p.bytes.Swap(0)
	}
}

func (p *jmapClient) cycle(ctx context.Context, c *client, user string) {
	p.c = c
	hc := p.httpClient(c)
	s := p.sessions[user]
	if s == nil {
		if s = p.login(ctx, c, hc, user); s == nil {
			return
		}
		p.sessions[user] = s
	}
	start := time.Now()
	list, state, err := p.listNewest(ctx, hc, s)
	c.record(ctx, "Email/query+get", start, err)
	if err != nil {
		return
	}
	if s.since == "" {
		s.since = state
	}
	if len(list) > 0 {
		e := list[p.rng.IntN(len(list))]
		start = time.Now()
		err = p.setSeen(ctx, hc, s, e)
		c.record(ctx, "Email/set", start, err)
		if err != nil {
			return
		}
	}
	start = time.Now()
	err = p.changes(ctx, hc, s)
	c.record(ctx, "Email/changes", start, err)
}

// login reads the session resource and finds the inbox: what a client
// does once, then keeps.
func (p *jmapClient) login(ctx context.Context, c *client, hc *http.Client, user string) *jmapSession {
	s := &jmapSession{auth: basicAuth(user, c.o.Password)}
	start := time.Now()
	var sess struct {
		APIURL          string            `json:"apiUrl"`
		PrimaryAccounts map[string]string `json:"primaryAccounts"`
	}
	err := p.get(ctx, hc, s, c.o.baseURL()+"/.well-known/jmap", &sess)
	if err == nil {
		s.apiURL, s.account = sess.APIURL, sess.PrimaryAccounts[jmapMail]
		if s.apiURL == "" || s.account == "" {
			err = fmt.Errorf("session without apiUrl or a primary mail account")
		}
	}
	c.record(ctx, "SESSION", start, err)
	if err != nil {
		return nil
	}
	start = time.Now()
	var resp []jmapResponse
	resp, err = p.call(ctx, hc, s, []any{"Mailbox/query", map[string]any{"accountId": s.account, "filter": map[string]any{"role": "inbox"}}, "m"})
	if err == nil {
		var q struct{ IDs []string }
		if err = resp[0].decode("Mailbox/query", &q); err == nil && len(q.IDs) != 1 {
			err = fmt.Errorf("the inbox role: %d mailboxes", len(q.IDs))
		}
		if err == nil {
			s.inbox = q.IDs[0]
		}
	}
	c.record(ctx, "Mailbox/query", start, err)
	if err != nil {
		return nil
	}
	return s
}

// listedEmail is an Email as the list shows it.
type listedEmail struct {
	ID       string          `json:"id"`
	Keywords map[string]bool `json:"keywords"`
}

// jmapListProperties are what a message list shows.
var jmapListProperties = []string{"subject", "from", "receivedAt", "preview", "keywords"}

// listNewest is the message list: Email/query and Email/get in one
// request. It returns the Emails and Email/get's state.
func (p *jmapClient) listNewest(ctx context.Context, hc *http.Client, s *jmapSession) ([]listedEmail, string, error) {
	resp, err := p.call(ctx, hc, s,
		[]any{"Email/query", map[string]any{"accountId": s.account, "filter": map[string]any{"inMailbox": s.inbox},
			"sort":  []any{map[string]any{"property": "receivedAt", "isAscending": false}},
			"limit": p.o.Limit, "collapseThreads": true}, "q"},
		[]any{"Email/get", map[string]any{"accountId": s.account,
			"#ids":       map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"},
			"properties": jmapListProperties}, "g"})
	if err != nil {
		return nil, "", err
	}
	if len(resp) != 2 {
		return nil, "", fmt.Errorf("%d method responses to 2 calls", len(resp))
	}
	var q struct{ IDs []string }
	if err := resp[0].decode("Email/query", &q); err != nil {
		return nil, "", err
	}
	if len(q.IDs) > p.o.Limit {
		return nil, "", fmt.Errorf("query: %d ids, limit %d", len(q.IDs), p.o.Limit)
	}
	var g struct {
		State    string
		List     []json.RawMessage
		NotFound []string
	}
	if err := resp[1].decode("Email/get", &g); err != nil {
		return nil, "", err
	}
	// Another client of the user may have destroyed one meanwhile; none
	// does in this load, so a missing Email is the server's fault.
	if len(g.List) != len(q.IDs) || len(g.NotFound) > 0 || g.State == "" {
		return nil, "", fmt.Errorf("get of %d ids: %d found, %d not found, state %q", len(q.IDs), len(g.List), len(g.NotFound), g.State)
	}
	want := make(map[string]bool, len(q.IDs))
	for _, id := range q.IDs {
		want[id] = true
	}
	list := make([]listedEmail, 0, len(g.List))
	for _, raw := range g.List {
		var props map[string]json.RawMessage
		var e listedEmail
		if err := json.Unmarshal(raw, &props); err != nil {
			return nil, "", fmt.Errorf("get: %w", err)
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, "", fmt.Errorf("get: %w", err)
		}
		if !want[e.ID] {
			return nil, "", fmt.Errorf("get: %q, which the query did not find", e.ID)
		}
		for _, prop := range jmapListProperties {
			if _, ok := props[prop]; !ok {
				return nil, "", fmt.Errorf("get: %s without %s", e.ID, prop)
			}
		}
		list = append(list, e)
	}
	return list, g.State, nil
}

// setSeen turns $seen around on e, as opening or marking a message does.
func (p *jmapClient) setSeen(ctx context.Context, hc *http.Client, s *jmapSession, e listedEmail) error {
	var seen any = true
	if e.Keywords["$seen"] {
		seen = nil // a patch removes a keyword with null
	}
	resp, err := p.call(ctx, hc, s, []any{"Email/set", map[string]any{"accountId": s.account,
		"update": map[string]any{e.ID: map[string]any{"keywords/$seen": seen}}}, "s"})
	if err != nil {
		return err
	}
	var set struct {
		NewState   string
		Updated    map[string]any
		NotUpdated map[string]struct{ Type, Description string }
	}
	if err := resp[0].decode("Email/set", &set); err != nil {
		return err
	}
	if se, ok := set.NotUpdated[e.ID]; ok {
		return &methodError{method: "Email/set", typ: "notUpdated " + se.Type, desc: se.Description}
	}
	if _, ok := set.Updated[e.ID]; !ok || set.NewState == "" {
		return fmt.Errorf("%s not in updated, new state %q", e.ID, set.NewState)
	}
	s.changed = e.ID
	return nil
}

// changes asks what changed since the last state the client saw.
func (p *jmapClient) changes(ctx context.Context, hc *http.Client, s *jmapSession) error {
	resp, err := p.call(ctx, hc, s, []any{"Email/changes", map[string]any{"accountId": s.account, "sinceState": s.since}, "c"})
	if err != nil {
		return err
	}
	var ch struct {
		OldState, NewState          string
		HasMoreChanges              bool
		Created, Updated, Destroyed []string
	}
	if err := resp[0].decode("Email/changes", &ch); err != nil {
		var me *methodError
		if errors.As(err, &me) && me.typ == "cannotCalculateChanges" {
			// A client must then reload; this one starts again from the
			// state of its next list.
			s.since, s.changed = "", ""
		}
		return err
	}
	if ch.OldState != s.since || ch.NewState == "" {
		return fmt.Errorf("since %q: oldState %q, newState %q", s.since, ch.OldState, ch.NewState)
	}
	// Only a client alone on its user knows what must be listed; a page
	// of changes (hasMoreChanges) may end before the Email.
	if p.exclusive && s.changed != "" && !ch.HasMoreChanges &&
		!contains(ch.Updated, s.changed) && !contains(ch.Created, s.changed) {
		return fmt.Errorf("since %q: %s, which this client updated, not listed", s.since, s.changed)
	}
	s.since, s.changed = ch.NewState, ""
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jmapResponse is one method response.
type jmapResponse struct {
	name, callID string
	args         json.RawMessage
}

// methodError is a JMAP method error (RFC 8620 §3.6.2), or a SetError,
// by its type.
type methodError struct {
	method, typ, desc string
}

func (e *methodError) Error() string {
	if e.desc != "" {
		return fmt.Sprintf("method error %s: %s", e.typ, e.desc)
	}
	return "method error " + e.typ
}

// decode checks that r answers method and decodes its arguments into v.
func (r jmapResponse) decode(method string, v any) error {
	if r.name == "error" {
		var e struct{ Type, Description string }
		if err := json.Unmarshal(r.args, &e); err != nil {
			return fmt.Errorf("%s: unreadable method error: %w", method, err)
		}
		return &methodError{method: method, typ: e.Type, desc: e.Description}
	}
	if r.name != method {
		return fmt.Errorf("the response to %s is %s", method, r.name)
	}
	if err := json.Unmarshal(r.args, v); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// call sends one API request of the method calls ([name, args, id]) and
// returns the method responses in order.
func (p *jmapClient) call(ctx context.Context, hc *http.Client, s *jmapSession, calls ...[]any) ([]jmapResponse, error) {
	p.req.Reset()
	if err := json.NewEncoder(&p.req).Encode(map[string]any{"using": []string{jmapCore, jmapMail}, "methodCalls": calls}); err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	var body struct {
		MethodResponses [][]json.RawMessage `json:"methodResponses"`
		SessionState    string              `json:"sessionState"`
	}
	if err := p.do(ctx, hc, s, http.MethodPost, s.apiURL, bytes.NewReader(p.req.Bytes()), &body); err != nil {
		return nil, err
	}
	if len(body.MethodResponses) < len(calls) {
		return nil, fmt.Errorf("%d method responses to %d calls", len(body.MethodResponses), len(calls))
	}
	out := make([]jmapResponse, len(body.MethodResponses))
	for i, mr := range body.MethodResponses {
		if len(mr) != 3 {
			return nil, fmt.Errorf("method response %d has %d elements", i, len(mr))
		}
		if err := json.Unmarshal(mr[0], &out[i].name); err != nil {
			return nil, fmt.Errorf("method response %d: %w", i, err)
		}
		if err := json.Unmarshal(mr[2], &out[i].callID); err != nil {
			return nil, fmt.Errorf("method response %d: %w", i, err)
		}
		out[i].args = mr[1]
	}
	return out, nil
}

func (p *jmapClient) get(ctx context.Context, hc *http.Client, s *jmapSession, url string, v any) error {
	return p.do(ctx, hc, s, http.MethodGet, url, nil, v)
}

// do sends one HTTP request and decodes a 200's JSON into v. A transport
// failure is a connError (no answer, no latency); a status other than 200
// is the server's answer, with the problem type (RFC 7807) if it sent one.
func (p *jmapClient) do(ctx context.Context, hc *http.Client, s *jmapSession, method, url string, body io.Reader, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	req.Header.Set("Authorization", s.auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &connError{fmt.Errorf("%s %s: %w", method, url, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return &connError{fmt.Errorf("%s %s: reading the response: %w", method, url, err)}
	}
	if resp.StatusCode != http.StatusOK {
		var problem struct{ Type, Limit string }
		_ = json.Unmarshal(b, &problem) // not JSON: the status says enough
		detail := strings.TrimSpace(problem.Type + " " + problem.Limit)
		if detail == "" {
			detail = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return fmt.Errorf("%s: HTTP %d %s", method, resp.StatusCode, detail)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: response: %w", method, err)
	}
	return nil
}

// basicAuth is the Authorization header of HTTP Basic (RFC 7617).
func basicAuth(user, password string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, password)
	return req.Header.Get("Authorization")
}

// atomicCountingConn counts bytes like countingConn, for connections an
// http.Transport reads and writes on goroutines of its own.
type atomicCountingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *atomicCountingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *atomicCountingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}
