package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/auth"
)

// env is a test data directory with a config file.
type env struct {
	t      *testing.T
	dir    string
	config string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mailroom.toml")
	text := `hostname = "mail.example.test"
data_dir = "data"
[listen]
smtp = ""
submission = ""
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
https = ""
`
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, config: cfg}
}

// run runs one mailroom command in-process with --config appended.
func (e *env) run(stdin string, args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	args = append(args, "--config", e.config)
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

// checkPassword verifies that the stored password of email is password,
// through the same Authenticator the protocols use.
func (e *env) checkPassword(email, password string) {
	e.t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	a := auth.NewAuthenticator(st, nil, -1, nil)
	if _, err := a.Authenticate(ctx, netip.MustParseAddr("127.0.0.1"), "test", email, password); err != nil {
		e.t.Fatalf("login %s with the password set by the CLI: %v", email, err)
	}
	if _, err := a.Authenticate(ctx, netip.MustParseAddr("127.0.0.1"), "test", email, password+"x"); err == nil {
		e.t.Fatalf("login %s with a wrong password succeeded", email)
	}
}

// ok runs a command that must succeed and returns its output.
func (e *env) ok(stdin string, args ...string) string {
	e.t.Helper()
	code, out, errs := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("mailroom %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// fails runs a command that must fail with one line on stderr matching re.
func (e *env) fails(re string, args ...string) {
	e.t.Helper()
	code, _, errs := e.run("", args...)
	if code == 0 {
		e.t.Fatalf("mailroom %s succeeded, want failure", strings.Join(args, " "))
	}
	if strings.Count(errs, "\n") != 1 || !regexp.MustCompile(re).MatchString(errs) {
		e.t.Fatalf("mailroom %s: stderr %q, want one line matching %q", strings.Join(args, " "), errs, re)
	}
}

func TestAdminCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "Example.test")
	e.ok("", "domain", "add", "other.test")
	if out := e.ok("", "domain", "list"); out != "example.test\nother.test\n" {
		t.Fatalf("domain list: %q", out)
	}
	e.fails(`domain example\.test.*already exists`, "domain", "add", "example.test")
	e.fails(`invalid`, "domain", "add", "bad_domain!")

	e.ok("secret-1\n", "user", "add", "demo@example.test", "--password-stdin")
	e.ok("secret-2\n", "user", "add", "--password-stdin", "bob@example.test")
	e.fails(`already exists`, "user", "add", "demo@example.test", "--password-stdin")
	e.fails(`unknown domain`, "user", "add", "x@nowhere.test", "--password-stdin")
	e.fails(`invalid address`, "user", "add", "not-an-address", "--password-stdin")
	e.fails(`standard input is not a terminal.*--password-stdin`, "user", "add", "carol@example.test")
	e.fails(`empty password`, "user", "add", "carol@example.test", "--password-stdin")
	if out := e.ok("", "user", "list"); out != "bob@example.test\ndemo@example.test\n" {
		t.Fatalf("user list: %q", out)
	}
	e.checkPassword("demo@example.test", "secret-1")
	e.ok("new-secret\n", "user", "passwd", "demo@example.test", "--password-stdin")
	e.checkPassword("demo@example.test", "new-secret")
	e.fails(`account ghost@example\.test: not found`, "user", "passwd", "ghost@example.test", "--password-stdin")

	e.ok("", "user", "set", "demo@example.test", "pop3.enabled=false", "imap.enabled=off")
	out := e.ok("", "user", "get", "demo@example.test")
	for _, want := range []string{"pop3.enabled=false\n", "imap.enabled=false\n", "submission.enabled=true\n", "admin=false\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("user get lacks %q: %q", want, out)
		}
	}
	e.fails(`unknown setting "bogus"`, "user", "set", "demo@example.test", "bogus=1")
	e.fails(`pop3\.enabled wants true or false`, "user", "set", "demo@example.test", "pop3.enabled=perhaps")
	e.fails(`not KEY=VALUE`, "user", "set", "demo@example.test", "novalue")
	// Forwarding and vacation are Sieve now: refused, with the way to go.
	e.fails(`forwarding and the vacation notice are Sieve filters now: set them in the webmail`, "user", "set", "demo@example.test", "forward.to=x@example.org")
	e.fails(`vacation.enabled: forwarding and the vacation notice are Sieve`, "user", "set", "demo@example.test", "vacation.enabled=true")

	e.ok("", "alias", "add", "team@example.test", "demo@example.test", "bob@example.test", "friend@elsewhere.org")
	if out := e.ok("", "alias", "list"); out != "team@example.test -> bob@example.test, demo@example.test, friend@elsewhere.org\n" {
		t.Fatalf("alias list: %q", out)
	}
	e.fails(`no such local account`, "alias", "add", "x@example.test", "ghost@example.test")
	e.fails(`unknown domain`, "alias", "add", "x@nowhere.test", "demo@example.test")
	e.fails(`target of alias team@example\.test`, "user", "del", "bob@example.test")
	e.ok("", "alias", "del", "team@example.test")
	e.fails(`alias team@example\.test: not found`, "alias", "del", "team@example.test")

	out = e.ok("", "mailbox", "list", "demo@example.test")
	for _, want := range []string{"MAILBOX", "INBOX ", "Sent ", `\Sent`, "Trash ", `\Trash`} {
		if !strings.Contains(out, want) {
			t.Errorf("mailbox list lacks %q:\n%s", want, out)
		}
	}
	e.fails(`not found`, "mailbox", "list", "ghost@example.test")

	e.ok("", "alias", "add", "@example.test", "demo@example.test")
	if out := e.ok("", "alias", "list"); !strings.Contains(out, "@example.test -> demo@example.test") {
		t.Fatalf("catch-all alias not listed: %q", out)
	}
	e.ok("", "alias", "del", "@example.test")

	e.ok("", "user", "del", "bob@example.test")
	e.fails(`not found`, "user", "del", "bob@example.test")
	e.fails(`still has 1 accounts`, "domain", "del", "example.test")
	e.ok("", "domain", "del", "other.test")
	e.fails(`unknown domain`, "domain", "del", "other.test")
}

func TestUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"frobnicate"}, {"user"}, {"user", "add"}, {"user", "zap", "x"}, {"domain", "add"},
		{"alias", "add", "a@example.test"}, {"user", "list", "extra"}, {"user", "list", "--bogus-flag"},
	} {
		code, _, errs := e.run("", args...)
		if code != 2 || !strings.HasPrefix(errs, "mailroom: ") {
			t.Errorf("mailroom %v: exit %d stderr %q, want exit 2 and a message", args, code, errs)
		}
	}
}

func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	e := newEnv(t)
	write := func(text string) {
		if err := os.WriteFile(e.config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hostname = \"mail.example.test\"\n[listen]\nimap = \":143\"\nimpa = \":144\"\n")
	e.fails(`mailroom\.toml:4: listen\.impa: unknown key`, "user", "list")
	write("hostname = \"mail.example.test\"\n\n[auth]\nallow_insecure = \"yes\"\n")
	e.fails(`mailroom\.toml:4: auth\.allow_insecure: want a boolean`, "user", "list")
	write("hostname = \"mail.example.test\"\n[listen]\nsubmissions = \"\"\npop3s = \"\"\nhttps = \"\"\nimaps = \":993\"\n")
	e.fails(`mailroom\.toml:6: listen\.imaps: needs TLS`, "user", "list")
	code, _, errs := run2(t, "user", "list", "--config", filepath.Join(e.dir, "missing.toml"))
	if code != 1 || !strings.Contains(errs, "missing.toml does not exist") {
		t.Fatalf("missing config: %d %q", code, errs)
	}
}

func run2(t *testing.T, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run2(t, "version")
	if code != 0 || !strings.HasPrefix(out, "mailroom ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// buildBinary compiles the real mailroom binary for process-level tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailroom")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

// TestServeGracefulShutdown starts the real binary, runs an admin command
// against the same data while it serves, and stops it with SIGTERM.
func TestServeGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	e := newEnv(t)
	serve := exec.Command(bin, "serve", "--config", e.config)
	stderr, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer serve.Process.Kill()
	waitLog(t, stderr, "mailroom started")

	// Admin commands work while serve runs on the same data.
	admin := exec.Command(bin, "domain", "add", "example.test", "--config", e.config)
	if out, err := admin.CombinedOutput(); err != nil {
		t.Fatalf("admin command during serve: %v: %s", err, out)
	}
	// A second serve on the same data refuses to start.
	second := exec.Command(bin, "serve", "--config", e.config)
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second serve: %v: %s", err, out)
	}

	serve.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// TestDev runs "mailroom dev" and checks the banner: account, password and
// client settings; the printed password is the stored one.
func TestDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "dev")
	dev := exec.Command(bin, "dev", "--data", data)
	stdout, _ := dev.StdoutPipe()
	dev.Stderr = os.Stderr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer dev.Process.Kill()
	banner := waitLog(t, stdout, "Stop with Ctrl-C")
	for _, want := range []string{"demo@example.test", "IMAP", "127.0.0.1:2993", "SSL/TLS", "127.0.0.1:2587", "STARTTLS", "POP3", "127.0.0.1:2995", "ManageSieve", "127.0.0.1:2190", "Metrics (Prometheus)", "127.0.0.1:2112"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	m := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no password in banner:\n%s", banner)
	}
	stored, _ := os.ReadFile(filepath.Join(data, "demo-password"))
	if strings.TrimSpace(string(stored)) != m[1] {
		t.Fatalf("printed password %q, stored %q", m[1], stored)
	}
	// The metrics listener is on, on loopback, and the server is ready.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://127.0.0.1:2112/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ready\n" {
		t.Errorf("dev /readyz: %s %q", resp.Status, body)
	}
	// The written config works for admin commands.
	out, err := exec.Command(bin, "user", "list", "--config", filepath.Join(data, "mailroom.toml")).CombinedOutput()
	if err != nil || string(out) != "demo@example.test\n" {
		t.Fatalf("user list on dev data: %v %q", err, out)
	}
	dev.Process.Signal(syscall.SIGINT)
	if err := dev.Wait(); err != nil {
		t.Fatalf("dev exited with %v after SIGINT", err)
	}
}

// ptyScript runs a command on a pseudo-terminal, answers each prompt it
// sees with the next answer, and prints everything the command wrote.
const ptyScript = `
import os, pty, sys, termios, time
answers = sys.argv[1].split(",")
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if out.rstrip().endswith(b"assword:") and answers:
        # Type once the program has turned echo off (just after printing
        # the prompt); a person is slower than that.
        for _ in range(500):
            if not termios.tcgetattr(fd)[3] & termios.ECHO:
                break
            time.sleep(0.01)
        os.write(fd, answers.pop(0).encode() + b"\n")
        out += b"<typed>"
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
`

// TestPasswordPromptOnTerminal types the password at the no-echo prompt of
// "user add" and "user passwd" on a real pseudo-terminal.
func TestPasswordPromptOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	bin := buildBinary(t)
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	pty := func(answers string, args ...string) (string, error) {
		cmd := exec.Command(python, append([]string{"-c", ptyScript, answers, bin}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := pty("s3cret-pw,s3cret-pw", "user", "add", "tty@example.test", "--config", e.config)
	if err != nil || !strings.Contains(out, "account tty@example.test created") {
		t.Fatalf("user add on a terminal: %v\n%s", err, out)
	}
	if strings.Contains(out, "s3cret-pw") {
		t.Fatalf("the password was echoed:\n%s", out)
	}
	e.checkPassword("tty@example.test", "s3cret-pw")
	out, err = pty("one-thing,another", "user", "passwd", "tty@example.test", "--config", e.config)
	if err == nil || !strings.Contains(out, "do not match") {
		t.Fatalf("mismatched passwords accepted: %v\n%s", err, out)
	}
}

// waitLog reads r until a line contains marker and returns what it read.
func waitLog(t *testing.T, r interface{ Read([]byte) (int, error) }, marker string) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), marker) {
				found <- all.String()
				// Keep draining so the child never blocks on a full pipe.
				for sc.Scan() {
				}
				return
			}
		}
		found <- all.String()
	}()
	select {
	case s := <-found:
		if !strings.Contains(s, marker) {
			t.Fatalf("output ended without %q:\n%s", marker, s)
		}
		return s
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %q", marker)
		return ""
	}
}

// TestBenchPOP3AgainstServe runs "mailroom bench pop3" against a real
// "mailroom serve" with mail delivered over SMTP, and checks the report.
func TestBenchPOP3AgainstServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	e := newEnv(t)
	ports := freePorts(t, 2)
	os.WriteFile(e.config, []byte(`hostname = "localhost"
data_dir = "data"
[listen]
smtp = "127.0.0.1:`+ports[0]+`"
submission = ""
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = "127.0.0.1:`+ports[1]+`"
managesieve = ""
http = ""
https = ""
[tls]
self_signed = true
`), 0o600)
	e.ok("", "domain", "add", "example.test")
	for _, u := range []string{"user1", "user2"} {
		e.ok("pass\n", "user", "add", u+"@example.test", "--password-stdin")
	}
	serve := exec.Command(bin, "serve", "--config", e.config)
	stderr, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() }()
	waitLog(t, stderr, "mailroom started")
	for i := 0; i < 3; i++ {
		for _, u := range []string{"user1", "user2"} {
			c, err := smtpDial("127.0.0.1:" + ports[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SendMail("x@remote.example", []string{u + "@example.test"}, strings.NewReader("Subject: bench\r\n\r\n.dot line\r\nbody\r\n")); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
	out, err := exec.Command(bin, "bench", "pop3", "--addr", "127.0.0.1:"+ports[1], "--tls", "--insecure",
		"--users", "user%d@example.test", "--password", "pass", "--clients", "2", "--duration", "1s", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var rep struct {
		Cycles int
		Errors int
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Cycles == 0 || rep.Errors != 0 {
		t.Fatalf("bench report: %s", out)
	}
}

// freePorts returns n free loopback ports.
func freePorts(t *testing.T, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		out = append(out, p)
	}
	return out
}

func smtpDial(addr string) (*gosmtp.Client, error) {
	c, err := gosmtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	return c, c.Hello("test.example")
}

// loginHashes reports whether password logs in as email: whether one of
// the hashes the store returns for the account verifies it.
func (e *env) loginHashes(email, password string) bool {
	e.t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	_, hashes, err := st.LookupCredentials(ctx, email)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range hashes {
		if ok, err := auth.VerifyPassword(h, password); err != nil {
			e.t.Fatal(err)
		} else if ok {
			return true
		}
	}
	return false
}

func TestAppPasswordCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("main-secret\n", "user", "add", "demo@example.test", "--password-stdin")

	code, out, errs := e.run("", "user", "app-password", "add", "demo@example.test", "phone")
	pw := strings.TrimSuffix(out, "\n")
	if code != 0 || !regexp.MustCompile(`^[a-z2-9]{4}(-[a-z2-9]{4}){3}$`).MatchString(pw) || !strings.Contains(errs, `"phone"`) {
		t.Fatalf("app-password add: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	laptop := strings.TrimSuffix(e.ok("", "user", "app-password", "add", "demo@example.test", "laptop mail"), "\n")
	if !e.loginHashes("demo@example.test", pw) || !e.loginHashes("demo@example.test", laptop) || !e.loginHashes("demo@example.test", "main-secret") {
		t.Fatal("the app passwords (or the main password) do not log in")
	}
	e.checkPassword("demo@example.test", pw) // through the Authenticator, as IMAP would
	e.fails(`app password "phone": already exists`, "user", "app-password", "add", "demo@example.test", "phone")
	e.fails(`account ghost@example\.test: not found`, "user", "app-password", "add", "ghost@example.test", "x")

	out = e.ok("", "user", "app-password", "list", "demo@example.test")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasSuffix(lines[1], " phone") ||
		!strings.HasSuffix(lines[2], " laptop mail") || strings.Contains(out, "argon2") {
		t.Fatalf("app-password list:\n%s", out)
	}
	id := strings.Fields(lines[1])[0]

	if out := e.ok("", "user", "app-password", "del", "demo@example.test", id); !strings.Contains(out, "deleted") {
		t.Fatalf("app-password del: %q", out)
	}
	if e.loginHashes("demo@example.test", pw) {
		t.Fatal("a deleted app password still logs in")
	}
	if !e.loginHashes("demo@example.test", laptop) {
		t.Fatal("deleting one app password revoked another")
	}
	e.fails(`not found`, "user", "app-password", "del", "demo@example.test", id)
	e.fails(`not an app password ID`, "user", "app-password", "del", "demo@example.test", "phone")
	if out := e.ok("", "user", "app-password", "list", "demo@example.test"); strings.Contains(out, "phone") {
		t.Fatalf("deleted app password still listed:\n%s", out)
	}
	for _, args := range [][]string{
		{"user", "app-password"}, {"user", "app-password", "add", "demo@example.test"}, {"user", "app-password", "zap"},
		{"user", "app-password", "list"}, {"user", "app-password", "del", "demo@example.test"},
	} {
		if code, _, _ := e.run("", args...); code != 2 {
			t.Errorf("mailroom %v: exit %d, want 2", args, code)
		}
	}
}
