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

// TestReplayThunderbirdSharing follows Thunderbird through the ACL and
// QUOTA commands it sends for a personal folder and a folder another user
// shares, and through the sharing tab of a folder's properties. The
// sequence is reconstructed from Thunderbird's IMAP code
// (mailnews/imap/src/nsImapProtocol.cpp): RefreshACLForFolder sends
// `myrights "<folder>"` for every folder it selects, and for a folder of
// the personal namespace whose rights include "a" also `getacl
// "<folder>"`; GetQuotaDataIfSupported sends `getquotaroot "<folder>"`;
// the namespaces come from `namespace`, and the folders of the other
// users' namespace from `list "" "Other Users/*"`. The sharing tab of
// Thunderbird's folder properties shows what GETACL answered (it sets
// nothing itself); a SETACL is what an ACL add-on or another client sends.
func TestReplayThunderbirdSharing(t *testing.T) {
	r := newRig(t)
	owner := r.Account("owner@example.test")
	r.Account("ann@example.test")
	o := r.login("owner@example.test")
	o.cmd("o1", "CREATE Team", "OK")
	o.cmd("o2", "SETACL Team ann@example.test lrswipte", "OK")
	r.Deliver(owner, "Subject: for the team\r\n\r\nagenda\r\n")
	o.cmd("o3", "SELECT INBOX", "OK")
	o.cmd("o4", "MOVE 1 Team", "OK")
	if err := r.Store.SetQuotaLimits(context.Background(), store.QuotaScope{AccountID: owner.ID}, store.QuotaLimits{Storage: 1 << 20, Messages: store.Unlimited}); err != nil {
		t.Fatal(err)
	}

	tb := r.raw(true)
	lines := tb.cmd("1", "capability", "OK")
	for _, c := range []string{" ACL", " RIGHTS=texk", " QUOTA", " NAMESPACE"} {
		if !has(lines, c) {
			t.Fatalf("capability lacks%s: %q", c, lines)
		}
	}
	tb.Send("2 authenticate PLAIN")
	tb.Expect("+")
	tb.Send(plainIR)
	finish(tb, "2", "OK")
	if lines := tb.cmd("3", "namespace", "OK"); !has(lines, `* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))`) {
		t.Fatalf("namespace: %q", lines)
	}
	tb.cmd("4", `list (subscribed) "" "*" return (special-use)`, "OK")
	lines = tb.cmd("5", `list "" "Other Users/*"`, "OK")
	if !has(lines, `* LIST (\HasNoChildren) "/" "Other Users/owner@example.test/Team"`) || has(lines, "owner@example.test/INBOX") {
		t.Fatalf(`list "" "Other Users/*": %q`, lines)
	}
	// A personal folder: my rights, then (with "a") the whole list.
	tb.cmd("6", `select "INBOX"`, "OK [READ-WRITE]")
	if lines := tb.cmd("7", `myrights "INBOX"`, "OK"); !has(lines, `* MYRIGHTS "INBOX" lrswipkxteacd`) {
		t.Fatalf("myrights INBOX: %q", lines)
	}
	if lines := tb.cmd("8", `getacl "INBOX"`, "OK"); !has(lines, `* ACL "INBOX" ann@example.test lrswipkxteacd`) {
		t.Fatalf("getacl INBOX: %q", lines)
	}
	if lines := tb.cmd("9", `getquotaroot "INBOX"`, "OK"); !has(lines, `* QUOTAROOT "INBOX"`) {
		t.Fatalf("getquotaroot INBOX: %q", lines)
	}
	// The other user's folder: my rights only, and its owner's quota.
	team := `"Other Users/owner@example.test/Team"`
	if lines := tb.cmd("10", "select "+team, "OK [READ-WRITE]"); !has(lines, "* 1 EXISTS") {
		t.Fatalf("select the shared folder: %q", lines)
	}
	if lines := tb.cmd("11", "myrights "+team, "OK"); !has(lines, `* MYRIGHTS "Other Users/owner@example.test/Team" lrswipted`) {
		t.Fatalf("myrights of the shared folder: %q", lines)
	}
	lines = tb.cmd("12", "getquotaroot "+team, "OK")
	if !has(lines, `* QUOTAROOT "Other Users/owner@example.test/Team" #user/owner@example.test`) || !has(lines, `* QUOTA #user/owner@example.test (STORAGE 1 1024)`) {
		t.Fatalf("getquotaroot of the shared folder: %q", lines)
	}
	// Without "a", the sharing tab's GETACL is refused, and says why.
	if lines := tb.cmd("13", "getacl "+team, "NO [NOPERM]"); !strings.Contains(lines[len(lines)-1], `"a"`) {
		t.Fatalf("getacl without a: %q", lines)
	}
	tb.cmd("14", `UID fetch 1:* (FLAGS)`, "OK")
	tb.cmd("15", `UID STORE 1 +FLAGS (\Flagged)`, "OK")
	tb.cmd("16", "logout", "OK")
	if m := messages(t, r, owner, "Team"); len(m) != 1 || m[0].Flags&store.FlagFlagged == 0 {
		t.Fatalf("Team after ann's flag: %+v", m)
	}
}

// TestMbsyncSharedFolder: isync's mbsync syncs a folder another user
// shares, reached by its other users' namespace path: the owner's mail
// comes down, and a flag, a deletion and a new message go up, into the
// owner's folder.
func TestMbsyncSharedFolder(t *testing.T) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Fatal("mbsync is needed (scripts/install-test-deps.sh installs isync)")
	}
	r := newRig(t)
	owner := r.Account("owner@example.test")
	r.Account("kim@example.test")
	o := r.login("owner@example.test")
	o.cmd("o1", "CREATE Team", "OK")
	o.cmd("o2", "SETACL Team kim@example.test lrswipte", "OK")
	o.appendMsg("o3", "Team", "", "first")
	o.appendMsg("o4", "Team", "", "second")
	o.cmd("o5", "CREATE Private", "OK")
	o.appendMsg("o6", "Private", "", "not kim's")

	dir := t.TempDir()
	rc := mbsyncConfig(t, r, dir, "kim@example.test", "Path \"Other Users/owner@example.test/\"\n", "", "Near")
	sync := func() {
		t.Helper()
		out, err := exec.Command(mbsync, "-c", rc, "c").CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	sync()
	files, _ := filepath.Glob(filepath.Join(dir, "mail", "Team", "new", "*"))
	if len(files) != 2 {
		entries, _ := os.ReadDir(filepath.Join(dir, "mail"))
		t.Fatalf("mbsync fetched %d messages of Team, want 2 (local folders: %v)", len(files), entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "mail", "Private")); err == nil {
		t.Fatal("mbsync found the owner's folder that is not shared")
	}
	sort.Strings(files)
	// Local changes: flag the first (Maildir F), delete the second (T),
	// file a new one.
	os.Rename(files[0], filepath.Join(dir, "mail", "Team", "cur", filepath.Base(files[0])+":2,F"))
	os.Rename(files[1], filepath.Join(dir, "mail", "Team", "cur", filepath.Base(files[1])+":2,T"))
	os.WriteFile(filepath.Join(dir, "mail", "Team", "new", "1.kim.local"), []byte("Subject: from kim's laptop\r\n\r\nnotes\r\n"), 0o600)
	sync()
	list := messages(t, r, owner, "Team")
	if len(list) != 2 || list[0].Flags&store.FlagFlagged == 0 {
		t.Fatalf("owner's Team after kim's sync: %+v", list)
	}
	if body := r.Bodies("owner@example.test", "Team")[1]; !strings.Contains(body, "Subject: from kim's laptop") {
		t.Fatalf("kim's new message in the owner's Team: %q", body)
	}
}
