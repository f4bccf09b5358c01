package webapp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// typeIn types into the focused rich-text editor, as a person does.
func typeIn(b *chromium.Tab, sel, text string) {
	b.T.Helper()
	b.Do(chromedp.Click(chromedp.CSS(sel)), chromedp.KeyEvent(text))
}

// write opens a new message (the c key) and fills To and Subject.
func write(b *chromium.Tab, to, subject string) {
	b.T.Helper()
	key(b, "c")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	b.Do(chromedp.SendKeys(chromedp.CSS(`#compose-to`), to), chromedp.SendKeys(chromedp.CSS(`#compose-subject`), subject))
}

func clickButton(b *chromium.Tab, scope, text string) {
	b.T.Helper()
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(` + "`" + scope + " button`" + `)).find(x => x.textContent.trim() === ` + "`" + text + "`" + `)`)))
}

// TestAppComposeRichText: a message written with bold text and a list is
// sent as HTML with a plain-text alternative, reaches a local account,
// and leaves a copy in Sent and nothing in Drafts.
func TestAppComposeRichText(t *testing.T) {
	r := start(t)
	r.Account("bob@example.test")
	b := r.tab(t)
	write(b, "bob@example.test", "Rich news")
	typeIn(b, ".compose .editor", "Hello ")
	clickButton(b, ".formatbar", "B")
	b.Do(chromedp.KeyEvent("world"))
	clickButton(b, ".compose .actions", "Send")
	eventually(t, "the message in bob's INBOX", func() bool { return len(r.Bodies("bob@example.test", "INBOX")) == 1 })
	raw := r.Bodies("bob@example.test", "INBOX")[0]
	for _, want := range []string{"multipart/alternative", "text/plain", "text/html", "<b>world</b>", "Hello world", "Subject: Rich news"} {
		if !strings.Contains(raw, want) {
			t.Errorf("the message sent lacks %q:\n%s", want, raw)
		}
	}
	eventually(t, "a copy in Sent and none in Drafts", func() bool {
		return len(r.Messages(r.acct, "Sent")) == 1 && len(r.Messages(r.acct, "Drafts")) == 0
	})
}

// TestAppDraftAutosave: what is typed is saved to Drafts within seconds,
// survives a forced reload, and opens again to be written on; leaving
// before it is saved asks first.
func TestAppDraftAutosave(t *testing.T) {
	r := start(t)
	b := r.tab(t)
	write(b, "carol@example.org", "Half-written")
	typeIn(b, ".compose .editor", "The first paragraph, typed before the reload.")
	eventually(t, "the draft saved", func() bool {
		return strings.HasPrefix(chromium.Eval[string](b, `document.querySelector(".composebar .status").textContent`), "Draft saved")
	})
	if n := len(r.Messages(r.acct, "Drafts")); n != 1 {
		t.Fatalf("%d messages in Drafts, want 1", n)
	}
	b.Do(chromedp.Reload())
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.shell .folders li.current`)))
	b.Do(chromedp.Click(chromedp.CSS(`.folders a[data-role="drafts"]`)))
	waitRows(t, b, 1)
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Half-written") + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	eventually(t, "the draft's text back in the editor", func() bool {
		return strings.Contains(chromium.Eval[string](b, `document.querySelector(".compose .editor").textContent`), "typed before the reload")
	})
	if to := chromium.Eval[string](b, `document.querySelector("#compose-to").value`); to != "carol@example.org" {
		t.Fatalf("the draft's To: %q", to)
	}
	// Edited again: the new version replaces the old one in Drafts.
	typeIn(b, ".compose .editor", " More.")
	eventually(t, "the draft saved again", func() bool {
		ms := r.Read("ann@example.test", "Drafts")
		return len(ms) == 1 && strings.Contains(ms[0].Raw, "More.")
	})

	// A change not yet saved: leaving asks.
	asked := make(chan string, 1)
	dialogs := chromedp.Events(b.Ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			select {
			case asked <- string(ev.Type):
			default:
			}
			chromedp.Call(b.Ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	typeIn(b, ".compose .editor", " Unsaved words.")
	go chromedp.Do(b.Ctx, chromedp.Navigate(r.base+"/settings"))
	select {
	case typ := <-asked:
		if typ != "beforeunload" {
			t.Fatalf("dialog %q, want beforeunload", typ)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leaving with unsaved text did not ask")
	}
}

// TestAppReplyInline: Reply in a conversation writes to the sender, with
// "Re:", the quote and the In-Reply-To that threads it.
func TestAppReplyInline(t *testing.T) {
	r := start(t)
	r.Account("bob@example.test")
	r.Deliver(r.acct, "From: Bob <bob@example.test>\r\nTo: ann@example.test\r\nSubject: Dinner\r\nMessage-ID: <dinner@example.test>\r\n\r\nAre you free on Friday?\r\n")
	b := r.tab(t)
	waitRows(t, b, 1)
	key(b, "o")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message`)))
	key(b, "r")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	eventually(t, "the quote in the reply", func() bool {
		return strings.Contains(chromium.Eval[string](b, `document.querySelector(".compose .editor").textContent`), "Are you free on Friday?")
	})
	if to := chromium.Eval[string](b, `document.querySelector("#compose-to").value`); to != "Bob <bob@example.test>" {
		t.Fatalf("reply To: %q", to)
	}
	if s := chromium.Eval[string](b, `document.querySelector("#compose-subject").value`); s != "Re: Dinner" {
		t.Fatalf("reply subject %q", s)
	}
	b.Do(chromedp.Click(chromedp.CSS(`.compose .editor`)), chromedp.KeyEvent("Yes!"))
	clickButton(b, ".compose .actions", "Send")
	eventually(t, "the reply in bob's INBOX", func() bool { return len(r.Bodies("bob@example.test", "INBOX")) == 1 })
	raw := r.Bodies("bob@example.test", "INBOX")[0]
	for _, want := range []string{"In-Reply-To: <dinner@example.test>", "> Are you free on Friday?", "Yes!"} {
		if !strings.Contains(raw, want) {
			t.Errorf("the reply lacks %q:\n%s", want, raw)
		}
	}
}

// TestAppAttachByDrop: a file dropped on the compose pane uploads (with a
// progress bar while it does) and goes with the message.
func TestAppAttachByDrop(t *testing.T) {
	r := start(t)
	r.Account("bob@example.test")
	b := r.tab(t)
	write(b, "bob@example.test", "The notes")
	chromium.Eval[bool](b, `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(["line one\nline two\n".repeat(20000)], "notes.txt", {type: "text/plain"}));
		const pane = document.querySelector(".compose");
		pane.dispatchEvent(new DragEvent("dragover", {bubbles: true, cancelable: true, dataTransfer: dt}));
		pane.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: dt}));
		return true;
	})()`)
	eventually(t, "notes.txt listed, uploaded", func() bool {
		return chromium.Eval[bool](b, `Array.from(document.querySelectorAll(".attach li")).some(li => li.textContent.includes("notes.txt") && !li.querySelector("progress"))`)
	})
	clickButton(b, ".compose .actions", "Send")
	eventually(t, "the message in bob's INBOX", func() bool { return len(r.Bodies("bob@example.test", "INBOX")) == 1 })
	raw := r.Bodies("bob@example.test", "INBOX")[0]
	if !strings.Contains(raw, `filename=notes.txt`) && !strings.Contains(raw, `filename="notes.txt"`) {
		t.Fatalf("no notes.txt attached:\n%.2000s", raw)
	}
}

// TestAppUndoSend: Send holds the message for a few seconds; Undo in that
// time stops it (nothing is ever delivered) and reopens it as a draft;
// sent again and left alone, it is delivered once the time is over.
func TestAppUndoSend(t *testing.T) {
	r := start(t)
	r.Account("bob@example.test")
	b := r.tab(t)
	write(b, "bob@example.test", "Second thoughts")
	typeIn(b, ".compose .editor", "Maybe not.")
	clickButton(b, ".compose .actions", "Send")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.toast button.link`)))
	if got := chromium.Eval[string](b, `document.querySelector(".toast span").textContent`); got != "Sending…" {
		t.Fatalf("toast %q", got)
	}
	b.Do(chromedp.Click(chromedp.CSS(`.toast button.link`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	eventually(t, "the draft back in the editor", func() bool {
		return strings.Contains(chromium.Eval[string](b, `document.querySelector(".compose .editor").textContent`), "Maybe not.")
	})
	if n := len(r.Messages(r.acct, "Drafts")); n != 1 {
		t.Fatalf("%d in Drafts after Undo, want 1", n)
	}
	time.Sleep(12 * time.Second) // past the hold: nothing went
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 0 {
		t.Fatalf("undone, yet bob got %d messages", n)
	}

	// Sent again and left alone.
	clickButton(b, ".compose .actions", "Send")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.toast button.link`)))
	if n := len(r.Bodies("bob@example.test", "INBOX")); n != 0 {
		t.Fatal("delivered before the undo time was over")
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(r.Bodies("bob@example.test", "INBOX")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("never delivered after the undo time")
		}
		time.Sleep(100 * time.Millisecond)
	}
	eventually(t, "the copy in Sent, none in Drafts", func() bool {
		return len(r.Messages(r.acct, "Sent")) == 1 && len(r.Messages(r.acct, "Drafts")) == 0
	})
}

// TestAppAddressSuggestions: people who wrote are suggested as an address
// is typed; arrows and Enter take one.
func TestAppAddressSuggestions(t *testing.T) {
	r := start(t)
	r.DeliverTo("ann@example.test", "From: Priya Natarajan <priya@example.org>\r\nTo: ann@example.test\r\nSubject: Hello\r\nMessage-ID: <p1@example.org>\r\n\r\nHi!\r\n")
	r.DeliverTo("ann@example.test", "From: Pedro Alves <pedro@example.org>\r\nTo: ann@example.test\r\nSubject: Hi\r\nMessage-ID: <p2@example.org>\r\n\r\nHi!\r\n")
	b := r.tab(t)
	key(b, "c")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	b.Do(chromedp.SendKeys(chromedp.CSS(`#compose-to`), "pri"))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.suggestions [role=option]`)))
	if got := chromium.Eval[string](b, `Array.from(document.querySelectorAll(".suggestions [role=option]")).map(o => o.textContent).join("|")`); got != "Priya Natarajan priya@example.org" {
		t.Fatalf("suggestions for pri: %q", got)
	}
	b.Do(chromedp.KeyEvent("\r"))
	if v := chromium.Eval[string](b, `document.querySelector("#compose-to").value`); v != "Priya Natarajan <priya@example.org>, " {
		t.Fatalf("To after choosing: %q", v)
	}
	b.Do(chromedp.SendKeys(chromedp.CSS(`#compose-to`), "p"))
	eventually(t, "two suggestions for p", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".suggestions [role=option]").length`) == 2
	})
}
