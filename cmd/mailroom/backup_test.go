package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/backup"
	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/testrig"
)

// commandConfig writes a configuration for admin commands on the store
// and data directory of cfg, with no listener.
func commandConfig(t *testing.T, cfg config.Config) string {
	t.Helper()
	text := fmt.Sprintf("hostname = %q\ndata_dir = %q\n[listen]\nsmtp = \"\"\nsubmission = \"\"\nsubmissions = \"\"\nimap = \"\"\nimaps = \"\"\n"+
		"pop3 = \"\"\npop3s = \"\"\nmanagesieve = \"\"\nhttp = \"\"\nhttps = \"\"\n", cfg.Hostname, cfg.DataDir)
	if cfg.Store.Backend == config.BackendPostgres {
		text += fmt.Sprintf("[store]\nbackend = \"postgres\"\ndsn = %q\n", cfg.Store.DSN)
	}
	path := filepath.Join(t.TempDir(), "mailroom.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCmd runs a mailroom command in-process.
func runBackupCmd(t *testing.T, cfgPath string, args ...string) (int, string, string) {
	t.Helper()
	e := &env{t: t, config: cfgPath}
	return e.run("", args...)
}

// loadMessage is a message of the load, recognisable by its Message-ID;
// every seventh is large (a body file on SQLite, chunks on PostgreSQL).
func loadMessage(worker, i int) (id string, raw []byte) {
	id = fmt.Sprintf("<load-%d-%d@sender.example>", worker, i)
	body := fmt.Sprintf("message %d of worker %d\r\n", i, worker)
	if i%7 == 3 {
		body += strings.Repeat(fmt.Sprintf("line of a large message %d/%d, to be kept apart from the row\r\n", worker, i), 1500)
	}
	raw = []byte("From: Sender <s@sender.example>\r\nTo: ann@example.test\r\nSubject: load " + id +
		"\r\nDate: Mon, 07 Dec 2026 14:00:00 +0000\r\nMessage-ID: " + id + "\r\n\r\n" + body)
	return id, raw
}

type acked struct {
	at time.Time
}

// TestBackupUnderLoad is the acceptance test: a backup taken
// during an SMTP load (and while another account's mail is expunged, so
// that bodies are removed under the backup) restores to a server where
// `mailroom verify` passes and every message acknowledged before the
// backup started is there, whole. A second backup --since the first
// links the bodies it shares with it.
func TestBackupUnderLoad(t *testing.T) {
	r := testrig.Start(t, testrig.Factories{"smtp": smtp.Factory(smtp.Inbound), "imap": imap.Factory()}, testrig.Listen("smtp", "imap"))
	r.Account("ann@example.test")
	bob := r.Account("bob@example.test")
	cfgPath := commandConfig(t, r.Config)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	got := map[string]acked{}
	sent := map[string][]byte{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := gosmtp.Dial(r.Addr("smtp"))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Hello("sender.example"); err != nil {
				t.Error(err)
				return
			}
			for i := 0; ctx.Err() == nil; i++ {
				id, raw := loadMessage(w, i)
				mu.Lock()
				sent[id] = raw
				mu.Unlock()
				if err := c.SendMail("s@sender.example", []string{"ann@example.test"}, strings.NewReader(string(raw))); err != nil {
					t.Errorf("send %s: %v", id, err)
					return
				}
				mu.Lock()
				got[id] = acked{at: time.Now()}
				mu.Unlock()
			}
		}()
	}
	// Bob's large mail comes and goes meanwhile: its bodies are removed
	// while the backup copies.
	wg.Add(1)
	go func() {
		defer wg.Done()
		inbox := r.Mailbox(bob, "INBOX")
		for i := 0; ctx.Err() == nil; i++ {
			_, raw := loadMessage(9, 7*i+3)
			d := r.DeliverInto(store.Target{MailboxID: inbox.ID}, string(raw))
			if _, err := r.Store.Expunge(ctx, inbox.ID, []uint32{d.UID}); err != nil && ctx.Err() == nil {
				t.Errorf("expunge: %v", err)
				return
			}
		}
	}()
	waitAcked := func(n int) {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			k := len(got)
			mu.Unlock()
			if k >= n {
				return
			}
			if time.Now().After(deadline) || t.Failed() {
				t.Fatalf("only %d messages acknowledged", k)
			}
		}
	}
	waitAcked(60)

	dest := filepath.Join(t.TempDir(), "backup-1")
	started := time.Now()
	code, out, errs := runBackupCmd(t, cfgPath, "backup", dest)
	if code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	t.Logf("backup: %s", strings.TrimSpace(out))
	// The load goes on after the backup, then stops.
	mu.Lock()
	n := len(got)
	mu.Unlock()
	waitAcked(n + 20)
	incr := filepath.Join(t.TempDir(), "backup-2")
	if testrig.Backend() == config.BackendSQLite {
		code, out, errs := runBackupCmd(t, cfgPath, "backup", "--since", dest, incr)
		if code != 0 {
			t.Fatalf("incremental backup: %d %s %s", code, out, errs)
		}
		m2, err := readManifestT(incr)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Counts.Linked == 0 || m2.Counts.Linked >= m2.Counts.Bodies+1 {
			t.Errorf("incremental backup linked %d of %d bodies", m2.Counts.Linked, m2.Counts.Bodies)
		}
	}
	cancel()
	wg.Wait()

	if code, out, errs := runBackupCmd(t, cfgPath, "verify", "--backup", dest); code != 0 {
		t.Fatalf("verify --backup: %d %s %s", code, out, errs)
	}
	if code, out, errs := runBackupCmd(t, cfgPath, "verify"); code != 0 {
		t.Fatalf("verify of the live store: %d %s %s", code, out, errs)
	}

	// Restore into a new data directory (and database), start there.
	cfg2 := r.Config
	cfg2.DataDir = t.TempDir()
	if cfg2.Store.Backend == config.BackendPostgres {
		cfg2.Store.DSN = pgtest.Database(t, cfg2.DataDir)
	}
	cfgPath2 := commandConfig(t, cfg2)
	code, out, errs = runBackupCmd(t, cfgPath2, "restore", dest)
	if code != 0 || !strings.Contains(out, ": ok") {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	if code, out, errs := runBackupCmd(t, cfgPath2, "restore", dest); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("restore over the restored store: %d %s %s", code, out, errs)
	}
	if code, out, errs := runBackupCmd(t, cfgPath2, "verify"); code != 0 {
		t.Fatalf("verify of the restored store: %d %s %s", code, out, errs)
	}
	r2 := testrig.Start(t, testrig.Factories{"imap": imap.Factory()}, testrig.Listen("imaps"), testrig.DataDir(cfg2.DataDir))
	present := fetchAll(t, r2.Addr("imaps"))
	before := 0
	for id, a := range got {
		sum, ok := present[id]
		if a.at.Before(started) {
			before++
			if !ok {
				t.Errorf("%s was acknowledged before the backup started and is not in the restored store", id)
				continue
			}
		}
		if ok && !strings.HasSuffix(sum, string(sent[id])) {
			t.Errorf("%s is in the restored store but not whole", id)
		}
	}
	for id := range present {
		if _, ok := sent[id]; !ok {
			t.Errorf("the restored store has %s, which was never sent", id)
		}
	}
	t.Logf("%d messages acknowledged before the backup, %d in all; %d restored", before, len(got), len(present))
	if before < 60 {
		t.Errorf("only %d messages before the backup", before)
	}
}

// fetchAll logs ann in over IMAP and returns her INBOX's messages by
// Message-ID, each as fetched.
func fetchAll(t *testing.T, addr string) map[string]string {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: testrig.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("ann@example.test", testrig.Password).Wait(); err != nil {
		t.Fatalf("IMAP login: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	out := map[string]string{}
	if sel.NumMessages == 0 {
		return out
	}
	section := &goimap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{Envelope: true, BodySection: []*goimap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	for _, m := range msgs {
		out["<"+m.Envelope.MessageID+">"] = string(m.FindBodySection(section))
	}
	return out
}

func readManifestT(dir string) (*backup.Manifest, error) { return backup.ReadManifest(dir) }

// TestVerifyCommandReportsDamage: `mailroom verify` passes on a clean
// store and, once a body file is gone, prints the problem and exits 1;
// `verify --backup` does the same for a backup whose body changed.
func TestVerifyCommandReportsDamage(t *testing.T) {
	e := newEnv(t)
	e.ok("", "domain", "add", "example.test")
	e.ok("pw-123456\n", "user", "add", "ann@example.test", "--password-stdin")
	mbox := filepath.Join(t.TempDir(), "in.mbox")
	text := "From a@example.org Mon Jan  3 20:05:38 2022\nSubject: large\n\n" + strings.Repeat("a long line of a large message\n", 4000) +
		"\nFrom b@example.org Mon Jan  3 20:06:38 2022\nSubject: small\n\nsmall\n\n"
	if err := os.WriteFile(mbox, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("", "import", "ann@example.test", mbox)
	if out := e.ok("", "verify"); !strings.Contains(out, "2 messages") || !strings.Contains(out, "1 body files") || !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
		t.Fatalf("verify of a clean store: %q", out)
	}
	dest := filepath.Join(t.TempDir(), "b")
	e.ok("", "backup", dest)
	bodies, _ := filepath.Glob(filepath.Join(dest, "blobs", "objects", "*", "*"))
	if len(bodies) != 1 {
		t.Fatalf("backup bodies %v", bodies)
	}
	if err := os.WriteFile(bodies[0], []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := e.run("", "verify", "--backup", dest)
	if code != 1 || !strings.Contains(out, "PROBLEM backup: blobs/objects/") || !strings.Contains(out, "PROBLEM body:") {
		t.Errorf("verify --backup of a changed body: %d %q", code, out)
	}
	live, _ := filepath.Glob(filepath.Join(e.dir, "data", "blobs", "objects", "*", "*"))
	if len(live) != 1 {
		t.Fatalf("live bodies %v", live)
	}
	if err := os.Remove(live[0]); err != nil {
		t.Fatal(err)
	}
	code, out, _ = e.run("", "verify")
	if code != 1 || !strings.Contains(out, "PROBLEM body: content") || !strings.Contains(out, "is missing") || !strings.Contains(out, ": 1 problems") {
		t.Errorf("verify with a body file gone: %d %q", code, out)
	}
}
