package remote

import (
	"strings"
	"testing"
)

// TestPipelining proves that MAIL, the RCPTs and DATA go out without
// waiting for replies: the server answers nothing until DATA has arrived,
// so a client that waited for the reply to MAIL would time out.
func TestPipelining(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	raw := &rawServer{ext: []string{"PIPELINING", "8BITMIME"}, withhold: true, rcpt: func(a string) string {
		if strings.HasPrefix(a, "bad") {
			return "550 5.1.1 unknown"
		}
		return "250 2.1.5 ok"
	}}
	go raw.serve(l.listen("127.0.0.2"))
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test", "bad@dest.test", "b@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	checkResult(t, res[1], Result{Rcpt: "bad@dest.test", Permanent: true, Code: 550, Enhanced: "5.1.1"})
	checkResult(t, res[2], Result{Rcpt: "b@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	msgs := raw.messages()
	if len(msgs) != 1 || string(msgs[0]) != testBody {
		t.Errorf("server got %q", msgs)
	}
}

// TestLockstep checks that without PIPELINING the client waits for each
// reply: the server looks for more input before answering MAIL and RCPT.
func TestLockstep(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	oneMX(l)
	raw := &rawServer{ext: []string{"8BITMIME"}, lockstep: true}
	go raw.serve(l.listen("127.0.0.2"))
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test", "b@dest.test"))
	for _, r := range res {
		checkResult(t, r, Result{Rcpt: r.Rcpt, Delivered: true, Code: 250, Enhanced: "2.0.0"})
	}
	raw.mu.Lock()
	defer raw.mu.Unlock()
	if len(raw.violations) > 0 {
		t.Errorf("commands sent before their predecessor's reply: %q", raw.violations)
	}
}
