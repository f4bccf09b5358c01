package webapp_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// png1x1 is a one-pixel PNG.
const png1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

// newsletter is HTML mail with an inline image (cid:), an attached
// picture, and an attached PDF.
func newsletter() string {
	return "From: News <news@example.org>\r\nTo: ann@example.test\r\nSubject: The monthly letter\r\nMessage-ID: <letter@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n" +
		"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<html><head><style>h1.title { color: rgb(200, 0, 0); }</style></head><body><h1 class="title">Big news</h1><p>Logo: <img src="cid:logo@x" alt="logo"></p></body></html>` + "\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + png1x1 + "\r\n" +
		"--rel--\r\n" +
		"--outer\r\nContent-Type: image/png; name=photo.png\r\nContent-Disposition: attachment; filename=photo.png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + png1x1 + "\r\n" +
		"--outer\r\nContent-Type: application/pdf; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")) + "\r\n" +
		"--outer--\r\n"
}

// TestAppReadingHTMLMail: a newsletter keeps its own styles in a frame
// sized to it; its inline logo shows in the text and is not listed again
// as an attachment; the attached picture previews in the page, and
// "download all" is offered as a zip.
func TestAppReadingHTMLMail(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, newsletter())
	b := r.tab(t)
	waitRows(t, b, 1)
	key(b, "o")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message iframe.mailframe`)))
	frameDoc := `document.querySelector(".reader iframe.mailframe").contentDocument`
	eventually(t, "the newsletter's heading styled red", func() bool {
		return chromium.Eval[string](b, `(() => { const h = `+frameDoc+`?.querySelector("h1"); return h ? getComputedStyle(h).color : ""; })()`) == "rgb(200, 0, 0)"
	})
	eventually(t, "the inline logo loaded", func() bool {
		return chromium.Eval[bool](b, `(() => { const i = `+frameDoc+`?.querySelector("img"); return !!i && i.complete && i.naturalWidth === 1; })()`)
	})
	// Sized to its content: no scrollbar of its own, no empty space.
	h := chromium.Eval[float64](b, `document.querySelector(".reader iframe.mailframe").getBoundingClientRect().height`)
	content := chromium.Eval[float64](b, frameDoc+`.body.getBoundingClientRect().height`)
	if h < content || h > content+60 {
		t.Errorf("the frame is %.0f px high for %.0f px of content", h, content)
	}
	names := chromium.Eval[string](b, `Array.from(document.querySelectorAll(".attachments li")).map(li => li.firstChild.textContent).join(",")`)
	if names != "photo.png,report.pdf" {
		t.Fatalf("attachments listed %q, want photo.png,report.pdf (the inline logo is in the text)", names)
	}
	if href := chromium.Eval[string](b, `document.querySelector(".attachments a.button")?.getAttribute("href") ?? ""`); !strings.HasPrefix(href, "/app/zip/") {
		t.Fatalf("no download-all link: %q", href)
	}
	// Preview the picture.
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".attachments button.link")).find(x => x.textContent === "photo.png")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`dialog.attview img`)))
	eventually(t, "the picture in the preview", func() bool {
		return chromium.Eval[bool](b, `(() => { const i = document.querySelector("dialog.attview img"); return i.complete && i.naturalWidth === 1; })()`)
	})
	screenshot(b, "app-preview")
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll("dialog.attview button")).find(x => x.textContent === "Close")`)))
	// The PDF previews in a frame of its own, from a download that is
	// sandboxed by its response's policy.
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".attachments button.link")).find(x => x.textContent === "report.pdf")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`dialog.attview iframe`)))
	if src := chromium.Eval[string](b, `document.querySelector("dialog.attview iframe").getAttribute("src")`); !strings.Contains(src, "disposition=inline") || !strings.Contains(src, "type=application%2Fpdf") {
		t.Fatalf("PDF preview from %q", src)
	}
}

// TestAppRightToLeft: Arabic text is laid out right to left, in the list
// and in the message.
func TestAppRightToLeft(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, "From: Salma <salma@example.org>\r\nTo: ann@example.test\r\nSubject: =?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte("مرحبا بك"))+"?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nكيف حالك اليوم؟\r\n")
	b := r.tab(t)
	waitRows(t, b, 1)
	if d := chromium.Eval[string](b, `getComputedStyle(document.querySelector(".rows li.row .what")).direction`); d != "rtl" {
		t.Fatalf("the Arabic subject in the list is %s", d)
	}
	key(b, "o")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader iframe.mailframe`)))
	eventually(t, "the Arabic body right to left", func() bool {
		return chromium.Eval[string](b, `(() => { const d = document.querySelector(".reader iframe.mailframe").contentDocument; const w = d && d.getElementById("mailroom-message"); return w ? getComputedStyle(w).direction : ""; })()`) == "rtl"
	})
	if d := chromium.Eval[string](b, `getComputedStyle(document.querySelector(".reader h1")).direction`); d != "rtl" {
		t.Fatalf("the Arabic subject heading is %s", d)
	}
}

// TestAppFoldersAndSteps: a folder hidden in the app is unsubscribed (every
// IMAP client sees the choice) and shown again from "More folders"; next
// and previous step through the conversations.
func TestAppFoldersAndSteps(t *testing.T) {
	r := start(t)
	for _, s := range []string{"One", "Two", "Three"} {
		r.Deliver(r.acct, msg("Bob <bob@example.org>", s, "x"))
	}
	b := r.tab(t)
	waitRows(t, b, 3)
	// The Hide button shows on hover or focus: reached by keyboard here.
	b.Do(chromedp.Focus(chromedp.CSS(`.folders button[aria-label="Hide Junk"]`)), chromedp.KeyEvent("\r"))
	eventually(t, "Junk unsubscribed in the store", func() bool {
		mb := r.Mailbox(r.acct, "Junk")
		return !mb.Subscribed
	})
	if chromium.Eval[int](b, `document.querySelectorAll('.folders > ul a[data-role="junk"]').length`) != 0 {
		t.Fatal("the hidden folder is still listed")
	}
	b.Do(chromedp.Click(chromedp.CSS(`.folders button.more`)))
	b.Do(chromedp.Click(chromedp.CSS(`.folders button[aria-label="Show Junk"]`)))
	eventually(t, "Junk subscribed again", func() bool { return r.Mailbox(r.acct, "Junk").Subscribed })

	// Steps: the newest first, then older.
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Three") + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader h1`)))
	b.Do(chromedp.Click(chromedp.CSS(`.readbar button[aria-label="Older conversation"]`)))
	eventually(t, "Two open", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".reader h1").textContent`) == "Two"
	})
	b.Do(chromedp.Click(chromedp.CSS(`.readbar button[aria-label="Newer conversation"]`)))
	eventually(t, "Three open", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".reader h1").textContent`) == "Three"
	})
	key(b, "j")
	eventually(t, "j: Two open", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".reader h1").textContent`) == "Two"
	})
	// The address names the conversation: back and forward work.
	if loc := chromium.Run(b, chromedp.Location()); !strings.Contains(loc, "/thread/") {
		t.Fatalf("the open conversation's address %q", loc)
	}
	b.Do(chromedp.NavigateBack())
	eventually(t, "back: Three open", func() bool {
		return chromium.Eval[string](b, `document.querySelector(".reader h1")?.textContent ?? ""`) == "Three"
	})
}

// TestAppIdentitySignature: the name and signature set in "Names and
// signatures" are the From and the end of a new message.
func TestAppIdentitySignature(t *testing.T) {
	r := start(t)
	r.Account("bob@example.test")
	b := r.tab(t)
	b.Do(chromedp.Click(chromedp.CSS(`.account button.who`)))
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".menu button")).find(x => x.textContent === "Names and signatures")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`dialog.identities input`)))
	b.Do(chromedp.SendKeys(chromedp.CSS(`dialog.identities input`), "Ann Example"),
		chromedp.SendKeys(chromedp.CSS(`dialog.identities textarea`), "Ann, from the garden"))
	b.Do(chromedp.Click(chromedp.CSS(`dialog.identities button.primary`)))
	eventually(t, "saved", func() bool {
		return chromium.Eval[string](b, `document.querySelector("dialog.identities [role=status]").textContent`) == "Saved."
	})
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll("dialog.identities button")).find(x => x.textContent === "Close")`)))
	key(b, "c")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.compose .editor`)))
	if from := chromium.Eval[string](b, `document.querySelector("#compose-from").selectedOptions[0].textContent`); from != "Ann Example <ann@example.test>" {
		t.Fatalf("From: %q", from)
	}
	if body := chromium.Eval[string](b, `document.querySelector(".compose .editor").innerText`); !strings.Contains(body, "-- \nAnn, from the garden") && !strings.Contains(body, "--\nAnn, from the garden") {
		t.Fatalf("no signature in a new message: %q", body)
	}
	b.Do(chromedp.SendKeys(chromedp.CSS(`#compose-to`), "bob@example.test"), chromedp.SendKeys(chromedp.CSS(`#compose-subject`), "Signed"))
	clickButton(b, ".compose .actions", "Send")
	eventually(t, "the message in bob's INBOX", func() bool { return len(r.Bodies("bob@example.test", "INBOX")) == 1 })
	if raw := r.Bodies("bob@example.test", "INBOX")[0]; !strings.Contains(raw, "From: Ann Example <ann@example.test>") || !strings.Contains(raw, "Ann, from the garden") {
		t.Fatalf("sent:\n%s", raw)
	}
}
