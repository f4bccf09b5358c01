package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/sieverules"
	"mailroom/internal/testrig/chromium"
)

// TestBrowserFilters: in Chromium, add two rules with the form, move the
// second above the first, switch one off, make a third from a message;
// then, in the script editor, a script with an error is shown with the
// error next to its line.
func TestBrowserFilters(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)
	names := func() []string {
		return chromium.Eval[[]string](b, `Array.from(document.querySelectorAll("tr.rule .rulename")).map(td => td.textContent.trim())`)
	}
	addRule := func(name, field, op, value, kind, folder string) {
		b.Open(chromedp.Navigate(r.base + "/settings/filters"))
		b.Open(chromedp.Click(chromedp.CSS(`a[href="/settings/filters/rule"]`)))
		b.Do(
			chromedp.SendKeys(chromium.ByLabel("Name"), name),
			chromedp.SetValue(chromium.ByLabel("Condition 1"), field),
			chromedp.SetValue(chromium.ByLabel("Comparison 1"), op),
			chromedp.SendKeys(chromium.ByLabel("Value 1"), value),
			chromedp.SetValue(chromium.ByLabel("Action 1"), kind),
		)
		if folder != "" {
			b.Do(chromedp.SetValue(chromium.ByLabel("Folder 1"), folder))
		}
		b.Open(chromedp.Click(chromedp.CSS(`.ruleform button[type="submit"]`)))
		b.Do(chromedp.WaitVisible(chromedp.CSS(`.flash`)))
		if flash := chromium.Run(b, chromedp.Text(chromedp.CSS(`.flash`))); flash != "Rule added." {
			t.Fatalf("after adding %s: %q", name, flash)
		}
	}
	addRule("From Bob", "from", "is", "bob@example.org", "move", "Archive")
	addRule("Big mail", "size", "over", "5M", "flag", "")
	if got := names(); strings.Join(got, "|") != "From Bob|Big mail" {
		t.Fatalf("rules listed: %q", got)
	}

	b.Open(chromedp.Click(chromedp.CSS(`tr[data-rule="1"] button[value="up"]`)))
	if got := names(); strings.Join(got, "|") != "Big mail|From Bob" {
		t.Fatalf("after moving Big mail up: %q", got)
	}
	b.Open(chromedp.Click(chromedp.CSS(`tr[data-rule="1"] button[value="toggle"]`)))
	if class := chromium.Eval[string](b, `document.querySelector('tr[data-rule="1"]').className`); !strings.Contains(class, "disabled") {
		t.Fatalf("the switched-off rule's row has class %q", class)
	}
	m, err := sieverules.Load(ctx, r.Store, r.acct.ID)
	if err != nil || !m.IsActive() || len(m.Rules.Rules) != 2 || m.Rules.Rules[0].Name != "Big mail" || m.Rules.Rules[0].Disabled || !m.Rules.Rules[1].Disabled {
		t.Fatalf("stored rules: %+v, %v", m, err)
	}
	if !strings.Contains(m.Text, "# Rule 2: From Bob (disabled)\nif allof (false, address :all :is \"from\" \"bob@example.org\") {\n    fileinto \"Archive\";\n}\n") {
		t.Fatalf("script:\n%s", m.Text)
	}

	// A rule from a message: its sender and subject are filled in.
	d := r.Deliver(r.acct, sample)
	b.Open(chromedp.Navigate(r.base + "/msg/" + itoa64(d.MailboxID) + "/" + itoa64(int64(d.UID))))
	b.Open(chromedp.Click(chromedp.CSS(`a[href^="/settings/filters/rule?msg="]`)))
	if v := chromium.Eval[string](b, `document.getElementById("c0v").value`); v != "bob@example.org" {
		t.Fatalf("the first condition's value is %q", v)
	}
	if v := chromium.Eval[string](b, `document.getElementById("c1v").value`); v != "Lunch on Friday" {
		t.Fatalf("the second condition's value is %q", v)
	}
	b.Do(chromedp.SetValue(chromium.ByLabel("Folder 1"), "Archive"))
	b.Open(chromedp.Click(chromedp.CSS(`.ruleform button[type="submit"]`)))
	if got := names(); len(got) != 3 || got[2] != "Mail from bob@example.org" {
		t.Fatalf("after the rule from a message: %q", got)
	}
	// The rule takes effect on the next delivery.
	before := len(r.Messages(r.acct, "Archive"))
	r.DeliverTo("ann@example.test", sample)
	if n := len(r.Messages(r.acct, "Archive")); n != before+1 {
		t.Fatalf("after a delivery from bob, Archive has %d messages, want %d: the new rule did not file it", n, before+1)
	}

	// Each row shows the fields its choice uses.
	b.Open(chromedp.Navigate(r.base + "/settings/filters/rule"))
	visible := func(id string) bool {
		return chromium.Eval[bool](b, `document.getElementById("`+id+`").offsetParent !== null`)
	}
	if visible("a0f") || visible("a0a") || visible("c0h") || !visible("c0v") {
		t.Fatalf("a new rule shows folder %v, address %v, header name %v, value %v", visible("a0f"), visible("a0a"), visible("c0h"), visible("c0v"))
	}
	choose := func(id, value string) {
		chromium.Eval[bool](b, `(s => { s.value = "`+value+`"; s.dispatchEvent(new Event("change")); return true })(document.getElementById("`+id+`"))`)
	}
	choose("a0k", "move")
	choose("c0f", "header")
	if !visible("a0f") || visible("a0a") || !visible("c0h") {
		t.Fatalf("after choosing move and header: folder %v, address %v, header name %v", visible("a0f"), visible("a0a"), visible("c0h"))
	}
	choose("a0k", "forward")
	choose("c0f", "attachment")
	if visible("a0f") || !visible("a0a") || visible("c0v") {
		t.Fatalf("after choosing forward and attachment: folder %v, address %v, value %v", visible("a0f"), visible("a0a"), visible("c0v"))
	}

	// The script editor: the error is shown at its line.
	b.Open(chromedp.Navigate(r.base + "/settings/scripts?new=1"))
	b.Do(
		chromedp.SendKeys(chromium.ByLabel("Name"), "mine"),
		chromedp.SetValue(chromium.ByLabel("Script"), "require \"fileinto\";\n\nif header :contains \"subject\" \"x\" {\n  fileinto \"a\"\n}\n"),
	)
	// Answered 400 with the page: Do, not Open, which wants 200.
	b.Do(chromedp.Click(chromedp.CSS(`button[value="save"]`)), chromedp.WaitVisible(chromedp.CSS(`.scriptlines li.bad`)))
	if n := chromium.Eval[int](b, `document.querySelector(".scriptlines li.bad").value`); n != 4 {
		t.Fatalf("the error is shown at line %d, want 4", n)
	}
	if msg := chromium.Run(b, chromedp.Text(chromedp.CSS(`.scriptlines li.bad .errmsg`))); !strings.Contains(msg, "line 4") {
		t.Fatalf("error message %q", msg)
	}
	// What was typed is still in the editor, to be corrected.
	if v := chromium.Eval[string](b, `document.getElementById("scontent").value`); !strings.Contains(v, `fileinto "a"`) {
		t.Fatalf("editor content after the error: %q", v)
	}
	if list, _ := r.Store.SieveScripts(ctx, r.acct.ID); len(list) != 1 {
		t.Fatalf("scripts after a refused save: %+v", list)
	}
}
