package imap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestNeomutt: NeoMutt, unmodified, drives the INBOX over IMAPS the way a
// person would at the keyboard: it reads one message, flags another,
// deletes a third and saves a fourth to =Archive, then syncs and quits.
// The effects are checked in the store. NeoMutt is a curses program that
// wants a terminal, so it runs under script(1) with its keys pushed from
// the command line; its IMAP conversation goes to a debug log that is
// shown if the test fails.
func TestNeomutt(t *testing.T) {
	neomutt, err := exec.LookPath("neomutt")
	if err != nil {
		t.Skip("neomutt is not installed (scripts/install-test-deps.sh installs it)")
	}
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) from util-linux is needed to give neomutt a terminal")
	}
	r := newRig(t)
	acct := r.Account("ann@example.test")
	for _, s := range []string{"one", "two", "three", "four"} {
		r.Deliver(acct, "From: bob@example.test\r\nTo: ann@example.test\r\nSubject: "+s+"\r\n"+
			"Message-ID: <"+s+"@example.test>\r\n\r\nbody "+s+"\r\n")
	}
	dir := t.TempDir()
	host, port := splitAddr(r.Addr("imaps"))
	// The rig's certificate is self-signed and names localhost: trusting
	// exactly that certificate (certificate_file) and not checking the host
	// name lets NeoMutt connect without asking.
	cert := r.CertFile("imaps")
	rc := filepath.Join(dir, "muttrc")
	debug := filepath.Join(dir, "neomutt.log")
	os.WriteFile(rc, []byte(strings.Join([]string{
		`set folder="imaps://` + host + `:` + port + `/"`,
		`set spoolfile="+INBOX"`,
		`set imap_user="ann@example.test"`,
		`set imap_pass="` + password + `"`,
		`set certificate_file="` + cert + `"`,
		`set ssl_verify_host=no`,
		`set ssl_force_tls=yes`,
		`set sort=mailbox-order`,
		`set resolve=no`, // the keys below move the cursor themselves
		`set record=""`,
		`set header_cache=""`,
		`set message_cachedir=""`,
		`set mailcap_path=""`,
		`set confirmappend=no`,
		`set confirmcreate=no`,
		`set delete=yes`,
		`set move=no`,
		`set mark_old=no`,
		`set wait_key=no`,
		`set quit=yes`,
		`set imap_idle=no`,
		`set imap_check_subscribed=no`,
		`set help=no`,
		`set sleep_time=0`,
		`set mail_check_stats=no`,
		`set tmpdir="` + dir + `"`,
	}, "\n")+"\n"), 0o600)
	// Message 1: read (display, back to the index); 2: flag; 3: delete;
	// 4: save to =Archive (which marks it deleted); then sync and quit.
	keys := `push "<first-entry><display-message><exit>` +
		`<next-entry><flag-message>` +
		`<next-entry><delete-message>` +
		`<next-entry><save-message>=Archive<enter>` +
		`<sync-mailbox><quit>"`
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmdline := shellQuote(neomutt) + " -n -F " + shellQuote(rc) + " -d 5 -l " + shellQuote(debug) + " -e " + shellQuote(keys)
	cmd := exec.CommandContext(ctx, scriptBin, "-qec", cmdline, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=xterm", "HOME="+dir, "COLUMNS=120", "LINES=40")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	logs := func() string {
		b, _ := os.ReadFile(debug + "0")
		if len(b) == 0 {
			b, _ = os.ReadFile(debug)
		}
		return string(b)
	}
	if err != nil || ctx.Err() != nil {
		t.Fatalf("neomutt: %v (%v)\nscreen: %q\ndebug log:\n%s", err, ctx.Err(), tail(out, 2000), logs())
	}

	bg := context.Background()
	inbox, err := r.Store.MessageList(bg, r.Mailbox(acct, "INBOX").ID)
	if err != nil {
		t.Fatal(err)
	}
	byUID := map[uint32]store.MessageMeta{}
	for _, m := range inbox {
		byUID[m.UID] = m
	}
	if len(inbox) != 2 || byUID[1].Flags&store.FlagSeen == 0 || byUID[2].Flags&store.FlagFlagged == 0 {
		t.Fatalf("INBOX after neomutt: %+v\ndebug log:\n%s", inbox, logs())
	}
	archive, _ := r.Store.MessageList(bg, r.Mailbox(acct, "Archive").ID)
	if len(archive) != 1 {
		t.Fatalf("Archive after neomutt: %+v\ndebug log:\n%s", archive, logs())
	}
	st, err := r.Store.Structure(bg, r.Mailbox(acct, "Archive").ID, archive[0].UID)
	if err != nil || st.Root.Envelope.Subject != "four" {
		t.Fatalf("archived message: %v %+v", err, st)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
