package imapmigrate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailroom/internal/testrig"
)

// dovecotConf runs Dovecot as one unprivileged user: no chroot, every
// service as that user, a Maildir per user under the test's directory,
// IMAPS and IMAP (STARTTLS) on loopback ports. The folder separator is
// "." and Sent is called "Sent Messages", to exercise the name mapping.
const dovecotConf = `
protocols = imap
listen = 127.0.0.1
base_dir = {{dir}}/run
state_dir = {{dir}}/state
instance_name = mailroom-test-dovecot
log_path = {{dir}}/dovecot.log
default_login_user = {{user}}
default_internal_user = {{user}}
default_internal_group = {{group}}
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{dir}}/users
}
userdb {
  driver = static
  args = uid={{uid}} gid={{gid}} home={{dir}}/home/%u
}
first_valid_uid = 1
mail_location = maildir:{{dir}}/mail/%u
namespace inbox {
  inbox = yes
  separator = .
  mailbox Drafts {
    special_use = \Drafts
    auto = create
  }
  mailbox "Sent Messages" {
    special_use = \Sent
    auto = create
  }
  mailbox Trash {
    special_use = \Trash
    auto = create
  }
}
ssl = yes
ssl_cert = <{{dir}}/cert.pem
ssl_key = <{{dir}}/key.pem
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = {{imap}}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = {{imaps}}
    ssl = yes
  }
}
service anvil {
  chroot =
}
service auth-worker {
  user = {{user}}
}
service imap-urlauth-login {
  inet_listener imap-urlauth {
    port = 0
  }
}
`

// dovecot is a private Dovecot started by the test.
type dovecot struct {
	imaps, imap int
}

// startDovecot starts Dovecot with users "ann" and "bob" (password
// "dovecot-pw"). Without the binary the test is skipped, except in CI
// (MAILROOM_REQUIRE_POSTGRES set), where it must run.
func startDovecot(t *testing.T) *dovecot {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/dovecot"); err == nil {
			bin = "/usr/sbin/dovecot"
		} else if os.Getenv("MAILROOM_REQUIRE_POSTGRES") != "" {
			t.Fatal("dovecot is not installed (package dovecot-imapd; scripts/install-test-deps.sh)")
		} else {
			t.Skip("dovecot is not installed (package dovecot-imapd): skipping the Dovecot migration test")
		}
	}
	dir := t.TempDir()
	// Run as ourselves, or, as root, as nobody (Dovecot refuses mail
	// access as root): then nobody must reach the directory.
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"run", "state", "mail", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeCert(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte("ann:{PLAIN}dovecot-pw::::::\nbob:{PLAIN}dovecot-pw::::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &dovecot{imaps: freePort(t), imap: freePort(t)}
	conf := strings.NewReplacer("{{dir}}", dir, "{{user}}", u.Username, "{{group}}", g.Name, "{{uid}}", strconv.Itoa(uid),
		"{{gid}}", strconv.Itoa(gid), "{{imap}}", strconv.Itoa(d.imap), "{{imaps}}", strconv.Itoa(d.imaps)).Replace(dovecotConf)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot output:\n%s\nlog:\n%s", out.String(), log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.imaps), time.Second)
		if err == nil {
			c.Close()
			return d
		}
		exited := false
		select {
		case <-done:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not start: %v\n%s\n%s", err, out.String(), log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// A Dovecot account with "."-separated folders, a differently named
// Sent, flags, keywords and dates is migrated over IMAPS, then over
// IMAP with STARTTLS for the second run: everything matches, the second
// run copies only new mail and follows the flags, --verify agrees.
func TestMigrateFromDovecot(t *testing.T) {
	ctx := context.Background()
	dv := startDovecot(t)
	dst := startRig(t)
	dst.Account("new@example.test")
	sc := login(t, fmt.Sprintf("127.0.0.1:%d", dv.imaps), "ann", "dovecot-pw")
	for _, f := range []string{"Lists", "Lists.go-nuts", "Lists.postgres"} {
		if err := sc.Create(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	folders := []string{"INBOX", "Sent Messages", "Lists.go-nuts", "Lists.postgres", "Drafts"}
	base := time.Date(2019, 6, 7, 8, 9, 10, 0, time.UTC)
	for i := range 80 {
		flags := []imap.Flag{}
		if i%3 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%4 == 0 {
			flags = append(flags, imap.FlagFlagged, "$label2", "NonJunk")
		}
		if folders[i%len(folders)] == "Drafts" {
			flags = append(flags, imap.FlagDraft)
		}
		appendMsg(t, sc, folders[i%len(folders)], message(i, "dovecot"), base.Add(time.Duration(i)*time.Minute), flags...)
	}
	opts := Options{
		Store: dst.Store, Mail: dst.Server.Deps().Mailboxes, Account: "new@example.test",
		Source:   Source{TLS: true, User: "ann", Host: "127.0.0.1", Port: dv.imaps},
		Password: "dovecot-pw", InsecureTLS: true, StateDir: t.TempDir(),
	}
	res, err := Migrate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := res.Totals(); n != 80 {
		t.Errorf("copied %d, want 80", n)
	}
	rename := func(n string) string {
		if n == "Sent Messages" {
			return "Sent"
		}
		return strings.ReplaceAll(n, ".", "/")
	}
	same := func(n string) string { return n }
	dc := login(t, dst.Addr("imaps"), "new@example.test", testrig.Password)
	sameSnapshot(t, snapshot(t, sc, rename), snapshot(t, dc, same))

	for i := 100; i < 104; i++ {
		appendMsg(t, sc, "Lists.postgres", message(i, "later"), base, imap.FlagAnswered)
	}
	if _, err := sc.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Store(imap.SeqSetNum(1, 2, 3), &imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagSeen, "$Important"}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	// The same account over imap:// (STARTTLS): the state is per source
	// URL, so this is another source: what is here is found by content.
	opts.Source = Source{User: "ann", Host: "127.0.0.1", Port: dv.imap}
	res, err = Migrate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for _, f := range res.Folders {
		matched += f.Matched
	}
	// The messages found here take the flags the source changed.
	if n, _, flags := res.Totals(); n != 4 || matched != 80 || flags != 3 {
		t.Errorf("over STARTTLS: copied %d, found %d here, updated flags on %d; want 4, 80 and 3", n, matched, flags)
	}
	sameSnapshot(t, snapshot(t, sc, rename), snapshot(t, dc, same))
	// Flags changed at the source again: the next run (with CONDSTORE,
	// only what changed since) follows them.
	if _, err := sc.Select("Lists.postgres", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted, "$Done"}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	res, err = Migrate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, flags := res.Totals(); n != 0 || flags != 2 || !res.Folders["Lists/postgres"].ChangedSince {
		t.Errorf("third run: copied %d, flags updated on %d, CHANGEDSINCE %v; want 0, 2 and true", n, flags, res.Folders["Lists/postgres"].ChangedSince)
	}
	sameSnapshot(t, snapshot(t, sc, rename), snapshot(t, dc, same))
	verdicts, err := Verify(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range verdicts {
		if !v.OK() {
			t.Errorf("verify: %s", v)
		}
	}
	if len(verdicts) != 7 {
		t.Errorf("verify saw %d folders: %v", len(verdicts), verdicts)
	}
}
