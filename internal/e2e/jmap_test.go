package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// jmapClient is a small JMAP client over HTTP Basic for these tests.
type jmapClient struct {
	t       *testing.T
	base    string
	account string
}

func (r *rig) jmap() *jmapClient {
	r.T.Helper()
	t := r.T.(*testing.T)
	c := &jmapClient{t: t, base: "http://" + r.Addr("http")}
	var session struct {
		Primary map[string]string `json:"primaryAccounts"`
	}
	c.get("/.well-known/jmap", &session)
	c.account = session.Primary["urn:ietf:params:jmap:mail"]
	return c
}

func (c *jmapClient) get(path string, v any) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.SetBasicAuth("ann@example.test", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	json.NewDecoder(resp.Body).Decode(v)
}

// call makes one method call and returns its response arguments.
func (c *jmapClient) call(method string, args map[string]any) map[string]any {
	c.t.Helper()
	args["accountId"] = c.account
	b, _ := json.Marshal(map[string]any{"using": []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"},
		"methodCalls": []any{[]any{method, args, "0"}}})
	req, _ := http.NewRequest("POST", c.base+"/jmap/api", bytes.NewReader(b))
	req.SetBasicAuth("ann@example.test", password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		MethodResponses [][]json.RawMessage `json:"methodResponses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.MethodResponses) != 1 {
		c.t.Fatalf("%s: %v %v", method, err, out)
	}
	var name string
	var res map[string]any
	json.Unmarshal(out.MethodResponses[0][0], &name)
	json.Unmarshal(out.MethodResponses[0][1], &res)
	if name != method {
		c.t.Fatalf("%s: %s %v", method, name, res)
	}
	return res
}

// push opens an EventSource and returns its state events as they come.
func (c *jmapClient) push() <-chan string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/jmap/eventsource?types=*&closeafter=no&ping=0", nil)
	req.SetBasicAuth("ann@example.test", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	events := make(chan string, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), "StateChange") {
				events <- sc.Text()
			}
		}
	}()
	return events
}

func waitPush(t *testing.T, events <-chan string, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-events:
		return time.Since(start)
	case <-time.After(10 * time.Second):
		t.Fatalf("no push after %s", what)
	}
	return 0
}

// TestJMAPAndIMAPSeeOneMailbox: a flag set over IMAP is in JMAP's next
// /changes and pushed; a keyword set and a move over JMAP reach an IMAP
// session in IDLE.
func TestJMAPAndIMAPSeeOneMailbox(t *testing.T) {
	r := start(t)
	r.deliver("one")
	r.deliver("two")
	j := r.jmap()
	inbox := fmt.Sprintf("F%d", r.Mailbox(r.acct, "INBOX").ID)
	q := j.call("Email/query", map[string]any{"filter": map[string]any{"inMailbox": inbox}, "sort": []any{map[string]any{"property": "receivedAt", "isAscending": true}}})
	ids := q["ids"].([]any)
	if len(ids) != 2 {
		t.Fatalf("query: %v", q)
	}
	first := ids[0].(string)
	state := j.call("Email/get", map[string]any{"ids": []string{}})["state"].(string)
	events := j.push()

	// IMAP → JMAP.
	c := r.imap()
	c.imapCmd("s", "SELECT INBOX")
	c.imapCmd("f", "STORE 1 +FLAGS (\\Flagged)")
	took := waitPush(t, events, "an IMAP STORE")
	t.Logf("IMAP STORE to JMAP push: %v", took)
	ch := j.call("Email/changes", map[string]any{"sinceState": state})
	if upd := ch["updated"].([]any); len(upd) != 1 || upd[0] != first || len(ch["created"].([]any))+len(ch["destroyed"].([]any)) != 0 {
		t.Fatalf("changes after IMAP STORE: %v", ch)
	}
	got := j.call("Email/get", map[string]any{"ids": []string{first}, "properties": []string{"keywords"}})
	if kw := got["list"].([]any)[0].(map[string]any)["keywords"].(map[string]any); kw["$flagged"] != true {
		t.Fatalf("keywords after IMAP STORE: %v", kw)
	}

	// JMAP → IMAP IDLE.
	c.Send("i IDLE")
	if s := c.Line(); !strings.HasPrefix(s, "+") {
		t.Fatalf("IDLE: %s", s)
	}
	j.call("Email/set", map[string]any{"update": map[string]any{first: map[string]any{"keywords/$seen": true}}})
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line := c.Line()
	if !strings.HasPrefix(line, "* 1 FETCH (") || !strings.Contains(line, `\Seen`) || !strings.Contains(line, `\Flagged`) {
		t.Fatalf("IDLE after JMAP keywords: %q", line)
	}
	archive := fmt.Sprintf("F%d", r.Mailbox(r.acct, "Archive").ID)
	j.call("Email/set", map[string]any{"update": map[string]any{first: map[string]any{"mailboxIds": map[string]any{archive: true}}}})
	var lines []string
	for {
		s := c.Line()
		lines = append(lines, s)
		if s == "* 1 EXPUNGE" || !strings.HasPrefix(s, "* ") {
			break
		}
	}
	if !slices.Contains(lines, "* 1 EXPUNGE") {
		t.Fatalf("IDLE after JMAP move: %q", lines)
	}
	c.Send("DONE")
	for s := c.Line(); strings.HasPrefix(s, "* "); s = c.Line() {
	}
	// The moved message keeps its JMAP id and its flags, in Archive over IMAP.
	c.imapCmd("s2", "SELECT Archive")
	out := c.imapCmd("f2", "FETCH 1 FLAGS")
	if len(out) != 1 || !strings.Contains(out[0], `\Seen`) || !strings.Contains(out[0], `\Flagged`) {
		t.Fatalf("Archive over IMAP: %q", out)
	}
	got = j.call("Email/get", map[string]any{"ids": []string{first}, "properties": []string{"mailboxIds"}})
	if mb := got["list"].([]any)[0].(map[string]any)["mailboxIds"].(map[string]any); mb[archive] != true {
		t.Fatalf("mailboxIds after the move: %v", mb)
	}
}

// TestJMAPPushAcrossNodes: a change made over IMAP on one node is pushed
// to a JMAP client of the other.
func TestJMAPPushAcrossNodes(t *testing.T) {
	a := start(t)
	b := startNode(t, a)
	a.deliver("one")
	j := a.jmap()
	events := j.push()
	c := b.imap()
	c.imapCmd("s", "SELECT INBOX")
	c.imapCmd("f", "STORE 1 +FLAGS (\\Answered)")
	t.Logf("IMAP on node B to JMAP push on node A: %v", waitPush(t, events, "an IMAP STORE on the other node"))
	sendMX(t, b, "ann@example.test", "to node B")
	t.Logf("delivery on node B to JMAP push on node A: %v", waitPush(t, events, "a delivery on the other node"))
}
