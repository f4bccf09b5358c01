package mailapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWebSocket drives JMAP over WebSocket (RFC 8887) with a real
// WebSocket client: a request, a push after enabling it, a bad message.
func TestWebSocket(t *testing.T) {
	r := newRig(t)
	cl := r.client(t, "ann@example.test")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := http.Header{}
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(cl.user, cl.pass)
	h.Set("Authorization", req.Header.Get("Authorization"))
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/jmap/ws", &websocket.DialOptions{Subprotocols: []string{"jmap"}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() map[string]any {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"@type":"Request","id":"R1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":true},"b3ff"]]}`))
	if m := read(); m["@type"] != "Response" || m["requestId"] != "R1" {
		t.Fatalf("response: %v", m)
	}
	c.Write(ctx, websocket.MessageText, []byte(`The quick brown fox`))
	if m := read(); m["@type"] != "RequestError" || m["type"] != "urn:ietf:params:jmap:error:notJSON" {
		t.Fatalf("bad message: %v", m)
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"@type":"WebSocketPushEnable","dataTypes":null}`))
	time.Sleep(100 * time.Millisecond) // the push starts following the feed
	r.Deliver(r.acct, msg("bob@example.org", "ws push", "x"))
	m := read()
	if m["@type"] != "StateChange" || m["pushState"] == "" {
		t.Fatalf("push: %v", m)
	}
	if _, ok := m["changed"].(map[string]any)[cl.account].(map[string]any)["Email"]; !ok {
		t.Errorf("push lacks the Email state: %v", m)
	}
}
