package mailexport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/mailimport"
	"mailroom/internal/mailtest"
	"mailroom/internal/store"
	"mailroom/internal/testrig/teststore"
)

func TestMain(m *testing.M) { os.Exit(teststore.Main(m)) }

var cheapCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

// newStore is a real store with the given accounts in example.test.
func newStore(t *testing.T, locals ...string) store.Store {
	t.Helper()
	st := teststore.Open(t)
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	for _, l := range locals {
		if _, err := st.CreateAccount(ctx, l+"@example.test", cheapCred); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// message is one stored message, as the comparisons see it.
type message struct {
	body     []byte
	flags    store.Flags
	keywords string
	date     int64
}

// account reads every mailbox of an account that has messages.
func account(t *testing.T, st store.Store, email string) map[string][]message {
	t.Helper()
	ctx := context.Background()
	acct, err := st.Account(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	boxes, err := st.MailboxList(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]message{}
	for _, mb := range boxes {
		list, err := st.MessageList(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
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
			out[mb.Name] = append(out[mb.Name], message{body: data, flags: m.Flags, keywords: strings.Join(m.Keywords, " "), date: m.InternalDate})
		}
	}
	return out
}

// sameMail compares two accounts' mail; differ may excuse a difference.
func sameMail(t *testing.T, what string, want, got map[string][]message, differ func(folder string, i int, w, g message) bool) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: folders %v, want %v", what, keys(got), keys(want))
	}
	for name, wm := range want {
		gm := got[name]
		if len(gm) != len(wm) {
			t.Errorf("%s: %s has %d messages, want %d", what, name, len(gm), len(wm))
			continue
		}
		for i := range wm {
			w, g := wm[i], gm[i]
			if bytes.Equal(w.body, g.body) && w.flags == g.flags && w.keywords == g.keywords && w.date == g.date {
				continue
			}
			if differ != nil && differ(name, i, w, g) {
				continue
			}
			t.Errorf("%s: %s message %d: %d bytes %v [%s] %d, want %d bytes %v [%s] %d", what, name, i,
				len(g.body), g.flags, g.keywords, g.date, len(w.body), w.flags, w.keywords, w.date)
		}
	}
}

func keys(m map[string][]message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sourceFile is one message file of the Maildir the test starts from.
type sourceFile struct {
	folder string // directory under the root
	text   []byte
	date   time.Time
	info   string // flag letters
}

// writeSource writes a Maildir++ tree of 300 corpus messages in four
// folders, with flags and keywords, as Dovecot would have it.
func writeSource(t *testing.T, root string) []sourceFile {
	t.Helper()
	corpus := mailtest.Corpus(300, 7)
	folders := []string{"", ".Sent", ".Lists.Dev", ".Projekte.Entw&APw-rfe"}
	keywords := map[string]string{"": "0 $Label1\n1 work\n2 $Junk\n", ".Lists.Dev": "0 golang\n"}
	infos := []string{"", "S", "FS", "RS", "PS", "DS", "Sa", "RSab", "T", "FPRSc"}
	var out []sourceFile
	for i, c := range corpus {
		fo := folders[i%len(folders)]
		info := infos[i%len(infos)]
		if fo != "" {
			// Other folders have other keyword files: keep letters they define.
			info = strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' && (fo != ".Lists.Dev" || r != 'a') {
					return -1
				}
				return r
			}, info)
		}
		dir := filepath.Join(root, fo, "cur")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%d.M%dP1.host:2,%s", c.Date.Unix(), i, info))
		if err := os.WriteFile(path, c.Text, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, c.Date, c.Date); err != nil {
			t.Fatal(err)
		}
		out = append(out, sourceFile{folder: fo, text: c.Text, date: c.Date, info: info})
	}
	for fo, kw := range keywords {
		if err := os.WriteFile(filepath.Join(root, fo, "dovecot-keywords"), []byte(kw), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func importInto(t *testing.T, st store.Store, email, src string) *mailimport.Result {
	t.Helper()
	res, err := mailimport.Import(context.Background(), mailimport.Options{Store: st, Account: email, Source: src, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("import %s into %s: %v", src, email, err)
	}
	return res
}

func exportOf(t *testing.T, st store.Store, email, dir string, f Format) *Result {
	t.Helper()
	res, err := Export(context.Background(), Options{Store: st, Account: email, Dir: dir, Format: f})
	if err != nil {
		t.Fatalf("export %s: %v", email, err)
	}
	return res
}

// TestMaildirRoundTrip: a Maildir with keywords imports, exports back
// file for file (same bytes, flags, modification times), and the export
// imports into another account as the same mail.
func TestMaildirRoundTrip(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	src := writeSource(t, root)
	st := newStore(t, "ann", "bob", "carl")
	if n, _ := importInto(t, st, "ann@example.test", root).Messages(); n != len(src) {
		t.Fatalf("imported %d of %d", n, len(src))
	}
	ann := account(t, st, "ann@example.test")

	out := filepath.Join(t.TempDir(), "export")
	res := exportOf(t, st, "ann@example.test", out, Maildir)
	if n, _ := res.Messages(); n != len(src) {
		t.Fatalf("exported %d of %d", n, len(src))
	}
	// File for file: the source's folders, bytes, dates and flags.
	got := map[string][]sourceFile{}
	kwOf := func(dir string) map[byte]string {
		m := map[byte]string{}
		b, _ := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var n int
			var k string
			if _, err := fmt.Sscanf(l, "%d %s", &n, &k); err == nil {
				m[byte('a'+n)] = k
			}
		}
		return m
	}
	flagWords := func(info string, kw map[byte]string) string {
		var w []string
		for i := 0; i < len(info); i++ {
			if k, ok := kw[info[i]]; ok {
				w = append(w, k)
			} else {
				w = append(w, string(info[i]))
			}
		}
		sort.Strings(w)
		return strings.Join(w, " ")
	}
	for _, fo := range []string{"", ".Sent", ".Lists.Dev", ".Projekte.Entw&APw-rfe"} {
		dir := filepath.Join(out, fo)
		for _, sub := range []string{"new", "tmp"} {
			if ents, err := os.ReadDir(filepath.Join(dir, sub)); err != nil || len(ents) != 0 {
				t.Errorf("%s/%s: %v, %d entries", fo, sub, err, len(ents))
			}
		}
		ents, err := os.ReadDir(filepath.Join(dir, "cur"))
		if err != nil {
			t.Fatalf("exported folder %q: %v", fo, err)
		}
		kw := kwOf(dir)
		for _, e := range ents {
			path := filepath.Join(dir, "cur", e.Name())
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := e.Info()
			_, info, _ := strings.Cut(e.Name(), ":2,")
			if !strings.Contains(e.Name(), fmt.Sprintf(",S=%d:", len(text))) {
				t.Errorf("%s: S= is not the file size %d", e.Name(), len(text))
			}
			got[fo] = append(got[fo], sourceFile{folder: fo, text: text, date: fi.ModTime(), info: flagWords(info, kw)})
		}
	}
	srcKW := map[string]map[byte]string{}
	for _, fo := range []string{"", ".Sent", ".Lists.Dev", ".Projekte.Entw&APw-rfe"} {
		srcKW[fo] = kwOf(filepath.Join(root, fo))
	}
	next := map[string]int{}
	for _, s := range src {
		i := next[s.folder]
		next[s.folder]++
		if i >= len(got[s.folder]) {
			t.Fatalf("folder %q: only %d exported", s.folder, len(got[s.folder]))
		}
		g := got[s.folder][i]
		if !bytes.Equal(g.text, s.text) {
			t.Errorf("folder %q message %d: exported %d bytes, source %d", s.folder, i, len(g.text), len(s.text))
		}
		if !g.date.Equal(s.date) {
			t.Errorf("folder %q message %d: mtime %v, source %v", s.folder, i, g.date, s.date)
		}
		if want := flagWords(s.info, srcKW[s.folder]); g.info != want {
			t.Errorf("folder %q message %d: flags %q, source %q", s.folder, i, g.info, want)
		}
	}

	// The export imports as the same mail, and a second run imports nothing.
	importInto(t, st, "bob@example.test", out)
	sameMail(t, "maildir export imported", ann, account(t, st, "bob@example.test"), nil)
	again, err := mailimport.Import(context.Background(), mailimport.Options{Store: st, Account: "carl@example.test", Source: out, StateDir: filepath.Join(t.TempDir(), "state")})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := again.Messages(); n != len(src) {
		t.Fatalf("carl: %d", n)
	}

	pythonReads(t, out, "maildir", len(src))
}

// TestMboxRoundTrip: an mbox of 400 varied messages imports, exports as
// an mbox tree, and the tree imports into another account as the same
// mail, with flags, keywords and dates; so does a whole account with
// folders.
func TestMboxRoundTrip(t *testing.T) {
	st := newStore(t, "ann", "bob", "carl", "dave")
	corpus := mailtest.Corpus(400, 11)
	src := filepath.Join(t.TempDir(), "in.mbox")
	var b bytes.Buffer
	for i, c := range corpus {
		fmt.Fprintf(&b, "From sender@example.org %s\n", c.Date.UTC().Format(time.ANSIC))
		if i%7 == 0 {
			b.WriteString("Status: RO\nX-Status: AF\nX-Keywords: $Label1 work\n")
		}
		for _, l := range strings.SplitAfter(string(c.Text), "\n") {
			if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
				b.WriteString(">")
			}
			b.WriteString(l)
		}
		if !bytes.HasSuffix(c.Text, []byte("\n")) {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(src, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, _ := importInto(t, st, "ann@example.test", src).Messages(); n != 400 {
		t.Fatalf("imported %d", n)
	}
	ann := account(t, st, "ann@example.test")
	out := filepath.Join(t.TempDir(), "mbox")
	res := exportOf(t, st, "ann@example.test", out, Mbox)
	inbox := false
	for _, f := range res.Folders {
		inbox = inbox || f.Name == "INBOX" && f.Path == "INBOX.mbox" && f.Messages == 400
	}
	if !inbox {
		t.Fatalf("folders %+v", res.Folders)
	}
	importInto(t, st, "bob@example.test", out)
	sameMail(t, "mbox export imported", ann, account(t, st, "bob@example.test"), nil)
	pythonReads(t, filepath.Join(out, "INBOX.mbox"), "mbox", 400)

	// A whole account with folders, from the Maildir source: the one
	// change an mbox round trip makes is the final newline it adds to a
	// message that had none.
	root := filepath.Join(t.TempDir(), "Maildir")
	writeSource(t, root)
	importInto(t, st, "carl@example.test", root)
	carl := account(t, st, "carl@example.test")
	out2 := filepath.Join(t.TempDir(), "mbox2")
	exportOf(t, st, "carl@example.test", out2, Mbox)
	for _, p := range []string{"INBOX.mbox", "Sent.mbox", "Lists/Dev.mbox", "Projekte/Entwürfe.mbox", "Lists.mbox", "Projekte.mbox"} {
		if _, err := os.Stat(filepath.Join(out2, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	importInto(t, st, "dave@example.test", out2)
	sameMail(t, "mbox tree imported", carl, account(t, st, "dave@example.test"), func(folder string, i int, w, g message) bool {
		return !bytes.HasSuffix(w.body, []byte("\n")) && bytes.Equal(g.body, append(w.body, '\r', '\n')) &&
			w.flags == g.flags && w.keywords == g.keywords && w.date == g.date
	})
}

// pythonReads checks the export with another implementation: Python's
// mailbox module counts the messages and reads their flags.
func pythonReads(t *testing.T, path, kind string, want int) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not installed: the export is not read by Python's mailbox module")
		return
	}
	script := `
import mailbox, sys
path, kind = sys.argv[1], sys.argv[2]
if kind == "mbox":
    boxes = [mailbox.mbox(path, create=False)]
else:
    md = mailbox.Maildir(path, factory=None, create=False)
    boxes = [md] + [md.get_folder(f) for f in md.list_folders()]
n, flagged = 0, 0
for box in boxes:
    for key in box.keys():
        m = box[key]
        n += 1
        if "F" in m.get_flags():
            flagged += 1
        if not m["Message-ID"]:
            raise SystemExit("no Message-ID in %s" % key)
print(n, flagged)
`
	out, err := exec.Command(py, "-c", script, path, kind).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var n, flagged int
	if _, err := fmt.Sscanf(string(out), "%d %d", &n, &flagged); err != nil || n != want || flagged == 0 {
		t.Errorf("python read %q: want %d messages, some flagged", out, want)
	}
}

// TestExportRefusesNonEmptyDir: an export never mixes with other files.
func TestExportRefusesNonEmptyDir(t *testing.T) {
	st := newStore(t, "ann")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Export(context.Background(), Options{Store: st, Account: "ann@example.test", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err %v", err)
	}
	if _, err := Export(context.Background(), Options{Store: st, Account: "ann@example.test", Dir: filepath.Join(dir, "new"), Folders: []string{"Nope"}}); err == nil {
		t.Fatal("unknown folder exported")
	}
}
