package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
	"mailroom/internal/store/storetest"
)

var cheapCred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

// fixture is a SQLite data directory with an account, messages whose
// bodies are files, and another file of the data directory.
func fixture(t *testing.T) (*sqlitestore.Store, string, store.Mailbox) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir, InlineMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, "ann@example.test", cheapCred)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	deliverN(t, st, inbox, "first", 3)
	if err := os.MkdirAll(filepath.Join(dir, "import"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "import", "state.json"), []byte(`{"offset":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return st, dir, inbox
}

func deliverN(t *testing.T, st *sqlitestore.Store, mb store.Mailbox, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		m, err := st.Stage(ctx, bytes.NewReader(storetest.Message(prefix+string(rune('a'+i)), strings.Repeat("body ", 100+i))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: mb.ID}}); err != nil {
			t.Fatal(err)
		}
	}
}

func checkProblems(t *testing.T, dir string) []store.Problem {
	t.Helper()
	var p []store.Problem
	if _, _, err := Check(context.Background(), dir, "", func(pr store.Problem) { p = append(p, pr) }); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBackupIncrementalRestore: a full backup, an incremental one that
// links what the first has, both check clean; the incremental one
// restores into an empty directory (not over a full one, unless forced)
// with every message and the data directory's file.
func TestBackupIncrementalRestore(t *testing.T) {
	ctx := context.Background()
	st, dataDir, inbox := fixture(t)
	full := filepath.Join(t.TempDir(), "full")
	m1, err := SQLite(ctx, st, Options{DataDir: dataDir, Dest: full})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Counts.Bodies != 3 || m1.Counts.Messages != 3 || len(m1.Files) != 1 || m1.Files[0].Path != "files/import/state.json" {
		t.Fatalf("manifest %+v", m1)
	}
	deliverN(t, st, inbox, "second", 2)
	if _, err := st.Expunge(ctx, inbox.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	incr := filepath.Join(t.TempDir(), "incr")
	m2, err := SQLite(ctx, st, Options{DataDir: dataDir, Dest: incr, Since: full})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Counts.Bodies != 4 || m2.Counts.Linked != 2 || m2.Counts.Messages != 4 {
		t.Fatalf("incremental counts %+v: want 4 bodies, 2 linked", m2.Counts)
	}
	// Linked: the same inode as in the full backup.
	a, _ := os.Stat(filepath.Join(full, bodiesDir, m2.Bodies[0].Path))
	b, _ := os.Stat(filepath.Join(incr, bodiesDir, m2.Bodies[0].Path))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("the first body of the incremental backup is not a link to the full one's")
	}
	for _, dir := range []string{full, incr} {
		if p := checkProblems(t, dir); len(p) != 0 {
			t.Errorf("%s: %v", dir, p)
		}
	}
	if _, err := SQLite(ctx, st, Options{DataDir: dataDir, Dest: full}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup into an existing backup: %v", err)
	}
	if _, err := SQLite(ctx, st, Options{DataDir: dataDir, Dest: filepath.Join(dataDir, "b")}); err == nil || !strings.Contains(err.Error(), "inside the data directory") {
		t.Errorf("backup into the data directory: %v", err)
	}

	target := t.TempDir()
	if _, err := Restore(ctx, incr, RestoreOptions{DataDir: target, Backend: BackendSQLite}); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, full, RestoreOptions{DataDir: target, Backend: BackendSQLite}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("restore over a restored store: %v", err)
	}
	if _, err := Restore(ctx, full, RestoreOptions{DataDir: target, Backend: BackendPostgres}); err == nil || !strings.Contains(err.Error(), "is a sqlite backup") {
		t.Errorf("restore into the other backend: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(target, "import", "state.json")); err != nil || string(data) != `{"offset":1}` {
		t.Errorf("data directory file: %q %v", data, err)
	}
	restored, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: target})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	var problems []store.Problem
	sum, err := restored.Verify(ctx, func(p store.Problem) { problems = append(problems, p) })
	if err != nil || len(problems) != 0 || sum.Messages != 4 || sum.Blobs != 4 {
		t.Fatalf("restored store: %+v %v %v", sum, problems, err)
	}
	msgs, err := restored.MessageList(ctx, inbox.ID)
	if err != nil || len(msgs) != 4 || msgs[0].UID != 2 {
		t.Fatalf("restored INBOX: %+v %v", msgs, err)
	}
	restored.Close()
	// --force replaces the store: the full backup's three messages.
	if _, err := Restore(ctx, full, RestoreOptions{DataDir: target, Backend: BackendSQLite, Force: true}); err != nil {
		t.Fatal(err)
	}
	again, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: target})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if msgs, err := again.MessageList(ctx, inbox.ID); err != nil || len(msgs) != 3 || msgs[0].UID != 1 {
		t.Fatalf("INBOX restored with --force: %+v %v", msgs, err)
	}
}

// TestCheckFindsDamagedBackup: a body changed, a body removed and the
// database changed are each reported, and a restore of the damaged
// backup stops.
func TestCheckFindsDamagedBackup(t *testing.T) {
	ctx := context.Background()
	st, dataDir, _ := fixture(t)
	for _, tc := range []struct {
		name   string
		damage func(dir string, m *Manifest) error
		detail string
	}{
		{"body changed", func(dir string, m *Manifest) error {
			p := filepath.Join(dir, bodiesDir, m.Bodies[1].Path)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data[len(data)-3] ^= 1
			return os.WriteFile(p, data, 0o600)
		}, "has sha256"},
		{"body removed", func(dir string, m *Manifest) error {
			return os.Remove(filepath.Join(dir, bodiesDir, m.Bodies[0].Path))
		}, "is missing"},
		{"file truncated", func(dir string, m *Manifest) error {
			return os.Truncate(filepath.Join(dir, "files", "import", "state.json"), 2)
		}, "is 2 bytes, the manifest says 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			m, err := SQLite(ctx, st, Options{DataDir: dataDir, Dest: dir})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(dir, m); err != nil {
				t.Fatal(err)
			}
			p := checkProblems(t, dir)
			found := false
			for _, pr := range p {
				found = found || strings.Contains(pr.Detail, tc.detail)
			}
			if !found {
				t.Errorf("problems %v: want …%s…", p, tc.detail)
			}
			target := t.TempDir()
			if _, err := Restore(ctx, dir, RestoreOptions{DataDir: target, Backend: BackendSQLite}); err == nil {
				t.Error("a damaged backup restored")
			}
			if _, err := os.Stat(filepath.Join(target, "mail.db")); !os.IsNotExist(err) {
				t.Errorf("a failed restore left mail.db: %v", err)
			}
		})
	}
}

// TestManifestRefusals: what ParseManifest turns away.
func TestManifestRefusals(t *testing.T) {
	good := `{"format":1,"backend":"sqlite","schema":3,"database":{"path":"mail.db","size":1,"sha256":"` + strings.Repeat("ab", 32) + `"}`
	if _, err := ParseManifest(strings.NewReader(good + "}")); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	for _, bad := range []string{
		`{"format":2,"backend":"sqlite"}`,
		`{"format":1,"backend":"oracle"}`,
		strings.Replace(good, `"mail.db"`, `"../mail.db"`, 1) + "}",
		strings.Replace(good, `"mail.db"`, `"/etc/passwd"`, 1) + "}",
		good + `,"bodies":[{"path":"2026120714/../../x","size":1,"sha256":"` + strings.Repeat("ab", 32) + `"}]}`,
		good + `,"files":[{"path":"files/a","size":-1,"sha256":"` + strings.Repeat("ab", 32) + `"}]}`,
		strings.Replace(good, strings.Repeat("ab", 32), "zz", 1) + "}",
		`not json`,
	} {
		if _, err := ParseManifest(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzParseManifest: any input is a manifest that passes its checks, or
// an error; never a crash, and never a path that leaves the backup.
func FuzzParseManifest(f *testing.F) {
	f.Add(`{"format":1,"backend":"sqlite","schema":3,"database":{"path":"mail.db","size":1,"sha256":"` + strings.Repeat("ab", 32) + `"}}`)
	f.Add(`{"format":1,"backend":"postgres","database":{"path":"database.pgdump","size":0,"sha256":"` + strings.Repeat("0", 64) + `"},"files":[{"path":"files/x","size":3,"sha256":"` + strings.Repeat("1", 64) + `"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseManifest(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, file := range append(append([]File{m.Database}, m.Bodies...), m.Files...) {
			if !filepath.IsLocal(file.Path) {
				t.Fatalf("accepted path %q", file.Path)
			}
		}
	})
}

// TestBackupKeepsUploads: a JMAP upload's body is a body file like a
// message's: the backup copies it, the check counts it, and the restored
// store serves the upload byte for byte under its id.
func TestBackupKeepsUploads(t *testing.T) {
	ctx := context.Background()
	st, dataDir, inbox := fixture(t)
	data := bytes.Repeat([]byte("an attachment uploaded before the backup\r\n"), 5000)
	u, err := st.PutUpload(ctx, inbox.AccountID, "application/pdf", bytes.NewReader(data), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "full")
	m, err := SQLite(ctx, st, Options{DataDir: dataDir, Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.Bodies != 3+1 {
		t.Errorf("manifest counts %d body files, want the 3 messages' and the upload's", m.Counts.Bodies)
	}
	if p := checkProblems(t, dest); len(p) != 0 {
		t.Errorf("check: %v", p)
	}
	target := t.TempDir()
	if _, err := Restore(ctx, dest, RestoreOptions{DataDir: target, Backend: BackendSQLite}); err != nil {
		t.Fatal(err)
	}
	restored, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: target})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	body, err := restored.OpenUpload(ctx, inbox.AccountID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	got := make([]byte, body.Size())
	if _, err := body.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("restored upload: %d octets, want the %d uploaded", len(got), len(data))
	}
}
