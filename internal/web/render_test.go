package web

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// pngBytes is a real 3×2 PNG, so a browser can decode it.
func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for x := range 3 {
		for y := range 2 {
			img.Set(x, y, color.RGBA{R: 200, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// styledNewsletter is a multipart/related newsletter: a <style> sheet, an
// inline cid: image, a remote image from remote and script attempts.
func styledNewsletter(t testing.TB, remote string) string {
	return "From: news@example.org\r\nTo: ann@example.test\r\nSubject: Big sale\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=rel\r\n\r\n" +
		"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<html><head><style>h1.head { color: #ff0000; } body { background-color: #eeeeee } ` +
		`.fixed { position: fixed; top: 0 }</style></head><body>` +
		`<h1 class="head">Sale</h1><p class="fixed">Everything must go</p>` +
		`<img id="logo" src="cid:logo@example.org" width="3" height="2">` +
		`<img id="remote" src="` + remote + `/pixel.png" width="3" height="2">` +
		`<script>parent.pwned = 1</script><img src="x" onerror="parent.pwned = 2">` +
		`</body></html>` + "\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@example.org>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pngBytes(t)) + "\r\n--rel--\r\n"
}

// emailPath is the app URL of a delivered message: /app/{kind}/A…/M….
func (r *rig) emailPath(kind string, acct store.Account, mailbox string, uid uint32) string {
	r.T.Helper()
	for _, m := range r.Messages(acct, mailbox) {
		if m.UID == uid {
			return "/app/" + kind + "/A" + itoa64(acct.ID) + "/M" + itoa64(m.ID)
		}
	}
	r.T.Fatalf("no message %d in %s", uid, mailbox)
	return ""
}

func TestRenderEndpoint(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, styledNewsletter(t, "https://tracker.example"))
	path := r.emailPath("render", r.acct, "INBOX", d.UID)
	b := r.browser()

	// Without a session: to the login page.
	if code, h, _ := b.get(path); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Fatalf("logged out: %d %v", code, h)
	}
	b.login("ann@example.test")
	code, h, body := b.get(path)
	if code != http.StatusOK {
		t.Fatalf("render: %d %s", code, body)
	}
	wantCSP := "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox; default-src 'none'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; style-src 'unsafe-inline'; img-src 'self' data:"
	if got := h.Get("Content-Security-Policy"); got != wantCSP {
		t.Errorf("CSP %q", got)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "private, no-store" ||
		h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("headers %v", h)
	}
	for _, want := range []string{
		`<meta name="mailroom-remote-blocked" content="1">`,
		`<div id="mailroom-message" dir="auto">`,
		`#mailroom-message h1.head { color: #ff0000 }`,
		`#mailroom-message { background-color: #eeeeee }`,
		`class="head"`,
		`src="/jmap/download/A` + itoa64(r.acct.ID) + `/P`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("render lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{"<script", "onerror", "tracker.example", "position"} {
		if strings.Contains(body, bad) {
			t.Errorf("render contains %q:\n%s", bad, body)
		}
	}
	// The cid: image's URL downloads the image with the session.
	src := regexp.MustCompile(`id="logo"[^>]* src="([^"]+)"`).FindStringSubmatch(body)
	if src == nil {
		t.Fatalf("no logo image:\n%s", body)
	}
	u := strings.ReplaceAll(src[1], "&amp;", "&")
	if code, h, img := b.get(u); code != 200 || img != string(pngBytes(t)) || h.Get("Content-Type") != "image/png" {
		t.Errorf("cid image %s: %d %v", u, code, h)
	}

	code, h, body = b.get(path + "?remote=1")
	if code != 200 || !strings.Contains(body, `content="0"`) || !strings.Contains(body, "https://tracker.example/pixel.png") ||
		!strings.HasSuffix(h.Get("Content-Security-Policy"), "img-src 'self' data: https: http:; font-src https: http:") {
		t.Errorf("remote allowed: %d %q\n%s", code, h.Get("Content-Security-Policy"), body)
	}
}

func TestRenderPlainAndBadIDs(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, sample)
	path := r.emailPath("render", r.acct, "INBOX", d.UID)
	b := r.browser()
	b.login("ann@example.test")
	code, _, body := b.get(path)
	if code != 200 || !strings.Contains(body, `<div class="plaintext">Shall we meet at noon? &lt;b&gt;not bold&lt;/b&gt;`) ||
		!strings.Contains(body, `content="0"`) {
		t.Fatalf("plain text: %d\n%s", code, body)
	}
	acct := "A" + itoa64(r.acct.ID)
	for p, want := range map[string]int{
		"/app/render/" + acct + "/M999999":       http.StatusNotFound,
		"/app/render/A999999/M1":                 http.StatusNotFound,
		"/app/render/X1/M1":                      http.StatusBadRequest,
		"/app/render/" + acct + "/Mx":            http.StatusBadRequest,
		"/app/render/" + acct + "/M0":            http.StatusBadRequest,
		"/app/render/" + acct + "/F1":            http.StatusBadRequest,
		"/app/zip/" + acct + "/M-1":              http.StatusBadRequest,
		"/app/zip/" + acct + "/M999999":          http.StatusNotFound,
		"/app/render/" + acct + "/M1/extra":      http.StatusNotFound,
		"/app/render/" + acct + "/B" + itoa64(1): http.StatusBadRequest,
	} {
		if code, _, body := b.get(p); code != want {
			t.Errorf("%s: %d, want %d: %s", p, code, want, body)
		}
	}
}

// TestRenderACL: another user's message is not found, under their
// account id or one's own; a folder shared with the read right is
// readable under the owner's account id, and no longer once unshared.
func TestRenderACL(t *testing.T) {
	r := newShareRig(t)
	d := r.Deliver(r.acct, sample)
	annPath := r.emailPath("render", r.acct, "INBOX", d.UID)
	kimAcct := "A" + itoa64(r.kim.ID)
	b := r.browser()
	b.login("kim@example.test")
	for _, p := range []string{annPath, strings.Replace(annPath, "A"+itoa64(r.acct.ID), kimAcct, 1),
		strings.Replace(annPath, "/render/", "/zip/", 1)} {
		if code, _, body := b.get(p); code != http.StatusNotFound {
			t.Errorf("kim reads %s: %d %s", p, code, body)
		}
	}

	team := r.createMailbox(r.acct, "Team")
	td := r.DeliverInto(store.Target{MailboxID: team.ID}, sample)
	teamPath := r.emailPath("render", r.acct, "Team", td.UID)
	if code, _, _ := b.get(teamPath); code != http.StatusNotFound {
		t.Fatalf("before sharing: %d", code)
	}
	r.setACL(team, "kim@example.test", acl.ReadOnly)
	if code, _, body := b.get(teamPath); code != 200 || !strings.Contains(body, "Shall we meet") {
		t.Fatalf("shared: %d %s", code, body)
	}
	// Lookup without read ("l" only): not readable.
	r.setACL(team, "kim@example.test", acl.Lookup)
	if code, _, _ := b.get(teamPath); code != http.StatusNotFound {
		t.Fatalf("lookup only: %d", code)
	}
}

func TestZipAttachments(t *testing.T) {
	r := newRig(t)
	att := func(name, body string) string {
		return "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + name +
			"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(body)) + "\r\n"
	}
	msg := "From: bob@example.org\r\nTo: ann@example.test\r\nSubject: =?utf-8?q?Q3_=C3=9Cbersicht/Zahlen?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/related; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/html\r\n\r\n<p>see <img src=\"cid:i@x\"></p>\r\n" +
		"--r\r\nContent-Type: image/png\r\nContent-ID: <i@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pngBytes(t)) + "\r\n--r--\r\n" +
		att("report.pdf", "first") + att("REPORT.pdf", "second") + att("../../etc/passwd", "root") +
		att("=?utf-8?q?=C3=9Cbersicht.txt?=", "ü") + att("..", "dots") +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n" +
		"--b--\r\n"
	d := r.Deliver(r.acct, msg)
	b := r.browser()
	b.login("ann@example.test")
	resp, err := b.c.Get(b.base + r.emailPath("zip", r.acct, "INBOX", d.UID))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("zip: %d %v", resp.StatusCode, err)
	}
	if got, want := resp.Header.Get("Content-Disposition"),
		`attachment; filename="Q3 _bersicht_Zahlen.zip"; filename*=UTF-8''Q3%20%C3%9Cbersicht_Zahlen.zip`; got != want {
		t.Errorf("Content-Disposition %q, want %q", got, want)
	}
	if resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("unzip: %v", err)
	}
	got := map[string]string{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(c)
		names = append(names, f.Name)
	}
	want := map[string]string{
		"report.pdf": "first", "REPORT (2).pdf": "second", "_.._etc_passwd": "root", "Übersicht.txt": "ü",
		"attachment-5": "dots", "message-6.eml": "Subject: inner\r\n\r\nhi",
	}
	sort.Strings(names)
	if len(got) != len(want) {
		t.Errorf("files %q", names)
	}
	for n, c := range want {
		if got[n] != c {
			t.Errorf("%s: %q (files %q)", n, got[n], names)
		}
	}
	for _, n := range names {
		if strings.ContainsAny(n, `/\`) || n == ".." || strings.HasPrefix(n, ".") {
			t.Errorf("unsafe name %q", n)
		}
	}
}

func TestSafeFileName(t *testing.T) {
	long := strings.Repeat("ü", 150) + ".pdf" // 300 bytes of stem
	for in, want := range map[string]string{
		"report.pdf":           "report.pdf",
		"..":                   "fallback",
		" . ":                  "fallback",
		"a/b\\c:d*e?f\"g<h>i|": "a_b_c_d_e_f_g_h_i_",
		"tab\there\x00nul":     "tab_here_nul",
		".hidden":              "hidden",
		"trailing. ":           "trailing",
		"///":                  "fallback",
		long:                   strings.Repeat("ü", 98) + ".pdf",
	} {
		got := safeFileName(in, "fallback")
		if got != want {
			t.Errorf("safeFileName(%q) = %q, want %q", in, got, want)
		}
		if len(got) > maxZipName || !utf8.ValidString(got) {
			t.Errorf("safeFileName(%q) = %q: too long or not UTF-8", in, got)
		}
	}
}

// TestRenderCharsetSniffed: an HTML part without a charset parameter is
// read as its <meta> says, not as RFC 8621's us-ascii default.
func TestRenderCharsetSniffed(t *testing.T) {
	r := newRig(t)
	d := r.Deliver(r.acct, "From: a@example.org\r\nTo: ann@example.test\r\nSubject: greetings\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
		"<html><head><meta charset=\"utf-8\"></head><body><p>Grüße aus Köln</p></body></html>\r\n")
	b := r.browser()
	b.login("ann@example.test")
	code, _, body := b.get(r.emailPath("render", r.acct, "INBOX", d.UID))
	if code != 200 || !strings.Contains(body, "<p>Grüße aus Köln</p>") {
		t.Fatalf("render: %d\n%s", code, body)
	}
}
