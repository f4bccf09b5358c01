package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"mailroom/internal/testrig/chromium"
)

// showInFrame puts /app/render/… in a frame sandboxed as the app's is, on
// a page of the webmail (same origin), and waits until the document and
// its images have loaded. It returns JavaScript naming the frame's
// document.
func showInFrame(b *chromium.Tab, path string) string {
	b.T.Helper()
	q, _ := json.Marshal(path)
	chromium.Eval[bool](b, `(() => {
		document.getElementById("render-frame")?.remove();
		const f = document.createElement("iframe");
		f.id = "render-frame";
		f.setAttribute("sandbox", "allow-same-origin allow-popups allow-popups-to-escape-sandbox");
		f.src = `+string(q)+`;
		document.body.prepend(f);
		return true;
	})()`)
	doc := `document.getElementById("render-frame").contentDocument`
	chromium.Run(b, chromedp.Poll[bool](`(() => { const d = `+doc+`;
		return !!d && d.readyState === "complete" && !!d.getElementById("mailroom-message") &&
			Array.from(d.images).every(i => i.complete); })()`))
	return doc
}

// TestBrowserRender: the render document in a real browser, framed as
// the app frames it: the message's own sheet styles its heading, nothing
// escapes the message, no script runs, remote images load only when
// asked, cid: images load, right-to-left text lays out right to left and
// the height can be measured.
func TestBrowserRender(t *testing.T) {
	r := newRig(t)
	var hits atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes(t))
	}))
	defer remote.Close()

	news := r.Deliver(r.acct, styledNewsletter(t, remote.URL))
	rtl := r.Deliver(r.acct, "From: dan@example.org\r\nTo: ann@example.test\r\nSubject: shalom\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nשלום עולם, מה שלומך היום?\r\n")

	b := chromium.NewTab(t, r.base, chromium.Timeout)
	b.Login("ann@example.test", password)

	doc := showInFrame(b, r.emailPath("render", r.acct, "INBOX", news.UID))
	if c := chromium.Eval[string](b, `getComputedStyle(`+doc+`.querySelector("h1.head")).color`); c != "rgb(255, 0, 0)" {
		t.Errorf("heading colour %q, want the sheet's red", c)
	}
	if bg := chromium.Eval[string](b, `getComputedStyle(`+doc+`.getElementById("mailroom-message")).backgroundColor`); bg != "rgb(238, 238, 238)" {
		t.Errorf("the sheet's body rule gives the wrapper %q", bg)
	}
	if bg := chromium.Eval[string](b, `getComputedStyle(`+doc+`.body).backgroundColor`); bg != "rgb(255, 255, 255)" {
		t.Errorf("the sheet reached the frame's own body: %q", bg)
	}
	if pos := chromium.Eval[string](b, `getComputedStyle(`+doc+`.querySelector("p.fixed")).position`); pos != "static" {
		t.Errorf("position %q survived", pos)
	}
	if n := chromium.Eval[int](b, doc+`.querySelectorAll("script").length`); n != 0 {
		t.Errorf("%d scripts in the document", n)
	}
	if p := chromium.Eval[string](b, `String(window.pwned)`); p != "undefined" {
		t.Errorf("script ran: pwned = %s", p)
	}
	if w := chromium.Eval[int](b, doc+`.getElementById("logo").naturalWidth`); w != 3 {
		t.Errorf("cid: image not loaded (naturalWidth %d)", w)
	}
	if w := chromium.Eval[int](b, doc+`.getElementById("remote").naturalWidth`); w != 0 || hits.Load() != 0 {
		t.Errorf("remote image loaded while blocked (naturalWidth %d, %d requests)", w, hits.Load())
	}
	if n := chromium.Eval[string](b, doc+`.querySelector('meta[name="mailroom-remote-blocked"]').content`); n != "1" {
		t.Errorf("remote-blocked count %q", n)
	}
	// The app sizes the frame to the document: it must have a height and
	// no scrollbars of its own.
	if o := chromium.Eval[string](b, `getComputedStyle(`+doc+`.documentElement).overflow`); o != "hidden" {
		t.Errorf("html overflow %q", o)
	}
	if h := chromium.Eval[int](b, doc+`.documentElement.scrollHeight`); h < 50 {
		t.Errorf("document height %d", h)
	}

	doc = showInFrame(b, r.emailPath("render", r.acct, "INBOX", news.UID)+"?remote=1")
	if w := chromium.Eval[int](b, doc+`.getElementById("remote").naturalWidth`); w != 3 || hits.Load() == 0 {
		t.Errorf("remote image not loaded when allowed (naturalWidth %d, %d requests)", w, hits.Load())
	}

	doc = showInFrame(b, r.emailPath("render", r.acct, "INBOX", rtl.UID))
	if d := chromium.Eval[string](b, `getComputedStyle(`+doc+`.getElementById("mailroom-message")).direction`); d != "rtl" {
		t.Errorf("Hebrew text has direction %q", d)
	}
}
