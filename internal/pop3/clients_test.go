package pop3

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Real POP3 clients, unmodified, against the real server. The test script
// (scripts/install-test-deps.sh) installs them.

func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s is needed (scripts/install-test-deps.sh installs it)", prog)
	}
	return p
}

const poplibScript = `
import json, poplib, ssl, sys
host, plain, tlsport, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
p = poplib.POP3(host, plain)
out["capa_plain"] = sorted(p.capa().keys())
p.stls(context=ctx)
out["capa_tls"] = sorted(p.capa().keys())
p.user(user); p.pass_(pw)
out["stat"] = p.stat()
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["retr"] = b"\r\n".join(p.retr(2)[1]).decode()
out["top"] = b"\r\n".join(p.top(1, 0)[1]).decode()
p.dele(1); p.rset(); p.dele(2)
out["quit"] = p.quit().decode()
s = poplib.POP3_SSL(host, tlsport, context=ctx)
s.user(user); s.pass_(pw)
out["stat_after"] = s.stat()
s.quit()
print(json.dumps(out))
`

func TestPythonPoplib(t *testing.T) {
	python := need(t, "python3")
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("first", "one\r\n"))
	m2 := message("second", ".dotted\r\ntwo\r\n")
	r.Deliver(acct, m2)
	_, plainPort, _ := net.SplitHostPort(r.Addr("pop3"))
	_, tlsPort, _ := net.SplitHostPort(r.Addr("pop3s"))
	out, err := exec.Command(python, "-c", poplibScript, "127.0.0.1", plainPort, tlsPort, "ann@example.test", password).CombinedOutput()
	if err != nil {
		t.Fatalf("poplib: %v\n%s", err, out)
	}
	var res struct {
		CapaPlain []string `json:"capa_plain"`
		CapaTLS   []string `json:"capa_tls"`
		Stat      []int
		List      []string
		Uidl      []string
		Retr      string
		Top       string
		Quit      string
		StatAfter []int `json:"stat_after"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !contains(res.CapaPlain, "STLS") || contains(res.CapaPlain, "USER") || !contains(res.CapaTLS, "USER") || !contains(res.CapaTLS, "SASL") {
		t.Fatalf("CAPA %v / %v", res.CapaPlain, res.CapaTLS)
	}
	if res.Stat[0] != 2 || len(res.List) != 2 || len(res.Uidl) != 2 {
		t.Fatalf("stat %v list %v uidl %v", res.Stat, res.List, res.Uidl)
	}
	// poplib strips line ends and undoes byte-stuffing.
	if res.Retr+"\r\n" != m2 {
		t.Fatalf("retr %q", res.Retr)
	}
	if !strings.Contains(res.Top, "Subject: first") || strings.Contains(res.Top, "one") {
		t.Fatalf("top %q", res.Top)
	}
	if res.StatAfter[0] != 1 {
		t.Fatalf("after DELE 1, RSET, DELE 2, QUIT: %v", res.StatAfter)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCurl(t *testing.T) {
	curl := need(t, "curl")
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	m := message("curl", "via curl\r\n")
	r.Deliver(acct, m)
	run := func(args ...string) string {
		out, err := exec.Command(curl, append([]string{"-s", "-S", "-k", "-u", "ann@example.test:" + password}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// pop3:// with STLS required, listing.
	if got := run("--ssl-reqd", "pop3://"+r.Addr("pop3")+"/"); strings.TrimSpace(got) != "1 "+itoa(len(m)) {
		t.Fatalf("curl LIST %q", got)
	}
	// pop3s:// retrieving message 1.
	if got := run("pop3s://" + r.Addr("pop3s") + "/1"); got != m {
		t.Fatalf("curl RETR %q", got)
	}
	// Without TLS, curl's login is refused.
	out, err := exec.Command(curl, "-s", "-u", "ann@example.test:"+password, "pop3://"+r.Addr("pop3")+"/").CombinedOutput()
	if err == nil {
		t.Fatalf("plaintext login accepted: %s", out)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func fetchmailRun(t *testing.T, r *rig, keep bool, dir string) int {
	t.Helper()
	fetchmail := need(t, "fetchmail")
	_, port, _ := net.SplitHostPort(r.Addr("pop3s"))
	keepOpt := "no keep"
	if keep {
		keepOpt = "keep"
	}
	rc := filepath.Join(dir, "fetchmailrc")
	text := "set no bouncemail\n" +
		"poll 127.0.0.1 with proto POP3 port " + port + "\n" +
		"  user \"ann@example.test\" there with password \"" + password + "\" is \"root\" here\n" +
		"  options " + keepOpt + " ssl no sslcertck\n" +
		"  mda \"/bin/sh -c 'cat > " + dir + "/msg.$$'\"\n"
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fetchmail, "-f", rc, "--idfile", filepath.Join(dir, "ids"), "--pidfile", filepath.Join(dir, "pid"), "-N", "--nosyslog")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code > 1 { // 1 = no new mail
		t.Fatalf("fetchmail exit %d:\n%s", code, out)
	}
	return code
}

func countFiles(t *testing.T, dir, prefix string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}

func TestFetchmail(t *testing.T) {
	t.Run("keep", func(t *testing.T) {
		r := newRig(t, nil)
		acct := r.Account("ann@example.test")
		r.Deliver(acct, message("a", "x\r\n"))
		r.Deliver(acct, message("b", "y\r\n"))
		dir := t.TempDir()
		if code := fetchmailRun(t, r, true, dir); code != 0 || countFiles(t, dir, "msg.") != 2 {
			t.Fatalf("first run: exit %d, %d messages", code, countFiles(t, dir, "msg."))
		}
		// Second run: UIDLs tell fetchmail there is nothing new; the server keeps everything.
		if code := fetchmailRun(t, r, true, dir); code != 1 || countFiles(t, dir, "msg.") != 2 {
			t.Fatalf("second run: exit %d, %d messages", code, countFiles(t, dir, "msg."))
		}
		if n := len(r.Messages(acct, "INBOX")); n != 2 {
			t.Fatalf("server has %d messages, want 2 (keep)", n)
		}
	})
	t.Run("nokeep", func(t *testing.T) {
		r := newRig(t, nil)
		acct := r.Account("ann@example.test")
		r.Deliver(acct, message("a", "x\r\n"))
		dir := t.TempDir()
		if code := fetchmailRun(t, r, false, dir); code != 0 || countFiles(t, dir, "msg.") != 1 {
			t.Fatalf("exit %d, %d messages", code, countFiles(t, dir, "msg."))
		}
		if n := len(r.Messages(acct, "INBOX")); n != 0 {
			t.Fatalf("server still has %d messages", n)
		}
	})
}

func TestGetmail(t *testing.T) {
	getmail := need(t, "getmail")
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("a", "x\r\n"))
	r.Deliver(acct, message("b", "y\r\n"))
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	_, port, _ := net.SplitHostPort(r.Addr("pop3s"))
	rc := filepath.Join(dir, "getmailrc")
	// An external MDA: getmail refuses Maildir delivery as root, which the
	// test runs as.
	os.WriteFile(rc, []byte("[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\nport = "+port+
		"\nusername = ann@example.test\npassword = "+password+"\n\n[destination]\ntype = MDA_external\npath = /bin/sh\n"+
		"arguments = (\"-c\", \"cat > "+out+"/msg.$$\")\nallow_root_commands = true\n\n[options]\ndelete = false\nread_all = false\nverbose = 0\n"), 0o600)
	run := func() {
		out, err := exec.Command(getmail, "--rcfile="+rc, "--getmaildir="+dir).CombinedOutput()
		if err != nil {
			t.Fatalf("getmail: %v\n%s", err, out)
		}
	}
	run()
	run() // only new mail: nothing the second time
	if n := countFiles(t, out, "msg."); n != 2 {
		t.Fatalf("getmail stored %d messages, want 2", n)
	}
	if n := len(r.Messages(acct, "INBOX")); n != 2 {
		t.Fatalf("server has %d messages, want 2", n)
	}
}
