package mailapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTMLBodyAndBodyValues(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	raw := "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: html\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain text\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=C3=A9 <b>bold</b></p>\r\n--b--\r\n"
	d := r.Deliver(r.acct, raw)
	id := fmt.Sprintf("M%d", d.ID)
	got := cl.one("Email/get", map[string]any{"ids": []string{id}, "properties": []string{"htmlBody", "textBody", "bodyValues", "bodyStructure", "hasAttachment"},
		"fetchHTMLBodyValues": true, "maxBodyValueBytes": 1000})
	e := got["list"].([]any)[0].(map[string]any)
	html := e["htmlBody"].([]any)
	if len(html) != 1 || html[0].(map[string]any)["type"] != "text/html" {
		t.Fatalf("htmlBody: %v", e["htmlBody"])
	}
	part := html[0].(map[string]any)["partId"].(string)
	v := e["bodyValues"].(map[string]any)[part].(map[string]any)
	if !strings.Contains(v["value"].(string), "café <b>bold</b>") || v["isTruncated"] != false {
		t.Errorf("html body value: %v", v)
	}
	// The part's blob downloads decoded.
	blob := html[0].(map[string]any)["blobId"].(string)
	code, body := cl.do("GET", fmt.Sprintf("%s/jmap/download/%s/%s/part.html?type=text/html", r.base, cl.account, blob), "", nil)
	if code != 200 || !strings.Contains(string(body), "café") {
		t.Errorf("part download: %d %q", code, body)
	}
	code, body = cl.do("GET", fmt.Sprintf("%s/jmap/download/%s/B%d/m.eml?type=message/rfc822", r.base, cl.account, d.ID), "", nil)
	if code != 200 || string(body) != raw {
		t.Errorf("message download: %d %q", code, body)
	}
	if code, _ := cl.do("GET", fmt.Sprintf("%s/jmap/download/%s/B999999/m.eml", r.base, cl.account), "", nil); code != 404 {
		t.Errorf("missing blob: %d", code)
	}
}

// TestEventSourcePush: a delivery reaches a connected EventSource client
// as a state event.
func TestEventSourcePush(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	req, _ := http.NewRequest("GET", r.base+"/jmap/eventsource?types=*&closeafter=no&ping=0", nil)
	req.SetBasicAuth(cl.user, cl.pass)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				events <- ev
				ev = ""
				continue
			}
			ev += line + "\n"
		}
		close(events)
	}()
	start := time.Now()
	r.Deliver(r.acct, msg("bob@example.org", "push me", "x"))
	select {
	case ev := <-events:
		if !strings.HasPrefix(ev, "event: state\n") || !strings.Contains(ev, `"Email"`) || !strings.Contains(ev, cl.account) {
			t.Errorf("event: %q", ev)
		}
		t.Logf("delivery to push: %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10 s")
	}
}

// TestPushOwnTypes: a state of a type of the user's own account that is
// not mail (VacationResponse here) is pushed when it changes, to a client
// that asked for that type only.
func TestPushOwnTypes(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	req, _ := http.NewRequest("GET", r.base+"/jmap/eventsource?types=VacationResponse&closeafter=state&ping=0", nil)
	req.SetBasicAuth(cl.user, cl.pass)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A delivery changes no VacationResponse: nothing is pushed for it.
	r.Deliver(r.acct, msg("bob@example.org", "not pushed", "x"))
	cl.call([]string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"},
		[]any{"VacationResponse/set", map[string]any{"accountId": cl.account, "update": map[string]any{"singleton": map[string]any{
			"isEnabled": true, "subject": "away", "textBody": "back Monday"}}}, "v"})
	body, _ := io.ReadAll(resp.Body) // closeafter=state: the stream ends after the event
	if !strings.Contains(string(body), "event: state") || !strings.Contains(string(body), `"VacationResponse"`) || strings.Contains(string(body), `"Email"`) {
		t.Errorf("pushed: %q", body)
	}
}
