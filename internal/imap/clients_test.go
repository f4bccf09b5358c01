package imap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailroom/internal/store"
)

const imaplibScript = `
import imaplib, ssl, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
print("login", c.login(user, pw)[0])
print("list", len(c.list()[1]))
typ, data = c.select("INBOX")
print("select", typ, data[0].decode())
typ, data = c.search(None, "UNSEEN")
print("search", data[0].decode())
typ, data = c.fetch("1", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("fetch", typ, data[0][1].decode().strip())
typ, data = c.store("1", "+FLAGS", "(\\Flagged)")
print("store", typ, data[0].decode())
typ, data = c.uid("FETCH", "1", "(BODY[TEXT])")
print("text", data[0][1].decode().strip())
c.create('"From Python"')
typ, data = c.copy("1", '"From Python"')
print("copy", typ)
print("logout", c.logout()[0])
`

func TestPythonImaplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/install-test-deps.sh installs it)")
	}
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: from python\r\n\r\nhello imaplib\r\n")
	host, port := splitAddr(r.Addr("imaps"))
	out, err := exec.Command(python, "-c", imaplibScript, host, port, "ann@example.test", password).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	for _, want := range []string{"login OK", "select OK 1", "search 1", "Subject: from python", "store OK 1 (FLAGS (\\Flagged \\Recent))", "text hello imaplib", "copy OK", "logout BYE"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("imaplib output lacks %q:\n%s", want, out)
		}
	}
}

func TestCurlIMAP(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed (scripts/install-test-deps.sh installs it)")
	}
	r := newRig(t)
	acct := r.Account("ann@example.test")
	msg := "Subject: via curl\r\n\r\nbody for curl\r\n"
	r.Deliver(acct, msg)
	out, err := exec.Command(curl, "-s", "-S", "-k", "-u", "ann@example.test:"+password, "imaps://"+r.Addr("imaps")+"/INBOX;UID=1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "body for curl") {
		t.Fatalf("curl imaps: %v\n%s", err, out)
	}
	out, err = exec.Command(curl, "-s", "-S", "-k", "--ssl-reqd", "-u", "ann@example.test:"+password, "imap://"+r.Addr("imap")+"/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "INBOX") {
		t.Fatalf("curl imap STARTTLS LIST: %v\n%s", err, out)
	}
}

func splitAddr(a string) (string, string) {
	i := strings.LastIndexByte(a, ':')
	return a[:i], a[i+1:]
}

// TestMbsync: isync's mbsync, unmodified, syncs both ways: mail down to a
// Maildir, then a flag set and a message deleted locally back up.
func TestMbsync(t *testing.T) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Fatal("mbsync is needed (scripts/install-test-deps.sh installs isync)")
	}
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: one\r\n\r\nfirst\r\n")
	r.Deliver(acct, "Subject: two\r\n\r\nsecond\r\n")
	dir := t.TempDir()
	rc := mbsyncConfig(t, r, dir, "ann@example.test", "", "Inbox "+dir+"/mail/INBOX\n", "Both")
	sync := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(mbsync, append([]string{"-c", rc}, append(args, "c")...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
		return string(out)
	}
	// -Dn prints the IMAP exchange: mbsync turns COMPRESS=DEFLATE on
	// when offered, and then flushes its commands with Z_PARTIAL_FLUSH,
	// which the server must read without waiting for more.
	if out := sync("-Dn"); !strings.Contains(out, "COMPRESS DEFLATE") || !strings.Contains(out, "OK DEFLATE active") {
		t.Fatalf("mbsync did not use COMPRESS=DEFLATE:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "mail", "INBOX", "new", "*"))
	if len(files) != 2 {
		t.Fatalf("mbsync fetched %d messages, want 2", len(files))
	}
	sort.Strings(files)
	// Local changes: read the first (Maildir flag S), trash the second (T).
	os.Rename(files[0], filepath.Join(dir, "mail", "INBOX", "cur", filepath.Base(files[0])+":2,S"))
	os.Rename(files[1], filepath.Join(dir, "mail", "INBOX", "cur", filepath.Base(files[1])+":2,T"))
	sync()
	list, err := r.Store.MessageList(context.Background(), r.Mailbox(acct, "INBOX").ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Flags&store.FlagSeen == 0 {
		t.Fatalf("after syncing local changes up: %+v", list)
	}
}

// mbsyncConfig writes an mbsyncrc in dir for user's mail, synced into
// dir/mail with channel "c": far store options (a Path line, say), near
// store options and what the channel may Create.
func mbsyncConfig(t *testing.T, r *rig, dir, user, far, near, create string) string {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, "mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(r.Addr("imaps"))
	rc := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rc, []byte("IMAPAccount a\nHost "+host+"\nPort "+port+"\nUser "+user+"\nPass \""+password+"\"\n"+
		"SSLType IMAPS\nCertificateFile "+r.CertFile("imaps")+"\n\n"+
		"IMAPStore remote\nAccount a\n"+far+"\nMaildirStore local\nPath "+dir+"/mail/\n"+near+"SubFolders Verbatim\n\n"+
		"Channel c\nFar :remote:\nNear :local:\nPatterns *\nCreate "+create+"\nExpunge Both\nSyncState *\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestOfflineimap: offlineimap (offlineimap3), unmodified, syncs every
// folder down to a Maildir and a local flag change back up.
func TestOfflineimap(t *testing.T) {
	offlineimap, err := exec.LookPath("offlineimap")
	if err != nil {
		t.Fatal("offlineimap is needed (scripts/install-test-deps.sh installs offlineimap3)")
	}
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, "Subject: one\r\nMessage-ID: <one@x>\r\n\r\nfirst\r\n")
	r.Deliver(acct, "Subject: two\r\nMessage-ID: <two@x>\r\n\r\nsecond\r\n")
	dir := t.TempDir()
	_, port := splitAddr(r.Addr("imaps")) // connect as localhost: the name in the certificate
	rc := filepath.Join(dir, "offlineimaprc")
	os.WriteFile(rc, []byte("[general]\naccounts = a\nmetadata = "+dir+"/meta\n\n[Account a]\nlocalrepository = local\nremoterepository = remote\n\n"+
		"[Repository local]\ntype = Maildir\nlocalfolders = "+dir+"/mail\n\n"+
		"[Repository remote]\ntype = IMAP\nremotehost = localhost\nremoteport = "+port+"\nremoteuser = ann@example.test\nremotepass = "+password+"\n"+
		"ssl = yes\nsslcacertfile = "+r.CertFile("imaps")+"\ncert_fingerprint = \n"), 0o600)
	run := func() {
		t.Helper()
		out, err := exec.Command(offlineimap, "-c", rc, "-o", "-u", "basic").CombinedOutput()
		if err != nil || strings.Contains(string(out), "ERROR") {
			t.Fatalf("offlineimap: %v\n%s", err, out)
		}
	}
	run()
	files, _ := filepath.Glob(filepath.Join(dir, "mail", "INBOX", "new", "*"))
	if len(files) != 2 {
		all, _ := filepath.Glob(filepath.Join(dir, "mail", "*", "*", "*"))
		t.Fatalf("offlineimap fetched %d messages into INBOX/new; files: %v", len(files), all)
	}
	sort.Strings(files)
	os.Rename(files[0], filepath.Join(dir, "mail", "INBOX", "cur", filepath.Base(files[0])+"F"))
	run()
	list, _ := r.Store.MessageList(context.Background(), r.Mailbox(acct, "INBOX").ID)
	flagged := 0
	for _, m := range list {
		if m.Flags&store.FlagFlagged != 0 {
			flagged++
		}
	}
	if len(list) != 2 || flagged != 1 {
		t.Fatalf("after syncing a local flag up: %+v", list)
	}
}
