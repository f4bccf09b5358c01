package mailimport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// writeMaildirFile writes one message file with an mtime.
func writeMaildirFile(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestImportMaildir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	t0 := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, d := range []string{"tmp", ".Sent/tmp", ".Lists.Dev/tmp", ".Sent Messages/new", ".notamaildir"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dovecot-keywords"), []byte("0 $Label1\n1 work\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".Lists.Dev", "dovecot-keywords"), []byte("0 golang\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeMaildirFile(t, filepath.Join(root, "cur", "1000.a.host:2,FSa"), "Subject: one\n\nfirst\n", t0)
	writeMaildirFile(t, filepath.Join(root, "cur", "1001.b.host:2,PRb"), "Subject: two\r\n\r\nsecond\r\n", t0.Add(time.Hour))
	writeMaildirFile(t, filepath.Join(root, "new", "1002.c.host"), "Subject: three\n\nnew\n", t0.Add(2*time.Hour))
	writeMaildirFile(t, filepath.Join(root, ".Sent", "cur", "2000.d.host:2,S"), "Subject: sent\n\nx\n", t0)
	writeMaildirFile(t, filepath.Join(root, ".Lists.Dev", "cur", "3000.e.host:2,DTa"), "Subject: dev\n\ny\n", t0)
	writeMaildirFile(t, filepath.Join(root, ".Sent Messages", "new", "4000.f.host"), "Subject: apple sent\n\nz\n", t0)
	writeMaildirFile(t, filepath.Join(root, ".Projekte.Entw&APw-rfe", "cur", "5000.g.host:2,"), "Subject: mutf7\n\nz\n", t0)

	st := newStore(t)
	opts := Options{Store: st, Account: ann, Source: root, StateDir: t.TempDir(), BatchMessages: 2}
	// Interrupted after its first batch (two INBOX messages), then resumed.
	ctx, cancel := context.WithCancel(context.Background())
	opts.afterBatch = cancel
	res, err := Import(ctx, opts)
	if n, _ := res.Messages(); !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("interrupted: %d, %v", n, err)
	}
	opts.afterBatch = nil
	var last Progress
	opts.Progress = func(p Progress) { last = p }
	res, err = Import(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Messages(); n != 5 || len(res.Skipped) != 0 || !res.Resumed {
		t.Fatalf("resumed: imported %d, skipped %v", n, res.Skipped)
	}
	if last.Messages != 5 || last.TotalMessages != 5 {
		t.Errorf("progress %+v", last)
	}
	if res.Folders["INBOX"].Messages != 1 || res.Folders["Sent"].Messages != 1 || res.Folders["Lists/Dev"].Messages != 1 || res.Folders["Sent Messages"].Messages != 1 || res.Folders["Projekte/Entwürfe"].Messages != 1 {
		t.Errorf("folders %+v", res.Folders)
	}
	inbox := mailboxMessages(t, st, "INBOX")
	if len(inbox) != 3 {
		t.Fatalf("INBOX: %d", len(inbox))
	}
	for i, w := range []struct {
		body  string
		flags store.Flags
		kw    string
		date  time.Time
	}{
		{"Subject: one\r\n\r\nfirst\r\n", store.FlagFlagged | store.FlagSeen, "$Label1", t0},
		{"Subject: two\r\n\r\nsecond\r\n", store.FlagAnswered, "$Forwarded work", t0.Add(time.Hour)},
		{"Subject: three\r\n\r\nnew\r\n", 0, "", t0.Add(2 * time.Hour)},
	} {
		g := inbox[i]
		if string(g.body) != w.body || g.meta.Flags != w.flags || strings.Join(g.meta.Keywords, " ") != w.kw || g.meta.InternalDate != w.date.Unix() {
			t.Errorf("INBOX %d: %q %v %v %d", i, g.body, g.meta.Flags, g.meta.Keywords, g.meta.InternalDate)
		}
	}
	// Sent and "Sent Messages" both land in the account's \Sent folder.
	sent := mailboxMessages(t, st, "Sent")
	if len(sent) != 2 || sent[0].meta.Flags != store.FlagSeen {
		t.Errorf("Sent: %d messages", len(sent))
	}
	acct, _ := st.Account(context.Background(), ann)
	if _, err := st.Mailbox(context.Background(), acct.ID, "Sent Messages"); err == nil {
		t.Errorf("a folder Sent Messages was created")
	}
	dev := mailboxMessages(t, st, "Lists/Dev")
	if len(dev) != 1 || dev[0].meta.Flags != store.FlagDraft|store.FlagDeleted || strings.Join(dev[0].meta.Keywords, " ") != "golang" {
		t.Errorf("Lists/Dev: %+v", dev)
	}

	if got := mailboxMessages(t, st, "Projekte/Entwürfe"); len(got) != 1 {
		t.Errorf("Projekte/Entwürfe: %d", len(got))
	}

	// Again: nothing. A new message: only it.
	res, err = Import(context.Background(), opts)
	if n, _ := res.Messages(); err != nil || n != 0 || !res.AlreadyDone {
		t.Fatalf("second run: %d, %v, done %v", n, err, res.AlreadyDone)
	}
	writeMaildirFile(t, filepath.Join(root, "new", "1003.g.host"), "Subject: four\n\n4\n", t0)
	res, err = Import(context.Background(), opts)
	if n, _ := res.Messages(); err != nil || n != 1 || res.Folders["INBOX"].Messages != 1 {
		t.Fatalf("third run: %d, %v", n, err)
	}
	if got := mailboxMessages(t, st, "INBOX"); len(got) != 4 {
		t.Fatalf("INBOX: %d", len(got))
	}
}
