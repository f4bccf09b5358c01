package imap

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/testrig"
)

const password = testrig.Password

// rig is a real Mailroom with IMAP on 143-style (STARTTLS) and 993-style
// (implicit TLS) listeners on loopback.
type rig struct{ *testrig.Rig }

// newRig starts the rig; opts may change its configuration, data
// directory or store (see testrig).
func newRig(t testing.TB, opts ...testrig.Option) *rig {
	t.Helper()
	return &rig{testrig.Start(t, testrig.Factories{"imap": Factory()}, opts...)}
}

// client logs in with go-imap's imapclient over implicit TLS.
func (r *rig) client(email string, opts *imapclient.Options) *imapclient.Client {
	r.T.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = testrig.ClientTLS()
	c, err := imapclient.DialTLS(r.Addr("imaps"), opts)
	if err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { c.Close() })
	if err := c.Login(email, password).Wait(); err != nil {
		r.T.Fatalf("LOGIN %s: %v", email, err)
	}
	return c
}

// raw is a line-level client for exact protocol checks.
type raw struct{ *testrig.LineConn }

// raw connects to the 993-style listener if implicitTLS, else to the
// 143-style one, and reads the greeting.
func (r *rig) raw(implicitTLS bool) *raw {
	r.T.Helper()
	addr := r.Addr("imap")
	if implicitTLS {
		addr = r.Addr("imaps")
	}
	x := &raw{testrig.Dial(r.T, addr, implicitTLS)}
	x.Expect("* OK")
	return x
}

// cmd sends a tagged command and returns every line up to and including
// the tagged reply, which must start with want ("OK", "NO", "BAD").
func (x *raw) cmd(tag, command, want string) []string {
	x.T.Helper()
	x.Send(tag + " " + command)
	var lines []string
	for {
		l := x.Line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" "+want) {
				x.T.Fatalf("%s: got %q, want %s (all: %q)", command, l, want, lines)
			}
			return lines
		}
	}
}

func has(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// imaplib runs a Python script that drives the server with imaplib: its
// arguments are the IMAPS host and port and the test password, its
// output is returned. A script that fails fails the test.
func (r *rig) imaplib(script string) string {
	r.T.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		r.T.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	host, port := splitAddr(r.Addr("imaps"))
	out, err := exec.Command(python, "-c", script, host, port, password).CombinedOutput()
	if err != nil {
		r.T.Fatalf("imaplib: %v\n%s", err, out)
	}
	return string(out)
}
