package managesieve

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migadu/go-managesieve/managesieveclient"

	"mailroom/internal/sieve"
	"mailroom/internal/testrig"
)

// TestManageSieveClient: go-managesieve's own client upgrades with
// STARTTLS, reads the capabilities, logs in with PLAIN and drives the
// script commands.
func TestManageSieveClient(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := managesieveclient.Dial(ctx, r.Addr("managesieve"), managesieveclient.Options{
		TLSConfig: testrig.ClientTLS(), STARTTLS: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps := c.Capabilities()
	if caps["SASL"] != "PLAIN" || caps["SIEVE"] != strings.Join(sieve.Extensions(), " ") || caps["IMPLEMENTATION"] != "Mailroom" {
		t.Fatalf("capabilities after STARTTLS: %v", caps)
	}
	if err := c.AuthenticatePlain(ctx, "", "ann@example.test", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := c.AuthenticatePlain(ctx, "", "ann@example.test", password); err != nil {
		t.Fatal(err)
	}
	// The client sends single lines; a script goes as a literal.
	if resp, err := c.Cmd(ctx, fmt.Sprintf("PUTSCRIPT \"vacation\" {%d+}\r\n%s", len(vacation), vacation)); err != nil || resp != `OK "Script stored"` {
		t.Fatalf("PUTSCRIPT: %q, %v", resp, err)
	}
	if resp, err := c.Cmd(ctx, `SETACTIVE "vacation"`); err != nil || resp != "OK" {
		t.Fatalf("SETACTIVE: %q, %v", resp, err)
	}
	if resp, err := c.Cmd(ctx, "LISTSCRIPTS"); err != nil || resp != `"vacation" ACTIVE` {
		t.Fatalf("LISTSCRIPTS: %q, %v", resp, err)
	}
	if l, err := c.Reader().ReadString('\n'); err != nil || l != "OK\r\n" {
		t.Fatalf("LISTSCRIPTS end: %q, %v", l, err)
	}
	if resp, err := c.Cmd(ctx, `CHECKSCRIPT "keep;"`); err != nil || resp != "OK" {
		t.Fatalf("CHECKSCRIPT: %q, %v", resp, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSieveConnect: Debian's sieve-connect uploads, lists, activates,
// downloads, deactivates and deletes a script, over STARTTLS with PLAIN.
func TestSieveConnect(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "vacation.sieve")
	if err := os.WriteFile(local, []byte(vacation), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		return testrig.SieveConnect(t, r.Addr("managesieve"), "ann@example.test", args...)
	}
	run("--upload", "--localsieve", local, "--remotesieve", "vacation")
	if out := run("--list"); !strings.Contains(out, `"vacation"`) || strings.Contains(out, "ACTIVE") {
		t.Fatalf("list after upload:\n%s", out)
	}
	run("--activate", "--remotesieve", "vacation")
	if out := run("--list"); !strings.Contains(out, `"vacation" ACTIVE`) {
		t.Fatalf("list after activate:\n%s", out)
	}
	back := filepath.Join(dir, "back.sieve")
	run("--download", "--remotesieve", "vacation", "--localsieve", back)
	if got, err := os.ReadFile(back); err != nil || string(got) != vacation {
		t.Fatalf("downloaded %q, %v; want %q", got, err, vacation)
	}
	run("--deactivate")
	run("--delete", "--remotesieve", "vacation")
	if out := run("--list"); strings.Contains(out, "vacation") {
		t.Fatalf("list after delete:\n%s", out)
	}
}

// TestThunderbirdReplay replays what Thunderbird's Sieve add-on sends
// (CAPABILITY, STARTTLS, AUTHENTICATE "PLAIN" with an initial response,
// LISTSCRIPTS, PUTSCRIPT with a {N+} literal, SETACTIVE, GETSCRIPT,
// LOGOUT) over a raw socket and checks every answer.
func TestThunderbirdReplay(t *testing.T) {
	r := newRig(t)
	c := r.dial()
	if _, ok := c.caps["STARTTLS"]; !ok {
		t.Fatalf("greeting lacks STARTTLS: %v", c.caps)
	}
	c.Send("CAPABILITY")
	c.readCaps()
	c.Send("STARTTLS")
	c.Expect(`OK "Begin TLS negotiation"`)
	tc := tls.Client(c.Conn, testrig.ClientTLS())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.Conn, c.R = tc, bufio.NewReader(tc)
	c.readCaps() // re-sent after TLS (RFC 5804 2.2), not asked for
	if c.caps["SASL"] != "PLAIN" {
		t.Fatalf("after STARTTLS: %v", c.caps)
	}
	c.cmd(`AUTHENTICATE "PLAIN" "`+plain("ann@example.test", password)+`"`, `OK "Authenticated"`)
	if got := c.list(); len(got) != 0 {
		t.Fatalf("LISTSCRIPTS: %q", got)
	}
	script := "require [\"fileinto\"];\r\n# rule:[Lists]\r\nif header :contains \"List-Id\" \"golang\" {\r\n  fileinto \"Lists\";\r\n  stop;\r\n}\r\n"
	c.Send(fmt.Sprintf("PUTSCRIPT \"thunderbird\" {%d+}\r\n%s", len(script), script))
	c.Expect(`OK "Script stored"`)
	c.cmd(`SETACTIVE "thunderbird"`, "OK")
	if got := c.get("thunderbird"); got != script {
		t.Fatalf("GETSCRIPT: %q", got)
	}
	c.cmd("LOGOUT", `OK "Goodbye"`)
	if !c.Closed() {
		t.Fatal("not closed after LOGOUT")
	}
}
