package webapp_test

// The webmail app's tests run the real server on loopback and drive the
// app in a real headless Chromium (internal/testrig/chromium): the app
// talks JMAP to the server as it does for a person. They need a chromium
// binary (scripts/install-test-deps.sh installs Debian's) and are skipped
// without one, and with -short.
//
// MAILROOM_SCREENSHOTS=dir keeps the screenshots the tests take, for a
// person to look at (docs/webmail.md has some).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/store"
	"mailroom/internal/testrig"
	"mailroom/internal/testrig/chromium"
	"mailroom/internal/web"
)

const password = testrig.Password

type rig struct {
	*testrig.Rig
	acct store.Account
	base string
}

func start(t *testing.T) *rig {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped with -short")
	}
	tr := testrig.Start(t, testrig.Factories{
		"smtp": smtp.Factory(smtp.Inbound), "imap": imap.Factory(), "http": web.Factory(),
	}, testrig.Listen("smtp", "imaps", "http"))
	return &rig{Rig: tr, acct: tr.Account("ann@example.test"), base: "http://" + tr.Addr("http")}
}

// tab opens Chromium and logs ann into the app.
func (r *rig) tab(t *testing.T) *chromium.Tab {
	t.Helper()
	// The app's tests take more steps than a page's: three times a tab's
	// usual time, for a machine busy with the race detector.
	b := chromium.NewTab(t, r.base, 3*chromium.Timeout)
	b.LoginApp("ann@example.test", password)
	return b
}

// msg is a message from someone to ann.
func msg(from, subject, body string, extra ...string) string {
	h := fmt.Sprintf("From: %s\r\nTo: Ann <ann@example.test>\r\nSubject: %s\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%d.%s@example.org>\r\n",
		from, subject, time.Now().UnixNano(), strings.ReplaceAll(strings.ToLower(subject), " ", "-"))
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n" + body + "\r\n"
}

// deliverIn puts a message into one of ann's folders.
func (r *rig) deliverIn(folder, raw string, keywords ...string) store.Delivered {
	r.T.Helper()
	return r.DeliverInto(store.Target{MailboxID: r.Mailbox(r.acct, folder).ID, Keywords: keywords}, raw)
}

// eventually polls cond until it holds or 30 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// rows is the number of conversations the list shows.
func rows(b *chromium.Tab) int {
	return chromium.Eval[int](b, `document.querySelectorAll(".rows li.row").length`)
}

func waitRows(t *testing.T, b *chromium.Tab, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d rows in the list", n), func() bool { return rows(b) == n })
}

// key types keys as a person does, with the focus on the page's body.
func key(b *chromium.Tab, keys string) {
	b.T.Helper()
	b.Do(chromedp.KeyEvent(keys))
}

// rowSel selects a row by its subject.
func rowJS(subject string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll(".rows li.row")).find(li => li.querySelector(".subject").textContent === %q)`, subject)
}

// flags returns the keywords of the messages in ann's folder with the
// subject, as the store has them.
func (r *rig) seen(folder string) (seen, unseen int) {
	r.T.Helper()
	for _, m := range r.Messages(r.acct, folder) {
		if m.Flags&store.FlagSeen != 0 {
			seen++
		} else {
			unseen++
		}
	}
	return
}

// darkMode makes the page see prefers-color-scheme: dark, or light.
func darkMode(b *chromium.Tab, dark bool) {
	b.T.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	b.Do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
		})
		return err
	}))
}

// setWidth resizes the viewport (a phone at 390 px, a laptop at 1366…).
func setWidth(b *chromium.Tab, w, h int64) {
	b.T.Helper()
	if w < 700 {
		b.Do(chromedp.EmulateViewport(w, h, chromedp.EmulateMobile))
	} else {
		b.Do(chromedp.EmulateViewport(w, h))
	}
}

// screenshot keeps the page in MAILROOM_SCREENSHOTS, if set.
func screenshot(b *chromium.Tab, name string) {
	dir := os.Getenv("MAILROOM_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := chromium.Run(b, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.T.Error(err)
	}
	b.T.Logf("screenshot %s.png", name)
}
