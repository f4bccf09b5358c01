package webapp_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mailroom/internal/store"
	"mailroom/internal/testrig/chromium"
)

// TestAppKeyboard: Gmail's keys work from the list and the conversation,
// each reflected on screen at once and then in the store: j/k move, x
// selects, Shift+I / Shift+U, s stars, e archives, # deletes, z undoes,
// g i goes to the Inbox, ? shows the help and / focuses the search.
func TestAppKeyboard(t *testing.T) {
	r := start(t)
	for i := range 4 {
		r.Deliver(r.acct, msg("Bob <bob@example.org>", fmt.Sprintf("Note %d", i), "x"))
	}
	b := r.tab(t)
	waitRows(t, b, 4)
	focused := func() string {
		return chromium.Eval[string](b, `document.querySelector(".rows li.focus .subject")?.textContent ?? ""`)
	}
	// Newest first: Note 3 has the focus.
	if f := focused(); f != "Note 3" {
		t.Fatalf("focus on %q, want Note 3", f)
	}
	// What a key does shows at once (the app changes its state before the
	// server answers; TestAppPerformance measures how soon): the checks
	// below wait only for the page's next render.
	key(b, "j")
	key(b, "j")
	eventually(t, "after j j the focus on Note 1", func() bool { return focused() == "Note 1" })
	key(b, "k")
	eventually(t, "after k the focus on Note 2", func() bool { return focused() == "Note 2" })

	// x selects; Shift+I marks the selection read.
	key(b, "x")
	eventually(t, "x selecting the focused conversation", func() bool {
		return chromium.Eval[bool](b, rowJS("Note 2")+`.classList.contains("selected")`)
	})
	key(b, "I")
	eventually(t, "Shift+I: shown read", func() bool {
		return !chromium.Eval[bool](b, rowJS("Note 2")+`.classList.contains("unread")`)
	})
	eventually(t, "Note 2 read in the store", func() bool { seen, _ := r.seen("INBOX"); return seen == 1 })
	key(b, "U")
	eventually(t, "Note 2 unread again in the store", func() bool { seen, _ := r.seen("INBOX"); return seen == 0 })
	key(b, "x") // unselect

	// s stars the focused conversation.
	key(b, "s")
	eventually(t, "Note 2 flagged in the store", func() bool {
		for _, m := range r.Messages(r.acct, "INBOX") {
			if m.Flags&store.FlagFlagged != 0 {
				return true
			}
		}
		return false
	})

	// e archives: gone from the list at once, in Archive in the store.
	key(b, "e")
	waitRows(t, b, 3)
	eventually(t, "one message in Archive", func() bool { return len(r.Messages(r.acct, "Archive")) == 1 })
	// z undoes it, once the toast offers it.
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.toast button.link`)))
	key(b, "z")
	eventually(t, "the archived message back in the INBOX", func() bool { return len(r.Messages(r.acct, "INBOX")) == 4 })
	waitRows(t, b, 4)

	// # deletes to Trash; o opens, u goes back.
	key(b, "#")
	eventually(t, "one message in Trash", func() bool { return len(r.Messages(r.acct, "Trash")) == 1 })
	key(b, "o")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader h1`)))
	key(b, "u")
	eventually(t, "the conversation closed", func() bool { return chromium.Eval[int](b, `document.querySelectorAll(".reader").length`) == 0 })

	// g i from another folder.
	b.Do(chromedp.Click(chromedp.CSS(`.folders a[data-role="trash"]`)))
	waitRows(t, b, 1)
	key(b, "g")
	key(b, "i")
	waitRows(t, b, 3)

	// The first Tab reaches "Skip to messages", which leads to the list
	// (the old pages took 22 Tabs to reach the first message).
	b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.shell .folders li.current`)), chromedp.KeyEvent(kb.Tab))
	if got := chromium.Eval[string](b, `document.activeElement.textContent`); got != "Skip to messages" {
		t.Fatalf("the first Tab focuses %q", got)
	}
	b.Do(chromedp.KeyEvent("\r"))
	if got := chromium.Eval[string](b, `document.activeElement.closest("li.row")?.querySelector(".subject")?.textContent ?? document.activeElement.outerHTML.slice(0, 80)`); got != "Note 3" {
		t.Fatalf("Skip to messages focused %q, want the first conversation", got)
	}

	key(b, "?")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`dialog.help`)))
	if n := chromium.Eval[int](b, `document.querySelectorAll("dialog.help tr").length`); n < 15 {
		t.Fatalf("the help lists %d shortcuts", n)
	}
	key(b, kb.Escape)
	eventually(t, "the help closed", func() bool { return chromium.Eval[int](b, `document.querySelectorAll("dialog.help").length`) == 0 })
	key(b, "/")
	if !chromium.Eval[bool](b, `document.activeElement === document.querySelector(".search input")`) {
		t.Fatal("/ did not focus the search box")
	}
}

// TestAppMultiSelect: a click on one checkbox and a Shift-click on another
// select the range; a bulk action changes them all. Selecting all pages
// marks 1,100 conversations read (many pages, and more than the server
// answers in one Email/get) in one go.
func TestAppMultiSelect(t *testing.T) {
	r := start(t)
	for i := range 1100 {
		r.Deliver(r.acct, msg("Bob <bob@example.org>", fmt.Sprintf("Item %04d", i), "x"))
	}
	b := r.tab(t)
	waitRows(t, b, 50)
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Item 1098") + `.querySelector("input.pick")`)))
	node := chromium.Run(b, chromedp.Nodes(chromedp.JSPath(rowJS("Item 1094")+`.querySelector("input.pick")`)))[0]
	b.Do(chromedp.MouseClickNode(node, chromedp.ButtonModifiers(chromedp.ModifierShift)))
	eventually(t, "Shift-click selecting 5 rows (Item 1098 to Item 1094)", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".rows li.selected").length`) == 5
	})
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toolbar button")).find(x => x.textContent === "Mark read")`)))
	eventually(t, "five read in the store", func() bool { seen, _ := r.seen("INBOX"); return seen == 5 })

	// With some selected, the box clears the selection (as Gmail's);
	// clicked again it selects the page, then the banner every page:
	// "mark all read".
	b.Do(chromedp.Click(chromedp.CSS(`.toolbar input.pick-all`)))
	eventually(t, "the select-all box with 5 selected clearing the selection", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".rows li.selected").length`) == 0
	})
	b.Do(chromedp.Click(chromedp.CSS(`.toolbar input.pick-all`)))
	eventually(t, "select all selecting the page's 50 rows", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".rows li.selected").length`) == 50
	})
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".selectall button")).find(x => x.textContent.startsWith("Select all 1,100"))`)))
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toolbar button")).find(x => x.textContent === "Mark read")`)))
	eventually(t, "all 1,100 read in the store", func() bool { seen, _ := r.seen("INBOX"); return seen == 1100 })
	eventually(t, "no unread count in the folder list", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".folders .count").length`) == 0
	})
}

// TestAppDragToFolder: a conversation dragged onto a folder moves there;
// the toast's Undo brings it back.
func TestAppDragToFolder(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Receipts", "x"))
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Holiday photos", "x"))
	b := r.tab(t)
	waitRows(t, b, 2)
	// HTML drag and drop, as the browser fires it: one DataTransfer
	// carried from dragstart on the row to drop on the folder.
	chromium.Eval[bool](b, `(() => {
		const dt = new DataTransfer();
		const row = `+rowJS("Receipts")+`;
		const folder = document.querySelector('.folders a[data-role="archive"]').closest("li");
		row.dispatchEvent(new DragEvent("dragstart", {bubbles: true, dataTransfer: dt}));
		folder.dispatchEvent(new DragEvent("dragover", {bubbles: true, cancelable: true, dataTransfer: dt}));
		folder.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: dt}));
		row.dispatchEvent(new DragEvent("dragend", {bubbles: true, dataTransfer: dt}));
		return true;
	})()`)
	eventually(t, "Receipts in Archive", func() bool { return len(r.Messages(r.acct, "Archive")) == 1 })
	waitRows(t, b, 1)
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toast button")).find(x => x.textContent === "Undo")`)))
	eventually(t, "Receipts back in the INBOX", func() bool { return len(r.Messages(r.acct, "INBOX")) == 2 })
	waitRows(t, b, 2)
}

// TestAppTrashUndoAndRestore: deleting in Trash is for good, but only
// once the undo time has passed; Undo keeps the message. Restore moves a
// message from Trash back to the Inbox.
func TestAppTrashUndoAndRestore(t *testing.T) {
	r := start(t)
	r.deliverIn("Trash", msg("Bob <bob@example.org>", "Old news", "x"))
	r.deliverIn("Trash", msg("Bob <bob@example.org>", "Older news", "x"))
	b := r.tab(t)
	b.Do(chromedp.Click(chromedp.CSS(`.folders a[data-role="trash"]`)))
	waitRows(t, b, 2)
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Old news") + `.querySelector("input.pick")`)))
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toolbar button")).find(x => x.textContent === "Delete for good")`)))
	waitRows(t, b, 1)
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toast button")).find(x => x.textContent === "Undo")`)))
	waitRows(t, b, 2)
	time.Sleep(7 * time.Second) // past the undo time: nothing was deleted
	if n := len(r.Messages(r.acct, "Trash")); n != 2 {
		t.Fatalf("after Undo, %d messages in Trash, want 2", n)
	}

	// Deleted for good, without undo: gone once the undo time is over.
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Old news") + `.querySelector("input.pick")`)))
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toolbar button")).find(x => x.textContent === "Delete for good")`)))
	eventually(t, "Old news deleted for good", func() bool { return len(r.Messages(r.acct, "Trash")) == 1 })

	// Restore.
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Older news") + `.querySelector("input.pick")`)))
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".toolbar button")).find(x => x.textContent === "Restore")`)))
	eventually(t, "Older news in the INBOX", func() bool { return len(r.Messages(r.acct, "INBOX")) == 1 })
}

// TestAppLiveCounts: mail arriving in another folder is counted there at
// once, without going there; the Inbox's count is in the title and the
// tab's icon.
func TestAppLiveCounts(t *testing.T) {
	r := start(t)
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "First", "x"))
	lists := r.Account("lists@example.test") // another account: its mail must not count
	_ = lists
	b := r.tab(t)
	waitRows(t, b, 1)
	eventually(t, "the title counting one unread", func() bool {
		return chromium.Eval[string](b, `document.title`) == "(1) INBOX · Mailroom"
	})
	if got := chromium.Eval[string](b, `document.querySelector('link[rel="icon"]').dataset.unread`); got != "1" {
		t.Fatalf("icon counts %q", got)
	}
	// A new folder with mail in it, made by an IMAP client or a filter:
	// the app learns of it by push.
	r.deliverIn("Archive", msg("Bob <bob@example.org>", "Filed away", "x"))
	eventually(t, "Archive counting one unread", func() bool {
		return chromium.Eval[string](b, `document.querySelector('.folders a[data-role="archive"] .count')?.textContent ?? ""`) == "1 unread"
	})
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Second", "x"))
	waitRows(t, b, 2)
	eventually(t, "the title counting two unread", func() bool {
		return chromium.Eval[string](b, `document.title`) == "(2) INBOX · Mailroom"
	})

	// A reply arriving while its conversation is open shows in it.
	r.Deliver(r.acct, "From: Bob <bob@example.org>\r\nTo: ann@example.test\r\nSubject: Thread\r\nMessage-ID: <t1@example.org>\r\n\r\nFirst words.\r\n")
	waitRows(t, b, 3)
	b.Do(chromedp.Click(chromedp.JSPath(rowJS("Thread") + `.querySelector("a.open")`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.reader .message`)))
	r.Deliver(r.acct, "From: Bob <bob@example.org>\r\nTo: ann@example.test\r\nSubject: Re: Thread\r\nMessage-ID: <t2@example.org>\r\nIn-Reply-To: <t1@example.org>\r\nReferences: <t1@example.org>\r\n\r\nMore words.\r\n")
	eventually(t, "the reply in the open conversation", func() bool {
		return chromium.Eval[int](b, `document.querySelectorAll(".reader .message, .reader .collapsed").length`) == 2
	})
}

// TestAppBurstOfActions: six archives typed faster than the server
// answers all go through (the server allows only so many requests at once:
// the app queues the rest instead of failing them).
func TestAppBurstOfActions(t *testing.T) {
	r := start(t)
	for i := range 8 {
		r.Deliver(r.acct, msg("Bob <bob@example.org>", fmt.Sprintf("Burst %d", i), "x"))
	}
	b := r.tab(t)
	waitRows(t, b, 8)
	// One key per task, as typing delivers them, all before the server
	// has answered the first.
	chromium.Eval[bool](b, `(() => {
		for (let i = 0; i < 6; i++) setTimeout(() => document.dispatchEvent(new KeyboardEvent("keydown", {key: "e", bubbles: true})), i);
		return true;
	})()`)
	waitRows(t, b, 2)
	eventually(t, "six in Archive", func() bool { return len(r.Messages(r.acct, "Archive")) == 6 })
	if n := chromium.Eval[int](b, `document.querySelectorAll(".toast.error").length`); n != 0 {
		t.Fatalf("an error toast: %s", chromium.Eval[string](b, `document.querySelector(".toast.error").textContent`))
	}
}

// TestAppDesktopNotifications: turned on in the account menu (with the
// browser's permission), new mail in the Inbox while the page is hidden
// shows a desktop notification; off, none.
func TestAppDesktopNotifications(t *testing.T) {
	r := start(t)
	b := r.tab(t)
	b.Do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: r.base})
		return err
	}))
	// The page is made hidden (a headless tab is always visible), and the
	// browser's Notification recorded as it is constructed.
	chromium.Eval[bool](b, `(() => {
		Object.defineProperty(document, "visibilityState", {get: () => "hidden"});
		window.__notes = [];
		const Real = window.Notification;
		window.Notification = class extends Real {
			constructor(title, opts) { super(title, opts); window.__notes.push(title); }
		};
		return true;
	})()`)
	b.Do(chromedp.Click(chromedp.CSS(`.account button.who`)))
	b.Do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll(".menu button")).find(x => x.textContent.endsWith("Desktop notifications"))`)))
	eventually(t, "notifications on", func() bool {
		return chromium.Eval[string](b, `localStorage.getItem("mailroom.notifications") ?? ""`) == "on"
	})
	r.Deliver(r.acct, msg("Bob <bob@example.org>", "Ping", "x"))
	eventually(t, "a notification", func() bool {
		return chromium.Eval[string](b, `window.__notes.join("|")`) == "New mail"
	})
}
