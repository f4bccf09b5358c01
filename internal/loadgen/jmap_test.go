package loadgen

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

// The JMAP load runs against the real Mailroom, in process: the web
// listener for JMAP, an MX for the push probes' deliveries.
func startJMAPRig(t *testing.T, users, msgs int) *testrig.Rig {
	t.Helper()
	r := testrig.Start(t, testrig.Factories{"http": web.Factory(), "smtp": smtp.Factory(smtp.Inbound)},
		testrig.Listen("http", "smtp"), testrig.Config(func(c *config.Config) { c.Hostname = "mx.example.test" }))
	for u, acct := range addUsers(r, users) {
		for i := range msgs {
			r.Deliver(acct, testIMAPMessage(u+1, i))
		}
	}
	return r
}

func jmapTestOptions(r *testrig.Rig) JMAPOptions {
	return JMAPOptions{Options: Options{
		Addr:     r.Addr("http"),
		Users:    "user%d@example.test",
		Password: testrig.Password,
		Clients:  2,
		Duration: 2 * time.Second,
		Timeout:  10 * time.Second,
	}, Limit: 5, SMTPAddr: r.Addr("smtp"), PushEvery: 2, PushGap: 100 * time.Millisecond}
}

// TestJMAPLoad: every step of the cycle succeeds and is checked; the push
// probe sees its deliveries. Email/changes is answered either properly or
// with a method error that the report names by type (before the server
// had the method, unknownMethod), never with anything else.
func TestJMAPLoad(t *testing.T) {
	r := startJMAPRig(t, 3, 8) // users 1 and 2 for the clients, 3 for the probe
	rep, err := RunJMAP(t.Context(), jmapTestOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	for _, name := range []string{"SESSION", "Mailbox/query", "Email/query+get", "Email/set", "EVENTSOURCE", "DELIVER"} {
		if c := rep.Commands[name]; c == nil || c.Count == 0 || c.Errors != 0 || c.P50 <= 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	// An event may beat the 250 (counted as 0), so PUSH may have no
	// positive percentile.
	if c := rep.Commands["PUSH"]; c == nil || c.Count == 0 || c.Errors != 0 {
		t.Errorf("PUSH: %+v", c)
	}
	if c := rep.Commands["SESSION"]; c == nil || c.Count != 2 {
		t.Errorf("SESSION once per user: %+v", c)
	}
	ch := rep.Commands["Email/changes"]
	if ch == nil || ch.Count == 0 {
		t.Fatalf("no Email/changes: %+v", rep.Commands)
	}
	methodErrs := 0
	for k, n := range rep.MethodErrors {
		if !strings.HasPrefix(k, "Email/changes: ") {
			t.Errorf("method error %s ×%d", k, n)
		}
		methodErrs += n
	}
	if ch.Errors != methodErrs || rep.Errors != methodErrs {
		t.Errorf("errors other than Email/changes method errors: %d of Email/changes, %d method errors, %d in all: %q",
			ch.Errors, methodErrs, rep.Errors, rep.ErrorSamples)
	}
	if methodErrs > 0 && !strings.Contains(text.String(), "method errors:\n  Email/changes: ") {
		t.Errorf("text report does not name the method error:\n%s", text.String())
	}
	p := rep.Push
	if p == nil || p.Probes != 1 || p.Deliveries == 0 || p.Missed != 0 || p.Early > p.Deliveries ||
		p.AfterDot.P50 <= 0 || p.AfterDot.Max > pushTimeout || p.AfterReply.Max > p.AfterDot.Max {
		t.Errorf("push: %+v", p)
	}
	if !strings.Contains(text.String(), "push: 1 probes, ") || rep.Bytes <= 0 {
		t.Errorf("text report or bytes (%d):\n%s", rep.Bytes, text.String())
	}
}

// TestJMAPLoadErrors: a wrong password is an HTTP error of the session,
// reported, not a crash or a hang.
func TestJMAPLoadErrors(t *testing.T) {
	r := startJMAPRig(t, 1, 1)
	o := jmapTestOptions(r)
	o.Clients, o.Password, o.SMTPAddr, o.Duration = 1, "wrong", "", 0
	o.Cycles = 2
	rep, err := RunJMAP(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Commands["SESSION"]; c == nil || c.Errors != 2 || rep.Cycles != 0 || len(rep.ErrorSamples) != 1 ||
		!strings.Contains(rep.ErrorSamples[0], "HTTP 401") {
		t.Errorf("report %+v %q", rep.Commands, rep.ErrorSamples)
	}
	if _, err := RunJMAP(t.Context(), JMAPOptions{Options: Options{Addr: "127.0.0.1:1", StartTLS: true, Users: "u%d", Cycles: 1}}); err == nil {
		t.Error("STARTTLS accepted")
	}
}

// TestJMAPLoadTLS: --tls is https (HTTP/2 where the server offers it), with
// --insecure for the rig's self-signed certificate.
func TestJMAPLoadTLS(t *testing.T) {
	r := testrig.Start(t, testrig.Factories{"http": web.Factory()}, testrig.Listen("https"))
	r.Deliver(addUsers(r, 1)[0], testIMAPMessage(1, 0))
	o := JMAPOptions{Options: Options{Addr: r.Addr("https"), TLS: true, Insecure: true, Users: "user%d@example.test",
		Password: testrig.Password, Cycles: 3, Timeout: 10 * time.Second}}
	rep, err := RunJMAP(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Commands["Email/set"]; c == nil || c.Count != 3 || c.Errors != 0 || rep.Commands["SESSION"].Errors != 0 || rep.Bytes <= 0 {
		t.Fatalf("report %+v %q", rep.Commands, rep.ErrorSamples)
	}
}
