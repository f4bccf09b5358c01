package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/listener"
	"mailroom/internal/server"
	"mailroom/internal/smtp"
)

// benchRun runs "mailroom bench ARGS…" in-process.
func benchRun(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"bench"}, args...), &stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"lmtp"}, {"smtp"}, {"smtp", "--users", "u%d@example.test"}, {"smtp", "--addr", "127.0.0.1:1", "extra"},
		{"smtp", "--addr", "127.0.0.1:1", "--bogus"}, {"smtp", "--addr", "127.0.0.1:1", "--size", "100", "--mbox", "x.mbox"},
		{"smtp", "--addr", "127.0.0.1:1", "--cycles", "x"},
	} {
		code, _, errs := benchRun(args...)
		if code != 2 || !strings.HasPrefix(errs, "mailroom: ") {
			t.Errorf("mailroom bench %v: exit %d stderr %q, want exit 2 and a message", args, code, errs)
		}
	}
	// A mistake only the load generator sees is no usage error.
	if code, _, errs := benchRun("smtp", "--addr", "127.0.0.1:1", "--auth"); code != 1 || !strings.Contains(errs, "TLS") {
		t.Errorf("--auth without TLS: exit %d stderr %q", code, errs)
	}
}

// TestBenchSMTP runs "mailroom bench smtp --cycles … --verify-imap …"
// against an in-process Mailroom: all the messages asked for, not as many
// as fit in the default --duration, each found in its INBOX.
func TestBenchSMTP(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mx.example.test"
	cfg.DataDir = t.TempDir()
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", IMAPS: "127.0.0.1:0"}
	cfg.TLS.SelfSigned = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)),
		map[string]listener.Factory{"smtp": smtp.Factory(smtp.Inbound), "imap": imap.Factory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	addrs := map[string]string{}
	for _, l := range srv.Listening() {
		addrs[l.Key] = l.Addr
	}
	st := srv.Deps().Store
	if _, err := st.CreateDomain(context.Background(), "example.test"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword("pass", auth.Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for u := 1; u <= 2; u++ {
		if _, err := st.CreateAccount(context.Background(), fmt.Sprintf("user%d@example.test", u), cred); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errs := benchRun("smtp", "--addr", addrs["smtp"], "--users", "user%d@example.test", "--clients", "2",
		"--cycles", "25", "--size", "2000", "--reuse", "--verify-imap", addrs["imaps"], "--insecure", "--password", "pass", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var rep struct {
		Protocol string
		Cycles   int
		Errors   int
		Commands map[string]struct{ Count int }
		Verify   struct{ Recipients, Accepted, Verified, Missing int }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Protocol != "smtp" || rep.Cycles != 25 || rep.Errors != 0 || rep.Commands["DOT"].Count != 25 ||
		rep.Verify.Recipients != 2 || rep.Verify.Accepted != 25 || rep.Verify.Verified != 25 || rep.Verify.Missing != 0 {
		t.Fatalf("report: %s", out)
	}

	// The text report, with a message that cannot be delivered.
	code, out, _ = benchRun("smtp", "--addr", addrs["smtp"], "--users", "user%d@example.test", "--count", "3", "--clients", "1", "--cycles", "3")
	if code != 0 || !strings.Contains(out, "smtp: 1 clients, ") || !strings.Contains(out, ", 2 cycles (") ||
		!strings.Contains(out, "error samples:\n  RCPT: 550 ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
