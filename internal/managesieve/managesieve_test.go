package managesieve

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// TestScripts: the commands of RFC 5804 over STARTTLS, answered with its
// response codes, and the store holding what the client sees.
func TestScripts(t *testing.T) {
	r := newRig(t)
	c := r.login("ann@example.test")

	if got := c.list(); len(got) != 0 {
		t.Fatalf("new account lists %q", got)
	}
	if got := c.put("vacation", vacation); got != `OK "Script stored"` {
		t.Fatalf("PUTSCRIPT: %q", got)
	}
	if got := c.put("vacation", vacation+"keep;\r\n"); got != `OK "Script updated"` {
		t.Fatalf("PUTSCRIPT again: %q", got)
	}
	if got := c.put("spam", "require \"fileinto\";\r\nif header :contains \"X-Spam\" \"yes\" { fileinto \"Junk\"; }\r\n"); got != `OK "Script stored"` {
		t.Fatalf("PUTSCRIPT spam: %q", got)
	}
	if got := c.get("vacation"); got != vacation+"keep;\r\n" {
		t.Fatalf("GETSCRIPT: %q", got)
	}
	c.cmd(`SETACTIVE "vacation"`, "OK")
	if got := strings.Join(c.list(), "|"); got != `"spam"|"vacation" ACTIVE` {
		t.Fatalf("LISTSCRIPTS: %q", got)
	}
	ctx := context.Background()
	acct, err := r.Store.Account(ctx, "ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := r.Store.ActiveSieveScript(ctx, acct.ID); err != nil || sc.Name != "vacation" {
		t.Fatalf("store's active script: %+v, %v", sc, err)
	}

	c.cmd(`DELETESCRIPT "vacation"`, `NO (ACTIVE) `)
	c.cmd(`DELETESCRIPT "nothing"`, `NO (NONEXISTENT) `)
	c.cmd(`GETSCRIPT "nothing"`, `NO (NONEXISTENT) `)
	c.cmd(`SETACTIVE "nothing"`, `NO (NONEXISTENT) `)
	c.cmd(`RENAMESCRIPT "nothing" "x"`, `NO (NONEXISTENT) `)
	c.cmd(`RENAMESCRIPT "spam" "vacation"`, `NO (ALREADYEXISTS) `)
	// Renaming the active script keeps it active.
	c.cmd(`RENAMESCRIPT "vacation" "away"`, "OK")
	if got := strings.Join(c.list(), "|"); got != `"away" ACTIVE|"spam"` {
		t.Fatalf("LISTSCRIPTS after rename: %q", got)
	}
	c.cmd(`SETACTIVE ""`, "OK")
	c.cmd(`DELETESCRIPT "away"`, `OK`)
	if _, err := r.Store.ActiveSieveScript(ctx, acct.ID); err == nil {
		t.Fatal("a script is still active")
	}
	c.cmd(`CHECKSCRIPT {5+}`+"\r\nkeep;", "OK")
	c.cmd(`HAVESPACE "new" 1000`, "OK")
	c.cmd(fmt.Sprintf(`HAVESPACE "new" %d`, store.MaxSieveScriptSize+1), "NO (QUOTA/MAXSIZE) ")
	c.cmd(`HAVESPACE "`+strings.Repeat("n", store.MaxSieveScriptName+1)+`" 10`, "NO ")
	c.cmd("NOOP", "OK")
	c.cmd("LOGOUT", "OK")
	if !c.Closed() {
		t.Fatal("LOGOUT did not close")
	}
	for _, want := range []string{"script stored", "active script set", "script deleted", "script renamed"} {
		if !strings.Contains(r.Log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// TestCapabilities: the SIEVE capability is what sieve.Check accepts,
// MAXSCRIPTSIZE the store's bound; PLAIN is offered only once TLS is on.
func TestCapabilities(t *testing.T) {
	r := newRig(t)
	c := r.dial()
	if _, ok := c.caps["STARTTLS"]; !ok || c.caps["SASL"] != "" {
		t.Fatalf("before TLS: %v", c.caps)
	}
	c.startTLS()
	want := map[string]string{
		"IMPLEMENTATION": "Mailroom",
		"VERSION":        "1.0",
		"SIEVE":          strings.Join(sieve.Extensions(), " "),
		"SASL":           "PLAIN",
		"MAXSCRIPTSIZE":  fmt.Sprint(store.MaxSieveScriptSize),
	}
	for k, v := range want {
		if c.caps[k] != v {
			t.Errorf("capability %s = %q, want %q", k, c.caps[k], v)
		}
	}
	if _, ok := c.caps["STARTTLS"]; ok {
		t.Error("STARTTLS offered over TLS")
	}
}

// TestLoginRules: app passwords log in; shared mailboxes, wrong
// passwords and accounts with IMAP switched off do not; another
// authorization identity is refused.
func TestLoginRules(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acct, _ := r.Store.Account(ctx, "ann@example.test")
	appPW := "app-password-for-sieve"
	cred, err := authHash(appPW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.CreateAppPassword(ctx, acct.ID, "thunderbird", cred); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.CreateSharedAccount(ctx, "support@example.test"); err != nil {
		t.Fatal(err)
	}
	off := r.Account("off@example.test", "imap.enabled", "false")
	_ = off

	try := func(identity, user, pass, want string) {
		t.Helper()
		c := r.dial()
		c.startTLS()
		ir := base64PLAIN(identity, user, pass)
		c.cmd(`AUTHENTICATE "PLAIN" "`+ir+`"`, want)
	}
	try("", "ann@example.test", appPW, "OK")
	try("ann@example.test", "ANN@example.test", password, "OK")
	try("other@example.test", "ann@example.test", password, `NO "authentication failed"`)
	try("", "support@example.test", password, `NO "authentication failed"`)
	try("", "off@example.test", password, `NO "IMAP, and with it ManageSieve, is switched off`)
	if !strings.Contains(r.Log.String(), "protocol=managesieve") {
		t.Error("auth attempts are not logged with protocol=managesieve")
	}
}
