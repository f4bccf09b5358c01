package sqlitestore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

func openTest(t testing.TB, dir string) *Store {
	return openWith(t, Options{Dir: dir})
}

func openWith(t testing.TB, opts Options) *Store {
	t.Helper()
	opts.Maintenance = true
	opts.PollInterval = 20 * time.Millisecond
	st, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fileOnly stores every body as a file, to test that path with small messages.
const fileOnly = -1

func TestConformance(t *testing.T) {
	t.Run("InlineBodies", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, t.TempDir()) })
	})
	t.Run("FileBodies", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openWith(t, Options{Dir: t.TempDir(), InlineMax: fileOnly}) })
	})
}

// TestLargeBodyIsAFile: a body over InlineMax goes to a file and reads back
// whole; a small one stays inline.
func TestLargeBodyIsAFile(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	ctx := context.Background()
	big := storetest.Message("big", strings.Repeat("0123456789abcdef\r\n", DefaultInlineMax/18+10))
	for _, raw := range [][]byte{big, storetest.Message("small", "x")} {
		m, err := st.Stage(ctx, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if isFile := m.(*staged).ref != ""; isFile != (len(raw) > DefaultInlineMax) {
			t.Fatalf("%d-byte body stored as file=%v", len(raw), isFile)
		}
		d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.OpenBody(ctx, inbox.ID, d[0].UID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		if !bytes.Equal(got, raw) {
			t.Fatalf("%d-byte body read back as %d bytes", len(raw), len(got))
		}
	}
}

var cheapCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

// setupInbox creates demo@example.test and returns its INBOX.
func setupInbox(t testing.TB, st store.Store) store.Mailbox {
	t.Helper()
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	acct, err := st.Account(ctx, "demo@example.test")
	if errors.Is(err, store.ErrNotFound) {
		acct, err = st.CreateAccount(ctx, "demo@example.test", cheapCred)
	}
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	inbox := setupInbox(t, st)
	ctx := context.Background()
	m, err := st.Stage(ctx, strings.NewReader(string(storetest.Message("persist", "still here"))))
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MessageList(ctx, inbox.ID); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("read after Close: %v, want ErrClosed", err)
	}
	st = openTest(t, dir)
	defer st.Close()
	b, err := st.OpenBody(ctx, inbox.ID, d[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if !bytes.Equal(got, storetest.Message("persist", "still here")) {
		t.Fatalf("after reopen: %q", got)
	}
}

// TestDurabilityUnderSIGKILL kills a child process that appends in a loop
// and checks that every append it reported as done survived, whole.
func TestDurabilityUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for _, mode := range []string{"inline", "file"} {
		t.Run(mode, func(t *testing.T) { testDurability(t, mode) })
	}
}

func testDurability(t *testing.T, mode string) {
	dir := t.TempDir()
	st := openTest(t, dir)
	inbox := setupInbox(t, st)
	st.Close()

	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
		cmd.Env = append(os.Environ(), "MAILROOM_APPENDER_DIR="+dir, "MAILROOM_APPENDER_MODE="+mode)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Read acknowledged UIDs until enough went by, then kill mid-flight.
		acked := map[uint32]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && len(acked) < 150+round*37 {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			uid, _ := strconv.Atoi(f[0])
			acked[uint32(uid)] = f[1]
		}
		cmd.Process.Kill()
		cmd.Wait()
		if len(acked) == 0 {
			t.Fatal("appender acknowledged nothing")
		}

		st := openTest(t, dir)
		ctx := context.Background()
		list, err := st.MessageList(ctx, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		present := map[uint32]bool{}
		for _, m := range list {
			present[m.UID] = true
			// Every visible message is whole: its body matches its size
			// and ends with the marker line.
			b, err := st.OpenBody(ctx, inbox.ID, m.UID)
			if err != nil {
				t.Fatalf("round %d: visible message %d has no body: %v", round, m.UID, err)
			}
			data, _ := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
			b.Close()
			if int64(len(data)) != m.Size || !bytes.HasSuffix(data, []byte("END\r\n")) {
				t.Fatalf("round %d: message %d is torn (%d bytes, size %d)", round, m.UID, len(data), m.Size)
			}
		}
		for uid, subject := range acked {
			if !present[uid] {
				t.Fatalf("round %d: acknowledged message %d (%s) lost after SIGKILL", round, uid, subject)
			}
		}
		st.Close()
	}
}

// TestHelperAppender is the child process of TestDurabilityUnderSIGKILL.
func TestHelperAppender(t *testing.T) {
	dir := os.Getenv("MAILROOM_APPENDER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	opts := Options{Dir: dir}
	if os.Getenv("MAILROOM_APPENDER_MODE") == "file" {
		opts.InlineMax = fileOnly
	}
	st, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	inbox := setupInbox(t, st)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				subject := fmt.Sprintf("w%d-%d", w, i)
				body := strings.Repeat("line of text\r\n", 200) + "END"
				m, err := st.Stage(context.Background(), bytes.NewReader(storetest.Message(subject, body)))
				if err != nil {
					t.Error(err)
					return
				}
				d, err := st.Deliver(context.Background(), m, []store.Target{{MailboxID: inbox.ID}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Printf("%d %s\n", d[0].UID, subject)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrossProcessFeed: a second store on the same data (as an admin
// command would be) changes things; the first store's subscribers hear of it.
func TestCrossProcessFeed(t *testing.T) {
	dir := t.TempDir()
	a := openTest(t, dir)
	defer a.Close()
	inbox := setupInbox(t, a)
	sub := a.Subscribe(inbox.AccountID)
	defer sub.Close()

	b, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := b.Stage(ctx, bytes.NewReader(storetest.Message("other", "process")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetSettings(ctx, inbox.AccountID, map[string]string{"pop3.enabled": "false"}); err != nil {
		t.Fatal(err)
	}
	b.Close()

	var sawMailbox, sawAccount bool
	deadline := time.After(5 * time.Second)
	for !sawMailbox || !sawAccount {
		select {
		case <-sub.Ready():
			evs, _, _ := sub.Next()
			for _, e := range evs {
				switch {
				case e.Kind == store.EventMailboxChanged && e.MailboxID == inbox.ID && e.ModSeq == d[0].ModSeq:
					sawMailbox = true
				case e.Kind == store.EventAccountChanged:
					sawAccount = true
				}
			}
		case <-deadline:
			t.Fatalf("events from the other process: mailbox=%v account=%v", sawMailbox, sawAccount)
		}
	}
	ch, err := a.ChangesSince(ctx, inbox.ID, inbox.HighestModSeq)
	if err != nil || len(ch.Changed) != 1 || ch.Changed[0].UID != d[0].UID {
		t.Fatalf("catching up after the event: %+v %v", ch, err)
	}
}

// TestConcurrentStoresNeverLocked: two store instances (two processes in
// production) writing at once never see "database is locked".
func TestConcurrentStoresNeverLocked(t *testing.T) {
	dir := t.TempDir()
	a := openTest(t, dir)
	defer a.Close()
	inbox := setupInbox(t, a)
	b, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, st := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < 25; i++ {
				m, err := st.Stage(ctx, bytes.NewReader(storetest.Message("x", "y")))
				if err == nil {
					_, err = st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
				}
				if err == nil {
					_, err = st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{1}, Op: store.FlagsReplace, Keywords: []string{fmt.Sprintf("k%d", i)}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if l, _ := a.MessageList(context.Background(), inbox.ID); len(l) != 100 {
		t.Fatalf("%d messages, want 100", len(l))
	}
}

func TestCrashLeftoversCleaned(t *testing.T) {
	dir := t.TempDir()
	st := openWith(t, Options{Dir: dir, InlineMax: fileOnly})
	inbox := setupInbox(t, st)
	ctx := context.Background()
	// A staged message never delivered (the process died before) ...
	m, err := st.Stage(ctx, bytes.NewReader(storetest.Message("orphan", "x")))
	if err != nil {
		t.Fatal(err)
	}
	orphan := m.(*staged).ref
	st.Close()
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(dir, "blobs", "objects", filepath.FromSlash(orphan)), old, old)
	// ... and an unfinished write in tmp/.
	tmp := filepath.Join(dir, "blobs", "tmp", "in-crashed")
	os.WriteFile(tmp, []byte("half a mess"), 0o600)
	os.Chtimes(tmp, old, old)

	st = openWith(t, Options{Dir: dir, InlineMax: fileOnly})
	defer st.Close()
	for _, p := range []string{filepath.Join(dir, "blobs", "objects", filepath.FromSlash(orphan)), tmp} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived recovery: %v", p, err)
		}
	}
	_ = inbox
}

func TestExpungeRemovesBodyFile(t *testing.T) {
	dir := t.TempDir()
	st := openWith(t, Options{Dir: dir, InlineMax: fileOnly})
	defer st.Close()
	inbox := setupInbox(t, st)
	ctx := context.Background()
	m, _ := st.Stage(ctx, bytes.NewReader(storetest.Message("gone", "x")))
	ref := m.(*staged).ref
	d, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{d[0].UID}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "objects", filepath.FromSlash(ref))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("body file of expunged message still there: %v", err)
	}
}

func TestMigrationRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	if err := st.write(context.Background(), func(tx *txn) error {
		return tx.exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(context.Background(), Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

// TestLoadMailboxInParts: a mailbox large enough to be read in UID ranges
// on several connections comes back whole, in order, equal to MessageList,
// also while messages are being added and flagged meanwhile.
func TestLoadMailboxInParts(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer st.Close()
	inbox := setupInbox(t, st)
	fillMailbox(t, st, inbox, parallelLoadMin+5000)
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for uid := uint32(1); ; uid++ {
			select {
			case <-stop:
				return
			default:
			}
			st.UpdateFlags(ctx, inbox.ID, store.FlagUpdate{UIDs: []uint32{uid}, Op: store.FlagsAdd, Flags: store.FlagFlagged})
		}
	}()
	for range 5 {
		mb, list, err := st.LoadMailbox(ctx, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != parallelLoadMin+5000 {
			t.Fatalf("%d messages", len(list))
		}
		var top uint64
		for i := range list {
			if i > 0 && list[i].UID <= list[i-1].UID {
				t.Fatalf("UIDs out of order at %d", i)
			}
			top = max(top, list[i].ModSeq)
		}
		if top > mb.HighestModSeq {
			t.Fatalf("a message's modseq %d is above the mailbox's %d: not one snapshot", top, mb.HighestModSeq)
		}
	}
	close(stop)
	<-done
	_, list, err := st.LoadMailbox(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := st.MessageList(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(list, want) {
		t.Fatal("LoadMailbox and MessageList differ")
	}
}

// TestMigrationFrom3: a database made by the release before app passwords
// (schema version 3) is upgraded in place, its accounts intact.
func TestMigrationFrom3(t *testing.T) {
	dir := t.TempDir()
	conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:3] {
		if err := sqlitex.ExecuteScript(conn, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := sqlitex.ExecuteScript(conn, `PRAGMA user_version = 3;
		INSERT INTO domains (id, name, created) VALUES (1, 'example.test', 0);
		INSERT INTO accounts (id, email, domain_id, argon2id, scram_sha256, next_uidvalidity, created)
			VALUES (1, 'ann@example.test', 1, 'main-hash', '', 1, 0);`, nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	st := openTest(t, dir)
	defer st.Close()
	ctx := context.Background()
	if _, err := st.CreateAppPassword(ctx, 1, "phone", auth.Credentials{Argon2id: "app-hash"}); err != nil {
		t.Fatal(err)
	}
	if _, hashes, err := st.LookupCredentials(ctx, "ann@example.test"); err != nil || !reflect.DeepEqual(hashes, []string{"main-hash", "app-hash"}) {
		t.Fatalf("LookupCredentials after the upgrade: %q %v", hashes, err)
	}
	if ok, err := st.ClaimVacationReply(ctx, 1, "bob@remote.example", time.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("ClaimVacationReply after the upgrade: %v %v", ok, err)
	}
}

// TestPruneVacationReplies: replies older than any interval are forgotten,
// recent ones kept.
func TestPruneVacationReplies(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	acct := setupInbox(t, st).AccountID
	now := time.Now()
	for sender, at := range map[string]time.Time{
		"old@remote.example":    now.Add(-store.MaxVacationInterval - time.Hour),
		"recent@remote.example": now.Add(-store.MaxVacationInterval + time.Hour),
	} {
		if ok, err := st.ClaimVacationReply(ctx, acct, sender, at, time.Hour); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", sender, ok, err)
		}
	}
	if err := st.pruneVacationReplies(ctx, now); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := st.query(ctx, "SELECT sender FROM vacation_replies ORDER BY sender", func(s *sqlite.Stmt) error {
		left = append(left, s.ColumnText(0))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(left, []string{"recent@remote.example"}) {
		t.Fatalf("after pruning: %q", left)
	}
}
