package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mailroom/internal/sieverules"
)

// ruleForm is the rule form as a browser posts it: one condition and
// one action row filled, the spare rows empty.
func ruleForm(csrf, name, field, op, value, kind, folder string) url.Values {
	return url.Values{"csrf": {csrf}, "rule": {"-1"}, "name": {name}, "enabled": {"on"}, "match": {"all"},
		"c0.field": {field}, "c0.op": {op}, "c0.value": {value}, "c1.field": {""}, "c1.op": {"contains"},
		"a0.kind": {kind}, "a0.folder": {folder}, "a1.kind": {""}}
}

func TestFilterRules(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	b := r.browser()
	b.login("ann@example.test")
	model := func() sieverules.Managed {
		t.Helper()
		m, err := sieverules.Load(ctx, r.Store, r.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if code, _, body := b.get("/settings/filters"); code != 200 || !strings.Contains(body, "You have no rules yet") {
		t.Fatalf("filters page: %d", code)
	}
	// CSRF: a forged form changes nothing.
	if code, _, _ := b.post("/settings/filters/rule", ruleForm("forged", "x", "from", "is", "bob@example.org", "move", "Archive")); code != http.StatusForbidden {
		t.Fatalf("forged rule form: %d", code)
	}
	for _, f := range []url.Values{
		ruleForm(b.csrf, "Bob", "from", "is", "bob@example.org", "move", "Archive"),
		ruleForm(b.csrf, "Big", "size", "over", "5M", "flag", ""),
	} {
		if code, h, body := b.post("/settings/filters/rule", f); code != http.StatusSeeOther {
			t.Fatalf("add rule: %d %s\n%s", code, h.Get("Location"), body)
		}
	}
	m := model()
	if !m.IsActive() || len(m.Rules.Rules) != 2 || m.Rules.Rules[0].Name != "Bob" || m.Rules.Rules[1].Conditions[0].Value != "5M" {
		t.Fatalf("after adding two rules: %+v", m)
	}
	// A rule that does not make sense is refused, with the form kept.
	bad := ruleForm(b.csrf, "Bad", "size", "over", "lots", "move", "Archive")
	if code, _, body := b.post("/settings/filters/rule", bad); code != http.StatusBadRequest || !strings.Contains(body, "not a size") || !strings.Contains(body, `value="lots"`) {
		t.Fatalf("bad rule: %d\n%s", code, body)
	}
	// Down, off, deleted.
	for _, step := range []url.Values{{"action": {"down"}, "rule": {"0"}}, {"action": {"toggle"}, "rule": {"0"}}} {
		step.Set("csrf", b.csrf)
		if code, _, body := b.post("/settings/filters", step); code != http.StatusSeeOther {
			t.Fatalf("%v: %d\n%s", step, code, body)
		}
	}
	if m := model(); m.Rules.Rules[0].Name != "Big" || !m.Rules.Rules[0].Disabled || m.Rules.Rules[1].Disabled {
		t.Fatalf("after down and off: %+v", m.Rules.Rules)
	}
	if code, _, _ := b.post("/settings/filters", url.Values{"csrf": {b.csrf}, "action": {"up"}, "rule": {"0"}}); code != http.StatusBadRequest {
		t.Fatalf("moving the first rule up: %d", code)
	}
	// Edited in place.
	edit := ruleForm(b.csrf, "Bob", "from", "contains", "bob@", "copy", "Archive")
	edit.Set("rule", "1")
	if code, _, _ := b.post("/settings/filters/rule", edit); code != http.StatusSeeOther {
		t.Fatalf("edit: %d", code)
	}
	if m := model(); len(m.Rules.Rules) != 2 || m.Rules.Rules[1].Actions[0].Kind != "copy" || m.Rules.Rules[1].Conditions[0].Op != "contains" {
		t.Fatalf("after edit: %+v", m.Rules.Rules)
	}
	if code, _, body := b.get("/settings/filters/rule?rule=1"); code != 200 || !strings.Contains(body, `value="bob@"`) {
		t.Fatalf("edit form: %d", code)
	}
	if code, _, _ := b.post("/settings/filters", url.Values{"csrf": {b.csrf}, "action": {"delete"}, "rule": {"0"}}); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if m := model(); len(m.Rules.Rules) != 1 || m.Rules.Rules[0].Name != "Bob" {
		t.Fatalf("after delete: %+v", m.Rules.Rules)
	}

	// A script uploaded by a mail program becomes active: the page says
	// the rules do nothing, and switches back on request.
	if err := r.Store.PutSieveScript(ctx, r.acct.ID, "phone", "keep;\n"); err != nil {
		t.Fatal(err)
	}
	if err := r.Store.SetActiveSieveScript(ctx, r.acct.ID, "phone"); err != nil {
		t.Fatal(err)
	}
	if _, _, body := b.get("/settings/filters"); !strings.Contains(body, "Your mail is filtered by another script") || !strings.Contains(body, "“phone”") {
		t.Fatal("the filters page does not say another script is active")
	}
	if _, _, body := b.get("/settings"); !strings.Contains(body, "does nothing until you switch") {
		t.Fatal("the settings page does not say forwarding and vacation do nothing")
	}
	if code, _, _ := b.post("/settings/filters", url.Values{"csrf": {b.csrf}, "action": {"activate"}}); code != http.StatusSeeOther || !model().IsActive() {
		t.Fatalf("switch to the rules: %d", code)
	}

	// Edited by hand: shown as text only, and the forms refuse to
	// overwrite it.
	if err := r.Store.PutSieveScript(ctx, r.acct.ID, sieverules.ScriptName, m.Text+"discard;\n"); err != nil {
		t.Fatal(err)
	}
	if _, _, body := b.get("/settings/filters"); !strings.Contains(body, "changed by hand") || strings.Contains(body, "Add a rule") {
		t.Fatal("a hand-edited script is shown as rules")
	}
	if code, _, body := b.post("/settings/forwarding", url.Values{"csrf": {b.csrf}, "forward.to": {"x@elsewhere.example"}}); code != http.StatusBadRequest || !strings.Contains(body, "edited by hand") {
		t.Fatalf("forwarding into a hand-edited script: %d", code)
	}
	if sc, _ := r.Store.SieveScript(ctx, r.acct.ID, sieverules.ScriptName); !strings.HasSuffix(sc.Content, "discard;\n") {
		t.Fatal("the hand-edited script was overwritten")
	}
	if code, _, _ := b.post("/settings/filters", url.Values{"csrf": {b.csrf}, "action": {"reset"}}); code != http.StatusSeeOther {
		t.Fatalf("reset: %d", code)
	}
	if m := model(); m.Edited || len(m.Rules.Rules) != 0 {
		t.Fatalf("after reset: %+v", m)
	}
}

// TestScriptEditor: scripts are listed, created, checked (the error
// shown at its line), activated, deactivated and deleted.
func TestScriptEditor(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	b := r.browser()
	b.login("ann@example.test")
	save := func(name, content string, isNew bool) (int, string) {
		f := url.Values{"csrf": {b.csrf}, "action": {"save"}, "name": {name}, "content": {content}}
		if isNew {
			f.Set("new", "1")
		}
		code, _, body := b.post("/settings/scripts", f)
		return code, body
	}
	if code, body := save("mine", "require \"fileinto\";\r\n\r\nif header :contains \"subject\" \"x\" {\r\n  fileinto \"a\"\r\n}\r\n", true); code != http.StatusBadRequest ||
		!strings.Contains(body, `<li value="4" class="bad"><code>  fileinto &#34;a&#34;</code> <strong class="errmsg">← line 4:`) {
		t.Fatalf("script with an error: %d\n%s", code, body)
	}
	if list, _ := r.Store.SieveScripts(ctx, r.acct.ID); len(list) != 0 {
		t.Fatalf("a script with an error was stored: %+v", list)
	}
	if code, _ := save("mine", "require \"fileinto\";\r\nfileinto \"a\";\r\n", true); code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	if code, body := save("mine", "keep;\n", true); code != http.StatusBadRequest || !strings.Contains(body, "already have a script") {
		t.Fatalf("a second new script of the same name: %d", code)
	}
	sc, err := r.Store.SieveScript(ctx, r.acct.ID, "mine")
	if err != nil || sc.Content != "require \"fileinto\";\nfileinto \"a\";\n" {
		t.Fatalf("stored %q, %v", sc.Content, err)
	}
	if _, _, body := b.get("/settings/scripts?name=mine"); !strings.Contains(body, "fileinto &#34;a&#34;;") {
		t.Fatal("the editor does not show the script")
	}
	for _, step := range []struct{ action, want string }{{"activate", "mine"}, {"deactivate", ""}} {
		if code, _, _ := b.post("/settings/scripts", url.Values{"csrf": {b.csrf}, "action": {step.action}, "name": {"mine"}}); code != http.StatusSeeOther {
			t.Fatalf("%s: %d", step.action, code)
		}
		if m, _ := sieverules.Load(ctx, r.Store, r.acct.ID); m.Active != step.want {
			t.Fatalf("after %s the active script is %q", step.action, m.Active)
		}
	}
	r.Store.SetActiveSieveScript(ctx, r.acct.ID, "mine")
	if code, _, body := b.post("/settings/scripts", url.Values{"csrf": {b.csrf}, "action": {"delete"}, "name": {"mine"}}); code != http.StatusBadRequest || !strings.Contains(body, "deactivate it first") {
		t.Fatalf("deleting the active script: %d", code)
	}
	r.Store.SetActiveSieveScript(ctx, r.acct.ID, "")
	if code, _, _ := b.post("/settings/scripts", url.Values{"csrf": {b.csrf}, "action": {"delete"}, "name": {"mine"}}); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	// Another account's scripts are not reachable by name.
	bob := r.Account("bob@example.test")
	r.Store.PutSieveScript(ctx, bob.ID, "secret", "keep;\n")
	if code, _, _ := b.get("/settings/scripts?name=secret"); code != http.StatusNotFound {
		t.Fatalf("another account's script: %d", code)
	}
}

// TestRuleFromMessage: the rule form starts from a message's list, or
// else its sender, and its subject.
func TestRuleFromMessage(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.login("ann@example.test")
	plain := r.Deliver(r.acct, sample)
	list := r.Deliver(r.acct, "From: Dev <dev-bounces@lists.example.org>\r\nTo: dev@lists.example.org\r\nList-Id: Developers <dev.lists.example.org>\r\nSubject: [dev] Release\r\n\r\nHi\r\n")
	_, _, body := b.get("/settings/filters/rule?msg=" + itoa64(plain.MailboxID) + "/" + itoa64(int64(plain.UID)))
	for _, want := range []string{`value="Mail from bob@example.org"`, `value="bob@example.org"`, `value="Lunch on Friday"`} {
		if !strings.Contains(body, want) {
			t.Errorf("rule from a message lacks %s", want)
		}
	}
	_, _, body = b.get("/settings/filters/rule?msg=" + itoa64(list.MailboxID) + "/" + itoa64(int64(list.UID)))
	for _, want := range []string{`value="List-Id"`, `value="dev.lists.example.org"`, `value="[dev] Release"`} {
		if !strings.Contains(body, want) {
			t.Errorf("rule from a list message lacks %s", want)
		}
	}
	if code, _, _ := b.get("/settings/filters/rule?msg=999/1"); code != http.StatusNotFound {
		t.Fatalf("rule from a message that is not there: %d", code)
	}
	if _, _, body := b.get("/msg/" + itoa64(plain.MailboxID) + "/" + itoa64(int64(plain.UID))); !strings.Contains(body, "Create a rule from this message") {
		t.Fatal("the message page has no link to make a rule")
	}
}
