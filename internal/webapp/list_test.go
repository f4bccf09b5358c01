package webapp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// thread delivers a conversation of n messages, each replying to the one
// before, alternating between two people.
func (r *rig) thread(subject string, n int) {
	r.T.Helper()
	prev := ""
	for i := range n {
		from := "Bob <bob@example.org>"
		if i%2 == 1 {
			from = "Carol <carol@example.org>"
		}
		id := fmt.Sprintf("<%s-%d@example.org>", strings.ReplaceAll(subject, " ", "-"), i)
		h := fmt.Sprintf("From: %s\r\nTo: ann@example.test\r\nSubject: %s%s\r\nDate: Mon, 07 Dec 2026 %02d:00:00 +0000\r\nMessage-ID: %s\r\n",
			from, map[bool]string{true: "", false: "Re: "}[i == 0], subject, 8+i, id)
		if prev != "" {
			h += "In-Reply-To: " + prev + "\r\nReferences: " + prev + "\r\n"
		}
		r.Deliver(r.acct, h+"\r\n"+fmt.Sprintf("Message %d of the conversation.", i+1)+"\r\n")
		prev = id
	}
}

// TestAppConversationView: a 9-message conversation is one row (with its
// count) beside single messages; opening it shows all nine, the read ones
// collapsed, and "Expand all" opens every one. Opening marks it read, in
// the store too.
func TestAppConversationView(t *testing.T) {
	r := start(t)
	r.thread("Trip planning", 9)
	r.Deliver(r.acct, msg("Dan <dan@example.org>", "Invoice 42", "Please pay."))
	b := r.tab(t)
	waitRows(t, b, 2)
	if got := chromium.Eval[string](b, rowJS("Re: Trip planning")+`.querySelector(".who").textContent`); !strings.Contains(got, "Carol, Bob") && !strings.Contains(got, "Bob, Carol") || !strings.HasSuffix(got, " 9") {
		t.Fatalf("the conversation's row names %q, want both senders and 9", got)
	}
	if !chromium.Eval[bool](b, rowJS("Re: Trip planning")+`.classList.contains("unread")`) {
		t.Fatal("an unread conversation is not shown unread")
	}
	screenshot(b, "app-list-desktop")

	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Re: Trip planning") + `.querySelector("a.open")`)))
	eventually(t, "nine messages in the conversation", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".reader .message, .reader .collapsed").length`) == 9
	})
	// All nine were unread: all nine open.
	if n := chromium.Eval[int](b, `document.querySelectorAll(".reader .message").length`); n != 9 {
		t.Fatalf("%d messages open, want 9 (all were unread)", n)
	}
	eventually(t, "the conversation marked read in the store", func() bool {
		seen, unseen := r.seen("INBOX")
		return seen == 9 && unseen == 1
	})
	screenshot(b, "app-conversation-desktop")

	// Opened again (read now): only the last is open, eight are collapsed.
	key(b, "u")
	waitRows(t, b, 2)
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Re: Trip planning") + `.querySelector("a.open")`)))
	eventually(t, "eight collapsed messages", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".reader .collapsed").length`) == 8 &&
			chromium.Eval[int](b, `document.querySelectorAll(".reader .message").length`) == 1
	})
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".readbar button")).find(x => x.textContent === "Expand all")`)))
	eventually(t, "all nine expanded", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".reader .message").length`) == 9
	})
}
