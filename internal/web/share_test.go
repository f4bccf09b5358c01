package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// shareRig is the rig with kim and lee beside ann, and a helper that
// changes a list behind the web's back (as IMAP SETACL would).
type shareRig struct {
	*rig
	kim, lee store.Account
}

func newShareRig(t *testing.T) *shareRig {
	r := newRig(t)
	return &shareRig{rig: r, kim: r.Account("kim@example.test"), lee: r.Account("lee@example.test")}
}

func (r *shareRig) setACL(mb store.Mailbox, id string, rights acl.Rights) {
	r.T.Helper()
	if _, err := r.Store.ModifyACL(context.Background(), mb.ID, id, acl.Replace, rights); err != nil {
		r.T.Fatal(err)
	}
}

func (r *shareRig) createMailbox(acct store.Account, name string) store.Mailbox {
	r.T.Helper()
	mb, err := r.Store.CreateMailbox(context.Background(), acct.ID, name, "")
	if err != nil {
		r.T.Fatal(err)
	}
	return mb
}

func (r *shareRig) acl(mb store.Mailbox) []acl.Entry {
	r.T.Helper()
	entries, err := r.Store.MailboxACL(context.Background(), mb.ID)
	if err != nil {
		r.T.Fatal(err)
	}
	return entries
}

func (r *shareRig) subscribed(acct store.Account, name string) bool {
	r.T.Helper()
	subs, err := r.Store.Subscriptions(context.Background(), acct.ID)
	if err != nil {
		r.T.Fatal(err)
	}
	return slices.Contains(subs, name)
}

// follow loads the page a POST redirected to (its flash) and returns it
// unescaped.
func (b *browser) follow(code int, h http.Header, body string) (int, string) {
	b.t.Helper()
	if code == http.StatusSeeOther {
		_, _, body = b.get(h.Get("Location"))
	}
	return code, html.UnescapeString(body)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSharedFolderReadOnly: a folder kim shares read-only with ann waits
// hidden until ann shows it; it then lists under "Shared with me", opens
// and reads (marking read: the "s" right), offers no flag, move or
// delete, and a forged request for any of them is refused with 403 in
// plain words and changes nothing. Another account's folder not shared
// with ann is "not found".
func TestSharedFolderReadOnly(t *testing.T) {
	r := newShareRig(t)
	team := r.createMailbox(r.kim, "Team")
	d := r.DeliverInto(store.Target{MailboxID: team.ID}, sample)
	r.setACL(team, "ann@example.test", acl.ReadOnly)
	private := r.Deliver(r.lee, sample)
	own := r.Deliver(r.acct, "Subject: mine\r\n\r\nx\r\n")
	const name = "Other Users/kim@example.test/Team"

	ann := r.browser()
	ann.login("ann@example.test")
	_, _, page := ann.get("/mail/INBOX")
	if !strings.Contains(page, `id="h-sharedwithme"`) || !strings.Contains(page, "1 hidden · Manage folders shared with me") || strings.Contains(page, mailboxURL(name)) {
		t.Fatalf("a new share made outside the web is not waiting hidden:\n%s", section(page, "h-sharedwithme"))
	}
	_, _, page = ann.get("/shared")
	if !strings.Contains(page, `<tr data-folder="`+name+`">`) || !strings.Contains(page, "Read only") || !strings.Contains(page, `value="show"`) || !strings.Contains(page, `value="leave"`) {
		t.Fatalf("shared page:\n%s", page)
	}
	if code, page := ann.follow(ann.post("/shared", url.Values{"csrf": {ann.csrf}, "folder": {name}, "action": {"show"}})); code != http.StatusSeeOther || !strings.Contains(page, name+" shows in your folder list.") {
		t.Fatalf("show: %d\n%s", code, page)
	}
	_, _, page = ann.get("/mail/INBOX")
	if !strings.Contains(page, `<h3 class="owner">kim@example.test</h3>`) || !strings.Contains(page, `href="`+mailboxURL(name)+`">Team</a>`) {
		t.Fatalf("the shown folder is not in the list:\n%s", section(page, "h-sharedwithme"))
	}

	code, _, page := ann.get(mailboxURL(name))
	if code != http.StatusOK || !strings.Contains(page, "Lunch on Friday") || !strings.Contains(html.UnescapeString(page), "Shared with you by kim@example.test: <strong>Read only</strong>") {
		t.Fatalf("the shared folder: %d\n%s", code, page)
	}
	if !strings.Contains(page, `value="read"`) || strings.Contains(page, `value="flag"`) {
		t.Fatal("the list offers flagging (no w right) or not marking read (s right)")
	}
	if strings.Contains(page, `action="/sharing`) || strings.Contains(page, "/sharing?folder") || strings.Contains(page, `action="/folders/delete"`) {
		t.Fatal("the list offers sharing or deleting a folder ann may not change")
	}
	msg := "/msg/" + itoa(team.ID) + "/" + itoa(int64(d.UID))
	code, _, page = ann.get(msg)
	if code != http.StatusOK || !strings.Contains(page, "Shall we meet at noon?") {
		t.Fatalf("message: %d\n%s", code, page)
	}
	for _, absent := range []string{`/move"`, `/delete"`, `/junk"`, `value="flag"`} {
		if strings.Contains(page, absent) {
			t.Errorf("a read-only message page offers %s", absent)
		}
	}
	if !strings.Contains(page, `value="unread"`) {
		t.Error("no Mark unread with the s right")
	}
	// Read for ann (her own \Seen: per user in a shared folder), still
	// unread for kim, the owner.
	if _, _, page := ann.get(mailboxURL(name)); !strings.Contains(page, "1 messages</span>") || strings.Contains(page, `class="unread`) {
		t.Fatalf("reading with the s right did not mark it read for ann:\n%s", page)
	}
	if m := r.Messages(r.kim, "Team"); len(m) != 1 || m[0].Flags&store.FlagSeen != 0 {
		t.Fatalf("ann's reading marked it read for the owner: %+v", m)
	}
	kim := r.browser()
	kim.login("kim@example.test")
	if _, _, page := kim.get("/mail/Team"); !strings.Contains(page, "1 messages, 1 unread") {
		t.Fatalf("the owner's Team after ann read it:\n%s", page)
	}

	// Forged requests: refused in words, nothing changes.
	for _, tc := range []struct {
		path string
		form url.Values
		says string
	}{
		{msg + "/delete", nil, "You may not delete messages in " + name + ": kim@example.test gave you read only access."},
		{msg + "/move", url.Values{"to": {"INBOX"}}, "You may not move messages out of " + name},
		{msg + "/flags", url.Values{"action": {"flag"}}, "You may not flag messages in " + name},
		{msg + "/junk", url.Values{"as": {"junk"}}, "Junk and Not junk work in your own folders only"},
		{"/folders/delete", url.Values{"name": {name}}, "You may not delete " + name},
		{"/folders/create", url.Values{"parent": {name}, "name": {"Sub"}}, "You may not create folders in " + name},
	} {
		form := url.Values{"csrf": {ann.csrf}}
		for k, v := range tc.form {
			form[k] = v
		}
		code, _, page := ann.post(tc.path, form)
		if code != http.StatusForbidden && code != http.StatusBadRequest || !strings.Contains(html.UnescapeString(page), tc.says) {
			t.Errorf("forged POST %s: %d, want a refusal saying %q\n%s", tc.path, code, tc.says, page)
		}
	}
	if code, _, _ := ann.post(msg+"/delete", url.Values{"csrf": {ann.csrf}}); code != http.StatusForbidden {
		t.Errorf("forged delete: %d, want 403", code)
	}
	if m := r.Messages(r.kim, "Team"); len(m) != 1 || m[0].Flags&(store.FlagFlagged|store.FlagDeleted) != 0 {
		t.Fatalf("kim's Team after forged requests: %+v", m)
	}
	if len(r.Messages(r.acct, "INBOX")) != 1 {
		t.Fatal("something moved into ann's INBOX")
	}
	if _, err := r.Store.Mailbox(context.Background(), r.kim.ID, "Team/Sub"); err == nil {
		t.Fatal("a forged create made a folder in kim's Team")
	}

	// A move into a folder ann may only read is refused too.
	code, _, page = ann.post("/msg/"+itoa(own.MailboxID)+"/"+itoa(int64(own.UID))+"/move", url.Values{"csrf": {ann.csrf}, "to": {name}})
	if code != http.StatusForbidden || !strings.Contains(html.UnescapeString(page), "You may not move messages into "+name+": kim@example.test gave you read only access.") {
		t.Fatalf("move into a read-only folder: %d\n%s", code, page)
	}

	// Lee's folders are not ann's to see, by any path.
	for _, path := range []string{"/msg/" + itoa(private.MailboxID) + "/" + itoa(int64(private.UID)), "/mail/Other%20Users/lee@example.test/INBOX"} {
		if code, _, _ := ann.get(path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if code, _, _ := ann.get("/compose?reply=" + itoa(private.MailboxID) + "/" + itoa(int64(private.UID))); code == http.StatusOK {
		t.Error("a reply to lee's message was prefilled")
	}
}

// TestSharedFolderReadWrite: with read and write access ann flags, moves
// messages out of and into kim's folder (User.Move), deletes one there
// for good (not into her own Trash), and replies to one.
func TestSharedFolderReadWrite(t *testing.T) {
	r := newShareRig(t)
	team := r.createMailbox(r.kim, "Team")
	d := r.DeliverInto(store.Target{MailboxID: team.ID}, sample)
	r.setACL(team, "ann@example.test", acl.ReadWrite)
	own := r.Deliver(r.acct, "Subject: mine\r\n\r\nx\r\n")
	const name = "Other Users/kim@example.test/Team"
	ann := r.browser()
	ann.login("ann@example.test")

	msg := "/msg/" + itoa(team.ID) + "/" + itoa(int64(d.UID))
	_, _, page := ann.get(msg)
	for _, want := range []string{`value="flag"`, `/move"`, `/delete"`, "It does not go to your Trash"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("read-write message page lacks %s", want)
		}
	}
	if strings.Contains(page, `/junk"`) {
		t.Error("junk buttons in another account's folder")
	}
	if code, _, _ := ann.post(msg+"/flags", url.Values{"csrf": {ann.csrf}, "action": {"flag"}}); code != http.StatusSeeOther {
		t.Fatalf("flag: %d", code)
	}
	if m := r.Messages(r.kim, "Team"); len(m) != 1 || m[0].Flags&store.FlagFlagged == 0 {
		t.Fatalf("not flagged in kim's folder: %+v", m)
	}
	// Ann's message into kim's folder, kim's out into ann's Archive.
	code, page := ann.follow(ann.post("/msg/"+itoa(own.MailboxID)+"/"+itoa(int64(own.UID))+"/move", url.Values{"csrf": {ann.csrf}, "to": {name}}))
	if code != http.StatusSeeOther || !strings.Contains(page, "Moved to "+name+".") {
		t.Fatalf("move into kim's folder: %d\n%s", code, page)
	}
	if n := len(r.Messages(r.kim, "Team")); n != 2 || len(r.Messages(r.acct, "INBOX")) != 0 {
		t.Fatalf("after moving in: kim's Team %d, ann's INBOX %d", n, len(r.Messages(r.acct, "INBOX")))
	}
	if code, _, _ := ann.post(msg+"/move", url.Values{"csrf": {ann.csrf}, "to": {"Archive"}}); code != http.StatusSeeOther {
		t.Fatalf("move out of kim's folder: %d", code)
	}
	if n := len(r.Messages(r.acct, "Archive")); n != 1 {
		t.Fatalf("ann's Archive has %d", n)
	}
	left := r.Messages(r.kim, "Team")
	if len(left) != 1 {
		t.Fatalf("kim's Team has %d", len(left))
	}
	// Reply from the shared folder: prefilled from kim's message.
	code, _, page = ann.get("/compose?reply=" + itoa(team.ID) + "/" + itoa(int64(left[0].UID)))
	if code != http.StatusOK || !strings.Contains(page, "Re: mine") {
		t.Fatalf("reply to a message in a shared folder: %d", code)
	}
	code, page = ann.follow(ann.post("/msg/"+itoa(team.ID)+"/"+itoa(int64(left[0].UID))+"/delete", url.Values{"csrf": {ann.csrf}}))
	if code != http.StatusSeeOther || !strings.Contains(page, "Deleted.") {
		t.Fatalf("delete in kim's folder: %d\n%s", code, page)
	}
	if n, trash := len(r.Messages(r.kim, "Team")), len(r.Messages(r.acct, "Trash")); n != 0 || trash != 0 {
		t.Fatalf("after deleting: kim's Team %d, ann's Trash %d", n, trash)
	}
}

// TestMoveIntoFullSharedFolder: a move into a folder of an account that
// is full names whose mailbox is full.
func TestMoveIntoFullSharedFolder(t *testing.T) {
	r := newShareRig(t)
	team := r.createMailbox(r.kim, "Team")
	r.setACL(team, "ann@example.test", acl.ReadWrite)
	if err := r.Store.SetQuotaLimits(context.Background(), store.QuotaScope{AccountID: r.kim.ID}, store.QuotaLimits{Storage: store.Unlimited, Messages: 0}); err != nil {
		t.Fatal(err)
	}
	own := r.Deliver(r.acct, sample)
	ann := r.browser()
	ann.login("ann@example.test")
	ann.post("/shared", url.Values{"csrf": {ann.csrf}, "folder": {"Other Users/kim@example.test/Team"}, "action": {"show"}})
	if _, _, page := ann.get(mailboxURL("Other Users/kim@example.test/Team")); !strings.Contains(page, "The mailbox of kim@example.test is full: nothing can be moved or copied into Other Users/kim@example.test/Team until kim@example.test makes room.") {
		t.Fatalf("the full owner's folder does not say so:\n%s", page)
	}
	code, _, page := ann.post("/msg/"+itoa(own.MailboxID)+"/"+itoa(int64(own.UID))+"/move", url.Values{"csrf": {ann.csrf}, "to": {"Other Users/kim@example.test/Team"}})
	if code != http.StatusInsufficientStorage || !strings.Contains(page, "Could not move messages into Other Users/kim@example.test/Team: the mailbox of kim@example.test is full (it may hold 0 messages).") {
		t.Fatalf("move into a full account's folder: %d\n%s", code, page)
	}
	if len(r.Messages(r.acct, "INBOX")) != 1 {
		t.Fatal("the message left ann's INBOX")
	}
}

// TestShareFolder: an owner shares a folder with presets and exact
// rights, changes and removes entries; bad input is refused in plain
// words and stores nothing; a person given access anew is subscribed;
// someone without the "a" right cannot see or change the list, someone
// with it can.
func TestShareFolder(t *testing.T) {
	r := newShareRig(t)
	projects := r.createMailbox(r.acct, "Projects")
	ann := r.browser()
	ann.login("ann@example.test")
	_, _, page := ann.get("/mail/Projects")
	if !strings.Contains(page, `/sharing?folder=Projects`) {
		t.Fatal("the owner's folder page has no Sharing link")
	}
	code, _, page := ann.get("/sharing?folder=Projects")
	if code != http.StatusOK || !strings.Contains(page, "Nobody else: Projects is not shared.") || !strings.Contains(page, "ann@example.test (you)") {
		t.Fatalf("sharing page: %d\n%s", code, page)
	}
	share := func(b *browser, folder string, form url.Values) (int, string) {
		b.t.Helper()
		form.Set("csrf", b.csrf)
		form.Set("folder", folder)
		return b.follow(b.post("/sharing", form))
	}
	code, page = share(ann, "Projects", url.Values{"action": {"set"}, "who": {" Kim@Example.test "}, "access": {"read"}})
	if code != http.StatusSeeOther || !strings.Contains(page, "kim@example.test now has read only access to Projects.") {
		t.Fatalf("share read only: %d\n%s", code, page)
	}
	if !r.subscribed(r.kim, "Other Users/ann@example.test/Projects") {
		t.Fatal("kim was not subscribed to the folder shared with him")
	}
	if !strings.Contains(page, `<tr data-who="kim@example.test"><td>kim@example.test</td><td><span class="access-level">Read only</span> <span class="meta">lrs</span>`) {
		t.Fatalf("the entry is not listed:\n%s", page)
	}
	if code, _ = share(ann, "Projects", url.Values{"action": {"set"}, "who": {"@example.test"}, "access": {"full"}, "rights": {"lr"}}); code != http.StatusSeeOther {
		t.Fatalf("exact rights for a domain: %d", code)
	}
	if code, _ = share(ann, "Projects", url.Values{"action": {"set"}, "who": {"kim@example.test"}, "access": {"write"}}); code != http.StatusSeeOther {
		t.Fatalf("change kim to read and write: %d", code)
	}
	// Kim hides it; changing his rights does not show it again.
	if err := r.Store.SetSubscribed(context.Background(), r.kim.ID, "Other Users/ann@example.test/Projects", false); err != nil {
		t.Fatal(err)
	}
	if code, page = share(ann, "Projects", url.Values{"action": {"set"}, "who": {"kim@example.test"}, "rights": {"+k"}}); code != http.StatusSeeOther {
		t.Fatalf("add k: %d\n%s", code, page)
	}
	if r.subscribed(r.kim, "Other Users/ann@example.test/Projects") {
		t.Fatal("a change of rights subscribed kim again")
	}
	want := []acl.Entry{{Identifier: "@example.test", Rights: acl.Lookup | acl.Read}, {Identifier: "kim@example.test", Rights: acl.ReadWrite | acl.Create}}
	if got := r.acl(projects); !slices.Equal(got, want) {
		t.Fatalf("list %v, want %v", got, want)
	}
	if !strings.Contains(page, `<option value="" selected>Custom (lrswipkte)</option>`) {
		t.Fatalf("custom rights are not shown as such:\n%s", page)
	}

	// Refusals say why and change nothing.
	for _, tc := range []struct {
		form url.Values
		code int
		says string
	}{
		{url.Values{"who": {"kim@example.test"}, "rights": {"lrQz"}}, http.StatusBadRequest, `Not saved: "Q", "z" are not rights. Rights are lower-case letters of lrswipkxtea`},
		{url.Values{"who": {"kim@example.test"}, "rights": {"l+r"}}, http.StatusBadRequest, `"+" or "-" may only come first`},
		{url.Values{"who": {"nobody@example.test"}, "access": {"read"}}, http.StatusNotFound, "Not saved: no account nobody@example.test exists here."},
		{url.Values{"who": {"@nowhere.test"}, "access": {"read"}}, http.StatusNotFound, "Not saved: no domain nowhere.test is hosted here."},
		{url.Values{"who": {"not an address"}, "access": {"read"}}, http.StatusBadRequest, "Not saved: not an address is not an address"},
		{url.Values{"who": {"-kim@example.test"}, "access": {"read"}}, http.StatusBadRequest, "with a leading \"-\" is not supported"},
		{url.Values{"who": {"ann@example.test"}, "access": {"read"}}, http.StatusBadRequest, "Not saved: ann@example.test owns Projects and always has every right on it."},
		{url.Values{"who": {"lee@example.test"}, "access": {"everything"}}, http.StatusBadRequest, "Choose the access to give"},
	} {
		tc.form.Set("action", "set")
		code, page := share(ann, "Projects", tc.form)
		if code != tc.code || !strings.Contains(page, tc.says) {
			t.Errorf("%v: %d, want %d saying %q\n%s", tc.form, code, tc.code, tc.says, section(page, "main"))
		}
		if tc.code == http.StatusBadRequest && tc.form.Get("who") == "kim@example.test" && !strings.Contains(page, `value="`+tc.form.Get("rights")+`"`) {
			t.Errorf("%v: the form does not keep what was typed", tc.form)
		}
	}
	if got := r.acl(projects); !slices.Equal(got, want) {
		t.Fatalf("refused changes changed the list: %v", got)
	}
	if code, _, _ := ann.post("/sharing", url.Values{"folder": {"Projects"}, "action": {"set"}, "who": {"lee@example.test"}, "access": {"full"}}); code != http.StatusForbidden {
		t.Errorf("a change without the CSRF token: %d", code)
	}

	// Kim (read and write, no "a") may neither see nor change the list.
	kim := r.browser()
	kim.login("kim@example.test")
	const kimName = "Other Users/ann@example.test/Projects"
	if code, _, page := kim.get("/sharing?folder=" + url.QueryEscape(kimName)); code != http.StatusForbidden || !strings.Contains(page, "Only people with full control of "+kimName) {
		t.Fatalf("sharing page without a: %d\n%s", code, page)
	}
	if code, _ := share(kim, kimName, url.Values{"action": {"set"}, "who": {"lee@example.test"}, "access": {"full"}}); code != http.StatusForbidden {
		t.Fatalf("a forged share without a: %d", code)
	}
	if _, _, page := kim.get(mailboxURL(kimName)); strings.Contains(page, "/sharing?folder") {
		t.Fatal("the folder page offers Sharing without the a right")
	}
	// With "a", kim shares ann's folder with lee, who is subscribed to
	// the same name.
	if code, _ = share(ann, "Projects", url.Values{"action": {"set"}, "who": {"kim@example.test"}, "access": {"full"}}); code != http.StatusSeeOther {
		t.Fatalf("give kim full control: %d", code)
	}
	if code, page = share(kim, kimName, url.Values{"action": {"set"}, "who": {"lee@example.test"}, "access": {"read"}}); code != http.StatusSeeOther || !strings.Contains(page, "ann@example.test</td><td>Owner") {
		t.Fatalf("kim shares ann's folder: %d\n%s", code, page)
	}
	if !r.subscribed(r.lee, kimName) {
		t.Fatal("lee was not subscribed")
	}

	if code, page = share(ann, "Projects", url.Values{"action": {"remove"}, "who": {"lee@example.test"}}); code != http.StatusSeeOther || !strings.Contains(page, "lee@example.test no longer has access to Projects") {
		t.Fatalf("remove lee: %d\n%s", code, page)
	}
	if got := r.acl(projects); len(got) != 2 || got[1].Identifier != "kim@example.test" {
		t.Fatalf("after removing lee: %v", got)
	}
}

// TestShareLimit: the 1001st entry of a list is refused by the store,
// and the page says so plainly.
func TestShareLimit(t *testing.T) {
	r := newShareRig(t)
	projects := r.createMailbox(r.acct, "Projects")
	ctx := context.Background()
	for i := range store.MaxACLEntries {
		d := "d" + strconv.Itoa(i) + ".test"
		r.AddDomain(d)
		r.setACL(projects, "@"+d, acl.Lookup)
	}
	ann := r.browser()
	ann.login("ann@example.test")
	code, page := ann.follow(ann.post("/sharing", url.Values{"csrf": {ann.csrf}, "folder": {"Projects"}, "action": {"set"}, "who": {"kim@example.test"}, "access": {"read"}}))
	if code != http.StatusBadRequest || !strings.Contains(page, `Not saved: mailbox "Projects" already has 1000 access control entries, the most there can be.`) {
		t.Fatalf("the 1001st entry: %d\n%s", code, section(page, "main"))
	}
	if got, err := r.Store.MailboxACL(ctx, projects.ID); err != nil || len(got) != store.MaxACLEntries {
		t.Fatalf("%d entries, %v", len(got), err)
	}
}

// TestLeaveSharedFolder: a user leaves a folder shared with them by
// name; one shared only with their domain they cannot leave, and are
// told so and offered to hide it; leaving what is also shared with their
// domain keeps it, hidden.
func TestLeaveSharedFolder(t *testing.T) {
	r := newShareRig(t)
	team := r.createMailbox(r.kim, "Team")
	bills := r.createMailbox(r.kim, "Bills")
	notes := r.createMailbox(r.kim, "Notes")
	r.setACL(team, "ann@example.test", acl.ReadWrite)
	r.setACL(team, "lee@example.test", acl.ReadOnly)
	r.setACL(bills, "@example.test", acl.ReadOnly)
	r.setACL(notes, "ann@example.test", acl.ReadOnly)
	r.setACL(notes, acl.Authenticated, acl.Lookup)
	ann := r.browser()
	ann.login("ann@example.test")
	for _, n := range []string{"Team", "Bills", "Notes"} {
		ann.post("/shared", url.Values{"csrf": {ann.csrf}, "folder": {"Other Users/kim@example.test/" + n}, "action": {"show"}})
	}
	_, _, page := ann.get("/shared")
	if !strings.Contains(page, "as everyone at example.test") || !strings.Contains(page, "shared with a group: hide it instead") {
		t.Fatalf("the page does not say Bills comes from the domain:\n%s", page)
	}

	leave := func(name string) (int, string) {
		return ann.follow(ann.post("/shared", url.Values{"csrf": {ann.csrf}, "folder": {name}, "action": {"leave"}}))
	}
	if code, page := leave("Other Users/kim@example.test/Team"); code != http.StatusSeeOther || !strings.Contains(page, "You left Other Users/kim@example.test/Team: it is no longer shared with you.") {
		t.Fatalf("leave Team: %d\n%s", code, page)
	}
	if got := r.acl(team); len(got) != 1 || got[0].Identifier != "lee@example.test" {
		t.Fatalf("Team's list after ann left: %v", got)
	}
	if r.subscribed(r.acct, "Other Users/kim@example.test/Team") {
		t.Fatal("still subscribed to a folder left")
	}
	code, page := leave("Other Users/kim@example.test/Bills")
	if code != http.StatusConflict || !strings.Contains(page, "Other Users/kim@example.test/Bills is shared with everyone at example.test, not with you by name, so you cannot leave it. You can hide it instead") {
		t.Fatalf("leave Bills: %d\n%s", code, section(page, "main"))
	}
	if !strings.Contains(page, `<tr data-folder="Other Users/kim@example.test/Bills">`) || !strings.Contains(page, `value="hide"`) {
		t.Fatal("the refusal does not offer hiding")
	}
	if code, page = ann.follow(ann.post("/shared", url.Values{"csrf": {ann.csrf}, "folder": {"Other Users/kim@example.test/Bills"}, "action": {"hide"}})); code != http.StatusSeeOther || !strings.Contains(page, "is hidden from your folder list") {
		t.Fatalf("hide Bills: %d", code)
	}
	if r.subscribed(r.acct, "Other Users/kim@example.test/Bills") {
		t.Fatal("Bills still subscribed after hiding")
	}
	_, _, page = ann.get("/mail/INBOX")
	if strings.Contains(page, "kim@example.test/Bills") || !strings.Contains(page, "hidden · Manage folders shared with me") {
		t.Fatalf("a hidden folder is in the folder list:\n%s", section(page, "h-sharedwithme"))
	}
	if code, page = leave("Other Users/kim@example.test/Notes"); code != http.StatusSeeOther || !strings.Contains(page, "You left Other Users/kim@example.test/Notes, but you still have access to it as everyone with an account here") {
		t.Fatalf("leave Notes: %d\n%s", code, page)
	}
	if got := r.acl(notes); len(got) != 1 || got[0].Identifier != acl.Authenticated {
		t.Fatalf("Notes' list after ann left: %v", got)
	}
	if code, _, _ := ann.post("/shared", url.Values{"csrf": {ann.csrf}, "folder": {"INBOX"}, "action": {"leave"}}); code != http.StatusBadRequest {
		t.Fatalf("leaving one's own INBOX: %d", code)
	}
}

// TestFolderErrors: creating, renaming and deleting folders go through
// the user's rights and say plainly what went wrong; with the "k" right
// a subfolder of a shared folder is made in its owner's account.
func TestFolderErrors(t *testing.T) {
	r := newShareRig(t)
	team := r.createMailbox(r.kim, "Team")
	r.setACL(team, "ann@example.test", acl.ReadOnly|acl.Create)
	ann := r.browser()
	ann.login("ann@example.test")
	// says is the page's sentence; the store's reason after it (its
	// words differ between backends) must contain also.
	for _, tc := range []struct {
		path       string
		form       url.Values
		code       int
		says, also string
	}{
		{"/folders/create", url.Values{"name": {"Archive"}}, http.StatusBadRequest, "Could not create Archive: ", "already exists."},
		{"/folders/create", url.Values{"name": {" "}}, http.StatusBadRequest, "Give the new folder a name.", ""},
		{"/folders/create", url.Values{"name": {"Other Users/kim@example.test/Elsewhere"}}, http.StatusForbidden, "only the owner makes new folders at the top of their account", ""},
		{"/folders/rename", url.Values{"from": {"Archive"}, "to": {"Junk"}}, http.StatusBadRequest, "Could not rename Archive: ", "already exists."},
		{"/folders/rename", url.Values{"from": {"Other Users/kim@example.test/Team"}, "to": {"Other Users/kim@example.test/Crew"}}, http.StatusForbidden,
			"You may not rename Other Users/kim@example.test/Team: kim@example.test gave you custom (lrsk) access.", ""},
		{"/folders/delete", url.Values{"name": {"Nothing"}}, http.StatusNotFound, "Could not delete Nothing: it is gone", ""},
	} {
		tc.form.Set("csrf", ann.csrf)
		code, _, page := ann.post(tc.path, tc.form)
		page = html.UnescapeString(page)
		if code != tc.code || !strings.Contains(page, tc.says) || !strings.Contains(page, tc.also) {
			t.Errorf("%s %v: %d, want %d saying %q … %q\n%s", tc.path, tc.form, code, tc.code, tc.says, tc.also, section(page, "main"))
		}
	}
	code, h, _ := ann.post("/folders/create", url.Values{"csrf": {ann.csrf}, "parent": {"Other Users/kim@example.test/Team"}, "name": {"2026"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), mailboxURL("Other Users/kim@example.test/Team/2026")) {
		t.Fatalf("a subfolder with k: %d %s", code, h.Get("Location"))
	}
	if !r.subscribed(r.acct, "Other Users/kim@example.test/Team/2026") {
		t.Fatal("the new subfolder of a shared folder is not in ann's folder list")
	}
	sub := r.Mailbox(r.kim, "Team/2026")
	if got := r.acl(sub); len(got) != 1 || got[0].Identifier != "ann@example.test" {
		t.Fatalf("the subfolder did not inherit Team's list: %v", got)
	}
	// With "x" on it, ann renames it; it stays in her list.
	r.setACL(sub, "ann@example.test", acl.ReadOnly|acl.Create|acl.DeleteMailbox)
	code, _, _ = ann.post("/folders/rename", url.Values{"csrf": {ann.csrf}, "from": {"Other Users/kim@example.test/Team/2026"}, "to": {"Other Users/kim@example.test/Team/2027"}})
	if code != http.StatusSeeOther || !r.subscribed(r.acct, "Other Users/kim@example.test/Team/2027") || r.subscribed(r.acct, "Other Users/kim@example.test/Team/2026") {
		t.Fatalf("rename a shared folder: %d; subscriptions not moved", code)
	}
	r.Mailbox(r.kim, "Team/2027")
}
