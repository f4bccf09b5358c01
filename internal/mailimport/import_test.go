package mailimport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/testrig/teststore"
)

func TestMain(m *testing.M) { os.Exit(teststore.Main(m)) }

var cheapCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

const ann = "ann@example.test"

// newStore is a real store with the account ann.
func newStore(t *testing.T) store.Store {
	t.Helper()
	st := teststore.Open(t)
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, ann, cheapCred); err != nil {
		t.Fatal(err)
	}
	return st
}

// stored is one message as the store has it.
type stored struct {
	meta store.MessageMeta
	body []byte
}

// mailboxMessages reads every message of one of ann's mailboxes.
func mailboxMessages(t *testing.T, st store.Store, name string) []stored {
	t.Helper()
	ctx := context.Background()
	acct, err := st.Account(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, acct.ID, name)
	if err != nil {
		t.Fatalf("mailbox %s: %v", name, err)
	}
	list, err := st.MessageList(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for _, m := range list {
		b, err := st.OpenBody(ctx, mb.ID, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stored{meta: m, body: data})
	}
	return out
}

// refMessage is a message of a Python-written (mboxo) mbox as the test
// reads it, independently of the reader under test.
type refMessage struct {
	body     []byte // CRLF, unescaped, without the status fields
	date     time.Time
	flags    store.Flags
	keywords []string
}

// referenceSplit splits an mbox written by Python's mailbox module: every
// line "From " is a separator (Python escapes the others), a blank line
// precedes each separator.
func referenceSplit(t *testing.T, data []byte) []refMessage {
	t.Helper()
	var out []refMessage
	lines := strings.SplitAfter(string(data), "\n")
	var cur *refMessage
	var body []string
	end := func() {
		if cur == nil {
			return
		}
		// Python writes a blank line after every message.
		if len(body) == 0 || body[len(body)-1] != "\n" {
			t.Fatalf("no blank line after a message")
		}
		body = body[:len(body)-1]
		var b strings.Builder
		inHeader := true
		for _, l := range body {
			if inHeader && l == "\n" {
				inHeader = false
			}
			if inHeader {
				switch {
				case strings.HasPrefix(l, "Status: "):
					if strings.Contains(l, "R") {
						cur.flags |= store.FlagSeen
					}
					continue
				case strings.HasPrefix(l, "X-Status: "):
					if strings.Contains(l, "A") {
						cur.flags |= store.FlagAnswered
					}
					if strings.Contains(l, "F") {
						cur.flags |= store.FlagFlagged
					}
					continue
				case strings.HasPrefix(l, "X-Keywords: "):
					cur.keywords = strings.Fields(strings.TrimPrefix(l, "X-Keywords: "))
					continue
				}
			}
			l = strings.TrimSuffix(l, "\n") + "\r\n"
			if strings.HasPrefix(l, ">From ") {
				l = l[1:]
			}
			b.WriteString(l)
		}
		cur.body = []byte(b.String())
		out = append(out, *cur)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "From ") {
			end()
			f := strings.Fields(l)
			d, err := time.Parse(time.ANSIC, strings.Join(f[2:], " "))
			if err != nil {
				t.Fatalf("separator %q: %v", l, err)
			}
			cur, body = &refMessage{date: d}, nil
			continue
		}
		if l != "" {
			body = append(body, l)
		}
	}
	end()
	return out
}

// makeMbox runs the shared generator, skipping the test without python3.
func makeMbox(t testing.TB, n int) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: no test mbox")
	}
	gen, err := filepath.Abs("../../../shared/peers/make-mbox.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gen); err != nil {
		t.Skipf("no generator: %v", err)
	}
	out := filepath.Join(t.TempDir(), "test.mbox")
	cmd := exec.Command(py, gen, "-n", fmt.Sprint(n), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-mbox: %v\n%s", err, b)
	}
	return out
}

// addStatus gives every 10th message of an mbox status fields, as mutt
// and Dovecot write them, right after the separator line.
func addStatus(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	i := 0
	for _, l := range strings.SplitAfter(string(data), "\n") {
		b.WriteString(l)
		if strings.HasPrefix(l, "From ") {
			if i%10 == 0 {
				b.WriteString("Status: RO\nX-Status: AF\nX-Keywords: $Label1 work\n")
			}
			i++
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportRealisticMbox(t *testing.T) {
	src := makeMbox(t, 400)
	addStatus(t, src)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceSplit(t, data)
	if len(want) != 400 {
		t.Fatalf("reference split: %d messages", len(want))
	}
	st := newStore(t)
	stateDir := t.TempDir()
	ctx := context.Background()
	opts := Options{Store: st, Account: ann, Source: src, StateDir: stateDir}
	var last Progress
	opts.Progress = func(p Progress) {
		if p.Bytes < last.Bytes || p.Messages < last.Messages {
			t.Errorf("progress went back: %+v after %+v", p, last)
		}
		last = p
	}
	start := time.Now()
	res, err := Import(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	n, size := res.Messages()
	t.Logf("imported %d messages, %d bytes in %s: %.0f messages/s", n, size, elapsed, float64(n)/elapsed.Seconds())
	if n != 400 || len(res.Skipped) != 0 || res.AlreadyDone || res.Resumed {
		t.Fatalf("result: %d messages, skipped %v, done %v resumed %v", n, res.Skipped, res.AlreadyDone, res.Resumed)
	}
	if last.Messages != 400 || last.Bytes != int64(len(data)) || last.TotalBytes != int64(len(data)) {
		t.Errorf("last progress %+v, source %d bytes", last, len(data))
	}
	opts.Progress = nil
	got := mailboxMessages(t, st, "INBOX")
	if len(got) != 400 {
		t.Fatalf("INBOX has %d messages", len(got))
	}
	var total int64
	for i, g := range got {
		w := want[i]
		total += g.meta.Size
		if !bytes.Equal(g.body, w.body) {
			t.Fatalf("message %d: stored %d bytes, want %d; first difference at %d", i, len(g.body), len(w.body), firstDiff(g.body, w.body))
		}
		if g.meta.Size != int64(len(w.body)) {
			t.Errorf("message %d: size %d, want %d", i, g.meta.Size, len(w.body))
		}
		if g.meta.InternalDate != w.date.Unix() {
			t.Errorf("message %d: internal date %d, want %d", i, g.meta.InternalDate, w.date.Unix())
		}
		// The generator wrote the From_ date from the Date field.
		hdr, err := mail.ReadMessage(bytes.NewReader(g.body))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := hdr.Header.Date(); err != nil || d.Unix() != g.meta.InternalDate {
			t.Errorf("message %d: Date %v (%v), internal date %d", i, d, err, g.meta.InternalDate)
		}
		if g.meta.Flags != w.flags || strings.Join(g.meta.Keywords, " ") != strings.Join(w.keywords, " ") {
			t.Errorf("message %d: flags %v %v, want %v %v", i, g.meta.Flags, g.meta.Keywords, w.flags, w.keywords)
		}
		if i%10 == 0 && g.meta.Flags != store.FlagSeen|store.FlagAnswered|store.FlagFlagged {
			t.Errorf("message %d: flags %v", i, g.meta.Flags)
		}
	}
	if total != size || res.Folders["INBOX"].Bytes != size {
		t.Errorf("sizes: stored %d, reported %d", total, size)
	}
	var sum bytes.Buffer
	res.PrintSummary(&sum, src)
	if !strings.Contains(sum.String(), "imported 400 messages") {
		t.Errorf("summary: %s", sum.String())
	}

	// A second run imports nothing and says so.
	res, err = Import(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Messages(); n != 0 || !res.AlreadyDone {
		t.Fatalf("second run: %d messages, done %v", n, res.AlreadyDone)
	}
	sum.Reset()
	res.PrintSummary(&sum, src)
	if !strings.Contains(sum.String(), "already imported, nothing to do") {
		t.Errorf("second summary: %s", sum.String())
	}
	if got := mailboxMessages(t, st, "INBOX"); len(got) != 400 {
		t.Fatalf("after the second run INBOX has %d messages", len(got))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// An import cancelled after its first batch is resumed by the next run,
// which imports the rest: every message once.
func TestImportInterruptedResumes(t *testing.T) {
	src := makeMbox(t, 120)
	st := newStore(t)
	stateDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{Store: st, Account: ann, Source: src, StateDir: stateDir, BatchMessages: 25}
	opts.afterBatch = cancel
	res, err := Import(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	if n, _ := res.Messages(); n != 25 {
		t.Fatalf("first run imported %d", n)
	}
	if got := mailboxMessages(t, st, "INBOX"); len(got) != 25 {
		t.Fatalf("after the interruption INBOX has %d", len(got))
	}
	opts.afterBatch = nil
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Messages(); n != 95 || !res.Resumed {
		t.Fatalf("resumed run imported %d (resumed %v)", n, res.Resumed)
	}
	got := mailboxMessages(t, st, "INBOX")
	seen := map[string]bool{}
	for _, g := range got {
		m, err := mail.ReadMessage(bytes.NewReader(g.body))
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get("Message-Id")
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
	if len(got) != 120 {
		t.Fatalf("INBOX has %d messages, want 120", len(got))
	}

	// The mbox grows: only what follows is imported.
	f, err := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "\nFrom zed@example.org Tue Feb  1 10:00:00 2022\nSubject: late\n\nlate one\n")
	f.Close()
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Messages(); n != 1 {
		t.Fatalf("after growing: imported %d", n)
	}
	got = mailboxMessages(t, st, "INBOX")
	if len(got) != 121 || string(got[120].body) != "Subject: late\r\n\r\nlate one\r\n" {
		t.Fatalf("after growing: %d messages, last %q", len(got), got[len(got)-1].body)
	}
}

// Garbage before the first separator and a truncated last message are
// skipped and reported; the rest is imported.
func TestImportMalformedMbox(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bad.mbox")
	text := "this is not mail\nnor this\n\n" +
		"From a@example.org Mon Jan  3 20:05:38 2022\nSubject: one\n\nbody one\n\n" +
		"From b@example.org Mon Jan  3 20:06:38 2022\nSubject: two\n\nbody two\n\n" +
		"From c@example.org Mon Jan  3 20:07:38 2022\nSubject: three\n\nbody thr"
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	res, err := Import(context.Background(), Options{Store: st, Account: ann, Source: src, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Messages(); n != 2 || len(res.Skipped) != 2 {
		t.Fatalf("imported %d, skipped %+v", n, res.Skipped)
	}
	if s := res.Skipped[0]; s.Offset != 0 || s.Bytes != int64(len("this is not mail\nnor this\n\n")) {
		t.Errorf("garbage skip %+v", s)
	}
	if s := res.Skipped[1]; s.Offset != int64(strings.Index(text, "From c@")) || s.Reason != ErrTruncated.Error() {
		t.Errorf("truncated skip %+v", s)
	}
	var sum bytes.Buffer
	res.PrintSummary(&sum, src)
	if !strings.Contains(sum.String(), "skipped 2") || !strings.Contains(sum.String(), "truncated") {
		t.Errorf("summary: %s", sum.String())
	}
	got := mailboxMessages(t, st, "INBOX")
	if len(got) != 2 || string(got[1].body) != "Subject: two\r\n\r\nbody two\r\n" {
		t.Fatalf("stored %d messages", len(got))
	}
}

// An mbox rewritten since (not only grown) is refused, with the state
// file to remove.
func TestImportChangedMboxRefused(t *testing.T) {
	src := filepath.Join(t.TempDir(), "box.mbox")
	one := "From a@example.org Mon Jan  3 20:05:38 2022\nSubject: one\n\nbody one\n\n"
	if err := os.WriteFile(src, []byte(one+strings.Replace(one, "one", "two", -1)), 0o644); err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	opts := Options{Store: st, Account: ann, Source: src, StateDir: t.TempDir()}
	if _, err := Import(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte("From a@example.org Mon Jan  3 20:05:38 2022\nSubject: x\n\ny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Import(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "changed other than by growing") || !strings.Contains(err.Error(), opts.StateDir) {
		t.Fatalf("rewritten mbox: %v", err)
	}
	if got := mailboxMessages(t, st, "INBOX"); len(got) != 2 {
		t.Fatalf("INBOX has %d", len(got))
	}
}
