package upgradetest

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/pop3"
	"mailroom/internal/smtp"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/store/storeopen"
	"mailroom/internal/testrig"
)

func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }

var fixtureName = regexp.MustCompile(`^(sqlite|postgres)-v(\d+)$`)

// TestUpgradeFromEveryRelease starts today's server on the data each
// released schema version made (testdata, by scripts/make-schema-fixtures.sh
// with the binaries of those versions), so that the store migrates it in
// place, and checks that what the old version's IMAP server showed is all
// still there: the accounts log in, every message has its UID, flags,
// internal date, size, bytes and modseq, the queue still holds its
// message, and new mail is delivered after the old.
func TestUpgradeFromEveryRelease(t *testing.T) {
	backend := testrig.Backend()
	latest := sqlitestore.LatestSchemaVersion()
	if backend == config.BackendPostgres {
		latest = pgstore.LatestSchemaVersion()
	}
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]bool{}
	for _, e := range ents {
		m := fixtureName.FindStringSubmatch(e.Name())
		if m == nil || m[1] != backend {
			continue
		}
		v, _ := strconv.Atoi(m[2])
		if v > latest {
			t.Fatalf("fixture %s is newer than this code's schema version %d", e.Name(), latest)
		}
		have[v] = true
		t.Run(e.Name(), func(t *testing.T) { upgrade(t, filepath.Join("testdata", e.Name()), backend, latest) })
	}
	if len(have) == 0 {
		t.Fatalf("no %s fixtures in testdata", backend)
	}
	var missing []string
	for v := 1; v <= latest; v++ {
		if !have[v] {
			missing = append(missing, strconv.Itoa(v))
		}
	}
	if len(missing) > 0 {
		// Some versions never reached main on their own (two migrations
		// merged at once), and scripts/make-schema-fixtures.sh may not
		// have made the others yet.
		t.Logf("%s schema versions without a fixture: %s", backend, strings.Join(missing, ", "))
	}
}

func upgrade(t *testing.T, fixture, backend string, latest int) {
	ctx := context.Background()
	dataDir := t.TempDir()
	untar(t, filepath.Join(fixture, "data.tar.gz"), dataDir)
	if backend == config.BackendPostgres {
		// The rig uses the database that belongs to its data directory.
		loadDump(t, pgtest.Database(t, dataDir), filepath.Join(fixture, "dump.sql.gz"))
	}
	man := readManifest(t, filepath.Join(fixture, "manifest.txt"))

	// Today's store opens the old data, migrating it in place.
	cfg := config.Default()
	cfg.DataDir = dataDir
	if backend == config.BackendPostgres {
		cfg.Store = config.Store{Backend: config.BackendPostgres, DSN: pgtest.Database(t, dataDir)}
	}
	st, err := storeopen.Open(ctx, cfg, storeopen.Options{})
	if err != nil {
		t.Fatalf("opening the %s store of %s: %v", backend, fixture, err)
	}
	if got := schemaVersion(t, st, dataDir); got != latest {
		t.Fatalf("schema version %d after the upgrade, want %d", got, latest)
	}
	if man.queued != "" {
		qs, err := st.QueuedMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, q := range qs {
			for _, r := range q.Recipients {
				found = found || strings.EqualFold(r.Address, man.queued)
			}
		}
		if !found {
			t.Errorf("the queued message to %s is gone (queue: %+v)", man.queued, qs)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The server on it, with a DNS server that is not there: the queued
	// message stays queued (a temporary failure) rather than bouncing
	// into alice's INBOX. The fixture's queued message is as old as the
	// fixture: no delay warning and no expiry, or the test would change
	// its answer 4 hours (the default delay_warning) and 5 days (max_age)
	// after the fixtures were made.
	rig := testrig.Start(t, testrig.Factories{"smtp": smtp.Factory(smtp.Inbound), "imap": imap.Factory(), "pop3": pop3.Factory()},
		testrig.DataDir(dataDir), testrig.Listen("smtp", "imap", "pop3"),
		testrig.Config(func(c *config.Config) {
			c.Auth.AllowInsecure = true
			c.DNS.Servers = []string{deadDNS(t)}
			c.Queue.DelayWarning = 0
			c.Queue.MaxAge = config.Duration(100 * 365 * 24 * time.Hour)
		}))
	for _, acct := range man.accounts {
		c := imapLogin(t, rig.Addr("imap"), acct.email, acct.password)
		for _, mb := range man.mailboxes[acct.email] {
			checkMailbox(t, c, mb, man.messages[acct.email+"\x00"+mb.name])
		}
		c.Logout().Wait()
	}
	checkPOP3(t, rig.Addr("pop3"), man)
	checkSearch(t, rig.Addr("imap"), man)

	// New mail goes after the old: the next UID the old server announced.
	// (The versions before IMAP show no INBOX: then it only has to come.)
	inbox := man.mailbox("alice@example.org", "INBOX")
	raw := "From: new@example.com\r\nTo: alice@example.org\r\nSubject: after the upgrade\r\nMessage-ID: <after-upgrade@example.com>\r\n\r\nNew mail.\r\n"
	sendSMTP(t, rig.Addr("smtp"), "new@example.com", "info@example.org", raw)
	c := imapLogin(t, rig.Addr("imap"), "alice@example.org", man.password("alice@example.org"))
	defer c.Logout()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	next := goimap.UIDSet{{Start: 1, Stop: 0}}
	if inbox != nil {
		next = goimap.UIDSetNum(goimap.UID(inbox.uidnext))
	}
	msgs, err := c.Fetch(next, &goimap.FetchOptions{UID: true,
		BodySection: []*goimap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 || !strings.Contains(string(msgs[len(msgs)-1].BodySection[0].Bytes), "after-upgrade@example.com") {
		t.Fatalf("the message delivered (through the alias) after the upgrade is not the next UID (%v; UIDNEXT now %d): %d messages", next, sel.UIDNext, len(msgs))
	}
}

// checkMailbox compares a mailbox with what the old version showed.
func checkMailbox(t *testing.T, c *imapclient.Client, mb mailboxLine, want []messageLine) {
	t.Helper()
	sel, err := c.Select(mb.name, &goimap.SelectOptions{CondStore: mb.highestModSeq != 0}).Wait()
	if err != nil {
		t.Errorf("%s: SELECT: %v", mb.name, err)
		return
	}
	if sel.UIDValidity != mb.uidvalidity || uint32(sel.UIDNext) != mb.uidnext {
		t.Errorf("%s: UIDVALIDITY %d UIDNEXT %d, want %d %d", mb.name, sel.UIDValidity, sel.UIDNext, mb.uidvalidity, mb.uidnext)
	}
	if mb.highestModSeq != 0 && sel.HighestModSeq != mb.highestModSeq {
		t.Errorf("%s: HIGHESTMODSEQ %d, want %d", mb.name, sel.HighestModSeq, mb.highestModSeq)
	}
	if int(sel.NumMessages) != len(want) {
		t.Errorf("%s: %d messages, want %d", mb.name, sel.NumMessages, len(want))
	}
	if len(want) == 0 {
		return
	}
	all := goimap.SeqSet{{Start: 1, Stop: 0}} // 1:*
	msgs, err := c.Fetch(all, &goimap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		ModSeq: mb.highestModSeq != 0, BodySection: []*goimap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Errorf("%s: FETCH: %v", mb.name, err)
		return
	}
	byUID := map[uint32]*imapclient.FetchMessageBuffer{}
	for _, m := range msgs {
		byUID[uint32(m.UID)] = m
	}
	for _, w := range want {
		m := byUID[w.uid]
		if m == nil {
			t.Errorf("%s: UID %d is gone", mb.name, w.uid)
			continue
		}
		body := m.BodySection[0].Bytes
		sum := sha256.Sum256(body)
		var flags []string
		for _, f := range m.Flags {
			if f != "\\Recent" {
				flags = append(flags, string(f))
			}
		}
		sort.Strings(flags)
		switch {
		case m.RFC822Size != w.size || int64(len(body)) != w.size:
			t.Errorf("%s UID %d: %d octets (RFC822.SIZE %d), want %d", mb.name, w.uid, len(body), m.RFC822Size, w.size)
		case hex.EncodeToString(sum[:]) != w.sha256:
			t.Errorf("%s UID %d: the bytes changed", mb.name, w.uid)
		case !m.InternalDate.Equal(w.internalDate):
			t.Errorf("%s UID %d: INTERNALDATE %v, want %v", mb.name, w.uid, m.InternalDate, w.internalDate)
		case strings.Join(flags, ",") != strings.Join(w.flags, ","):
			t.Errorf("%s UID %d: flags %v, want %v", mb.name, w.uid, flags, w.flags)
		case w.modseq != 0 && m.ModSeq != w.modseq:
			t.Errorf("%s UID %d: MODSEQ %d, want %d", mb.name, w.uid, m.ModSeq, w.modseq)
		}
	}
}

// checkSearch: the header fields and text of the old mail are searchable
// (whether the old version had indexed them or not).
func checkSearch(t *testing.T, addr string, man *manifest) {
	t.Helper()
	n := len(man.messages["alice@example.org\x00INBOX"]) + len(man.pop3["alice@example.org"])
	if n == 0 {
		return // a version without mail (1)
	}
	c := imapLogin(t, addr, "alice@example.org", man.password("alice@example.org"))
	defer c.Logout()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// The fixture's messages: n is in the sender, the subject and the text.
	for _, tc := range []struct {
		key   goimap.SearchCriteria
		count int
	}{
		{goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "From", Value: "sender2@example.com"}}}, 1},
		{goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "Zweite Nachricht"}}}, 1},
		{goimap.SearchCriteria{Body: []string{"Body of message 3."}}, 1},
		{goimap.SearchCriteria{Text: []string{"filler line"}}, n},
	} {
		data, err := c.UIDSearch(&tc.key, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(data.AllUIDs()); got != tc.count {
			t.Errorf("SEARCH %+v: %d messages, want %d", tc.key, got, tc.count)
		}
	}
}

func imapLogin(t *testing.T, addr, email, password string) *imapclient.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	c := imapclient.New(conn, nil)
	t.Cleanup(func() { c.Close() })
	if err := c.Login(email, password).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN %s after the upgrade: %v", email, err)
	}
	return c
}

// checkPOP3 compares each maildrop the versions before IMAP showed over
// POP3 (UIDLs, sizes, bytes) with what POP3 shows now; for the others it
// counts bob's messages.
func checkPOP3(t *testing.T, addr string, man *manifest) {
	t.Helper()
	for _, a := range man.accounts {
		want := man.pop3[a.email]
		if len(man.pop3) == 0 && a.email == "bob@example.org" {
			for _, m := range man.messages["bob@example.org\x00INBOX"] {
				want = append(want, pop3Line{size: m.size, sha256: m.sha256})
			}
		} else if len(man.pop3) == 0 {
			continue
		}
		got := pop3Maildrop(t, addr, a.email, a.password)
		if len(got) != len(want) {
			t.Errorf("POP3 %s: %d messages, want %d", a.email, len(got), len(want))
			continue
		}
		for i, w := range want {
			g := got[i]
			if w.uidl != "" && g.uidl != w.uidl || g.size != w.size || g.sha256 != w.sha256 {
				t.Errorf("POP3 %s message %d: %+v, want %+v", a.email, i+1, g, w)
			}
		}
	}
}

// pop3Maildrop lists a maildrop: UIDL, size and hash of each message.
func pop3Maildrop(t *testing.T, addr, user, password string) []pop3Line {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	cmd := func(line string, multi bool) []string {
		if line != "" {
			fmt.Fprintf(conn, "%s\r\n", line)
		}
		first, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(first, "+OK") {
			t.Fatalf("POP3 %q: %q %v", line, first, err)
		}
		var lines []string
		for multi {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("POP3 %q: %v", line, err)
			}
			l = strings.TrimSuffix(l, "\r\n")
			if l == "." {
				break
			}
			lines = append(lines, strings.TrimPrefix(l, ".")) // dot-unstuffing
		}
		return lines
	}
	cmd("", false)
	cmd("USER "+user, false)
	cmd("PASS "+password, false)
	var out []pop3Line
	for _, l := range cmd("UIDL", true) {
		f := strings.Fields(l)
		var raw strings.Builder
		for _, bl := range cmd("RETR "+f[0], true) {
			raw.WriteString(bl + "\r\n")
		}
		sum := sha256.Sum256([]byte(raw.String()))
		out = append(out, pop3Line{uidl: f[1], size: int64(raw.Len()), sha256: hex.EncodeToString(sum[:])})
	}
	cmd("QUIT", false)
	return out
}

func sendSMTP(t *testing.T, addr, from, to, raw string) {
	t.Helper()
	c, err := gosmtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, strings.NewReader(raw)); err != nil {
		t.Fatalf("SMTP to %s after the upgrade: %v", to, err)
	}
}

// schemaVersion reads the version the store is at now.
func schemaVersion(t *testing.T, st store.Store, dataDir string) int {
	t.Helper()
	if pg, ok := st.(*pgstore.Store); ok {
		v, err := pg.SchemaVersion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if _, ok := st.(*sqlitestore.Store); !ok {
		t.Fatalf("a store of type %T", st)
	}
	conn, err := sqlite.OpenConn(filepath.Join(dataDir, "mail.db"), sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v := -1
	err = sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { v = stmt.ColumnInt(0); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// untar unpacks a fixture's data directory.
func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(name, 0o700)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(io.LimitReader(tr, 64<<20)); err == nil {
				err = os.WriteFile(name, data, 0o600)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// loadDump runs a pg_dump plain-SQL dump: statements as they are, COPY
// blocks through the COPY protocol, psql's \restrict lines skipped.
func loadDump(t *testing.T, dsn, file string) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	br := bufio.NewReader(zr)
	var sql strings.Builder
	flush := func() {
		if strings.TrimSpace(sql.String()) == "" {
			return
		}
		if _, err := conn.PgConn().Exec(ctx, sql.String()).ReadAll(); err != nil {
			t.Fatalf("loading %s: %v", file, err)
		}
		sql.Reset()
	}
	for {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		switch {
		case strings.HasPrefix(line, `\restrict `), strings.HasPrefix(line, `\unrestrict `):
		case strings.HasPrefix(line, "COPY ") && strings.HasSuffix(strings.TrimSpace(line), "FROM stdin;"):
			flush()
			var data strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("loading %s: COPY without its end", file)
				}
				if l == "\\.\n" {
					break
				}
				data.WriteString(l)
			}
			stmt := strings.TrimSuffix(strings.TrimSpace(line), ";")
			if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(data.String()), stmt); err != nil {
				t.Fatalf("loading %s: %s: %v", file, stmt, err)
			}
		default:
			sql.WriteString(line)
		}
	}
	flush()
}

// deadDNS is a loopback UDP address nothing answers on: every lookup fails
// at once, temporarily.
func deadDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}
