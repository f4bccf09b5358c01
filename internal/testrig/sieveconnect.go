package testrig

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// SieveConnect runs Debian's ManageSieve client, sieve-connect, against
// addr as user (password Password) over STARTTLS with PLAIN, with args
// (--upload, --list, …), and returns what it printed; the test fails if
// it fails. It skips the test when sieve-connect is not installed
// (scripts/install-test-deps.sh installs it).
func SieveConnect(t testing.TB, addr, user string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("sieve-connect")
	if err != nil {
		t.Skip("sieve-connect is not installed (scripts/install-test-deps.sh installs it)")
	}
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--server", host, "--port", port,
		"--user", user, "--passwordfd", "3", "--authmech", "PLAIN", "--notlsverify", "--noclearauth",
		// No SRV lookup of _sieve._tcp: it asks the system's DNS, which a
		// test machine may not reach, and waits for its timeouts.
		"--nosrv"}, args...)...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{pr}
	io.WriteString(pw, Password+"\n")
	pw.Close()
	out, err := cmd.CombinedOutput()
	pr.Close()
	if err != nil {
		t.Fatalf("sieve-connect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
