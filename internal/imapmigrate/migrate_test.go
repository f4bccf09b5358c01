package imapmigrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	mrimap "mailroom/internal/imap"
	"mailroom/internal/testrig"
)

func startRig(t *testing.T) *testrig.Rig {
	return testrig.Start(t, testrig.Factories{"imap": mrimap.Factory()}, testrig.Listen("imaps"))
}

// A Mailroom account with folders (a hierarchy, a renamed special-use
// folder), flags, keywords and internal dates is migrated into another
// Mailroom: everything matches over IMAP. More mail and changed flags at
// the source: a second run copies only the new messages and the flags
// follow. --verify agrees, and finds damage done here. A folder the
// source recreated (new UIDVALIDITY) is compared again, not duplicated.
func TestMigrateFromMailroom(t *testing.T) {
	ctx := context.Background()
	src, dst := startRig(t), startRig(t)
	src.Account("old@example.test")
	dst.Account("new@example.test")
	sc := login(t, src.Addr("imaps"), "old@example.test", testrig.Password)
	if err := sc.Rename("Sent", "Sent Messages", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Projects", "Projects/2021", "Projects/2022"} {
		if err := sc.Create(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	folders := []string{"INBOX", "Sent Messages", "Projects/2021", "Projects/2022", "Archive"}
	for i := range 60 {
		var flags []imap.Flag
		if i%2 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%5 == 0 {
			flags = append(flags, imap.FlagFlagged, imap.Flag("$Label1"))
		}
		if i%7 == 0 {
			flags = append(flags, imap.FlagAnswered, imap.Flag("Work"))
		}
		appendMsg(t, sc, folders[i%len(folders)], message(i, "first run"), base.Add(time.Duration(i)*time.Hour), flags...)
	}
	// Two identical messages: both are copied.
	appendMsg(t, sc, "INBOX", message(1000, "twin"), base)
	appendMsg(t, sc, "INBOX", message(1000, "twin"), base)

	opts := Options{
		Store: dst.Store, Mail: dst.Server.Deps().Mailboxes, Account: "new@example.test",
		Source:   Source{TLS: true, User: "old@example.test", Host: "127.0.0.1", Port: port(t, src.Addr("imaps"))},
		Password: testrig.Password, InsecureTLS: true, Connections: 3,
		StateDir: t.TempDir(), BatchMessages: 7,
	}
	res, err := Migrate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := res.Totals(); n != 62 {
		t.Errorf("first run copied %d, want 62", n)
	}
	dc := login(t, dst.Addr("imaps"), "new@example.test", testrig.Password)
	rename := func(n string) string {
		if n == "Sent Messages" {
			return "Sent"
		}
		return n
	}
	same := func(n string) string { return n }
	sameSnapshot(t, snapshot(t, sc, rename), snapshot(t, dc, same))

	// The second run: 5 new messages, flags changed on 3 old ones.
	for i := 100; i < 105; i++ {
		appendMsg(t, sc, folders[i%len(folders)], message(i, "second run"), base.Add(-time.Duration(i)*time.Hour), imap.Flag("$Later"))
	}
	if _, err := sc.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted, "$Moved"}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	res, err = Migrate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, flags := res.Totals(); n != 5 || flags != 3 {
		t.Errorf("second run copied %d, updated flags on %d; want 5 and 3", n, flags)
	}
	// Mailroom has CONDSTORE: the second run asked for what changed.
	for _, name := range folders {
		if f := res.Folders[rename(name)]; f == nil || !f.ChangedSince {
			t.Errorf("second run, %s: flags not fetched with CHANGEDSINCE", name)
		}
	}
	sameSnapshot(t, snapshot(t, sc, rename), snapshot(t, dc, same))
	// A third run has nothing to do.
	if res, err = Migrate(ctx, opts); err != nil {
		t.Fatal(err)
	} else if n, _, flags := res.Totals(); n != 0 || flags != 0 {
		t.Errorf("third run copied %d, updated flags on %d", n, flags)
	}

	verdicts, err := Verify(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range verdicts {
		if !v.OK() {
			t.Errorf("verify after the migration: %s", v)
		}
	}
	if len(verdicts) != 9 { // 6 default folders (Sent renamed), Projects and its 2 children
		t.Errorf("verify saw %d folders: %v", len(verdicts), verdicts)
	}
	// Damage: a message gone here, another's flags changed.
	if _, err := dc.Select("Projects/2021", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := dc.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := dc.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := dc.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"$Damaged"}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	verdicts, err = Verify(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, v := range verdicts {
		if !v.OK() {
			bad++
			if v.Ours != "Projects/2021" || v.Missing != 1 || v.FlagsDiffer != 1 {
				t.Errorf("verify after damage: %s", v)
			}
		}
	}
	if bad != 1 {
		t.Errorf("verify after damage: %d folders differ, want 1: %v", bad, verdicts)
	}

	// The source recreates Projects/2022 with the same messages: a new
	// UIDVALIDITY. The next run finds them here and copies nothing.
	before := snapshot(t, sc, rename)["Projects/2022"]
	if err := sc.Rename("Projects/2022", "Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Create("Projects/2022", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Select("Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Copy(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, "Projects/2022").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Delete("Tmp").Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, sc, "Projects/2022", message(200, "after recreate"), base)
	res, err = Migrate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Folders["Projects/2022"]
	if f == nil || !f.Recopied || f.Copied != 1 || f.Matched != len(before) {
		t.Errorf("after UIDVALIDITY change: %+v, want 1 copied and %d matched", f, len(before))
	}
	got := snapshot(t, dc, same)["Projects/2022"]
	if want := snapshot(t, sc, rename)["Projects/2022"]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Projects/2022 after UIDVALIDITY change:\n%v\nwant\n%v", got, want)
	}
}

// A wrong password is a clear error, and nothing is created.
func TestMigrateBadPassword(t *testing.T) {
	src, dst := startRig(t), startRig(t)
	src.Account("old@example.test")
	dst.Account("new@example.test")
	_, err := Migrate(context.Background(), Options{
		Store: dst.Store, Mail: dst.Server.Deps().Mailboxes, Account: "new@example.test",
		Source:   Source{TLS: true, User: "old@example.test", Host: "127.0.0.1", Port: port(t, src.Addr("imaps"))},
		Password: "wrong", InsecureTLS: true, StateDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "log in") {
		t.Fatalf("wrong password: %v", err)
	}
	// Without --insecure-tls a self-signed certificate is refused.
	_, err = Migrate(context.Background(), Options{
		Store: dst.Store, Mail: dst.Server.Deps().Mailboxes, Account: "new@example.test",
		Source:   Source{TLS: true, User: "old@example.test", Host: "127.0.0.1", Port: port(t, src.Addr("imaps"))},
		Password: testrig.Password, StateDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed certificate: %v", err)
	}
}

// A map file torn by a crash mid-append loses only its last line, and the
// next append starts a line of its own.
func TestMapTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.map")
	if err := os.WriteFile(path, []byte("1 10\n2 11\n3 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	fm, err := openMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fm.m) != 2 {
		t.Fatalf("map %v", fm.m)
	}
	if err := fm.add([]uint32{3}, []uint32{12}); err != nil {
		t.Fatal(err)
	}
	fm, err = openMap(path)
	if err != nil || len(fm.m) != 3 || fm.m[3] != 12 {
		t.Fatalf("after append: %v %v", fm.m, err)
	}
	if err := os.WriteFile(path, []byte("1 10\nx y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openMap(path); err == nil {
		t.Fatal("a malformed line is accepted")
	}
}
