package imap

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// A deterministic corpus of varied messages for comparing index-backed
// SEARCH with the evaluator: several languages and scripts, charsets,
// transfer encodings, HTML-only mail, alternatives, attachments with
// names, attached messages, RFC 2047 headers, Cc/Bcc, folded fields.

var ftsTexts = []string{
	"Das Wetter in Köln ist heute schön, die Straße ist naß. Grüße von Jörg!",
	"Ça va très bien, merci. À bientôt à Paris, chère Hélène — l'été arrive.",
	"我们明天在东京见面，会议在下午三点开始。请准时到达。",
	"東京の会議は午後三時からです。よろしくお願いします。資料を送ります。",
	"Привет, как дела? Встреча завтра в Москве в десять часов.",
	"The quarterly report is attached. Revenue grew by 12% in the last quarter; see the budget.",
	"Please review the invoice INV-2026-0042 before Friday. Thanks, the finance team.",
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
	"ǅemal's ﬁnancial plan: the Kelvin sign K and the long s ſ fold specially.",
	"Meeting notes: project Phoenix, milestones M1 and M2, owner: Ω team.",
}

var ftsNames = []struct{ name, addr string }{
	{"Jörg Müller", "joerg@example.de"}, {"Hélène Dupont", "helene@example.fr"},
	{"王小明", "wang@example.cn"}, {"山田太郎", "yamada@example.jp"},
	{"Alice Smith", "alice@example.org"}, {"Bob O'Neil", "bob@example.com"},
}

func ftsAddr(r *rand.Rand) string {
	n := ftsNames[r.IntN(len(ftsNames))]
	if r.IntN(3) == 0 {
		return n.addr
	}
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(n.name)) + "?= <" + n.addr + ">"
}

func ftsQP(s string) string {
	var b strings.Builder
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func ftsB64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return out.String() + s
}

// ftsTextPart renders text in one of several charsets and encodings.
func ftsTextPart(r *rand.Rand, subtype, text string) string {
	cs, body := "utf-8", []byte(text)
	switch r.IntN(6) {
	case 1:
		if b, err := charmap.ISO8859_1.NewEncoder().Bytes(body); err == nil {
			cs, body = "iso-8859-1", b
		}
	case 2:
		if b, err := japanese.ShiftJIS.NewEncoder().Bytes(body); err == nil {
			cs, body = "shift_jis", b
		}
	case 3:
		if b, err := simplifiedchinese.GBK.NewEncoder().Bytes(body); err == nil {
			cs, body = "gbk", b
		}
	}
	h := "Content-Type: text/" + subtype + "; charset=" + cs + "\r\n"
	switch r.IntN(3) {
	case 0:
		return h + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.ReplaceAll(ftsQP(string(body)), "\n", "\r\n") + "\r\n"
	case 1:
		return h + "Content-Transfer-Encoding: base64\r\n\r\n" + ftsB64(body) + "\r\n"
	}
	return h + "Content-Transfer-Encoding: 8bit\r\n\r\n" + string(body) + "\r\n"
}

func ftsHTML(text string) string {
	return "<html><body><p><b>" + strings.ReplaceAll(text, ". ", ".</b> <i>") + "</i></p></body></html>"
}

// ftsMessage builds message i.
func ftsMessage(r *rand.Rand, i int) string {
	text := ftsTexts[r.IntN(len(ftsTexts))] + "\r\n" + ftsTexts[r.IntN(len(ftsTexts))]
	subj := ftsTexts[r.IntN(len(ftsTexts))]
	subj = string([]rune(subj)[:min(len([]rune(subj)), 20+r.IntN(20))])
	if r.IntN(2) == 0 {
		subj = "=?UTF-8?Q?" + strings.ReplaceAll(strings.ReplaceAll(ftsQP(subj), " ", "_"), "=\r\n", "") + "?="
	}
	var h strings.Builder
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\n", ftsAddr(r), ftsAddr(r))
	if r.IntN(3) == 0 {
		fmt.Fprintf(&h, "Cc: %s,\r\n %s\r\n", ftsAddr(r), ftsAddr(r))
	}
	if r.IntN(5) == 0 {
		fmt.Fprintf(&h, "Bcc: %s\r\n", ftsAddr(r))
	}
	fmt.Fprintf(&h, "Subject: %s\r\nDate: Mon, %d Jan 2026 10:%02d:00 +0100\r\nMessage-ID: <m%d@corpus.example>\r\n", subj, 1+i%28, i%60, i)
	if r.IntN(4) == 0 {
		fmt.Fprintf(&h, "X-Project: Phoenix-%d\r\n", i%7)
	}
	h.WriteString("MIME-Version: 1.0\r\n")
	switch r.IntN(6) {
	case 0: // plain
		return h.String() + ftsTextPart(r, "plain", text)
	case 1: // HTML only
		return h.String() + ftsTextPart(r, "html", ftsHTML(text))
	case 2: // alternative
		return h.String() + "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
			ftsTextPart(r, "plain", text) + "--alt\r\n" + ftsTextPart(r, "html", ftsHTML(text)) + "--alt--\r\n"
	case 3: // attachment with a name
		pdf := []byte(fmt.Sprintf("%%PDF-1.4 budget %d secret-binary-word\x00\x01", i))
		return h.String() + "Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n" + ftsTextPart(r, "plain", text) +
			"--mix\r\nContent-Type: application/pdf; name=\"report-" + fmt.Sprint(i) + ".pdf\"\r\nContent-Disposition: attachment; filename=\"report-" +
			fmt.Sprint(i) + ".pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + ftsB64(pdf) + "\r\n--mix\r\n" +
			"Content-Type: text/plain; charset=utf-8; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nattached notes: Phoenix milestone\r\n--mix--\r\n"
	case 4: // attached message
		inner := fmt.Sprintf("From: %s\r\nSubject: inner subject %d Rückfrage\r\nX-Inner: hidden-header-value\r\n\r\nInner body: %s\r\n", ftsAddr(r), i, ftsTexts[r.IntN(len(ftsTexts))])
		return h.String() + "Content-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n--fwd\r\n" + ftsTextPart(r, "plain", "Forwarded below.") +
			"--fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--fwd--\r\n"
	}
	// no MIME type: plain ASCII, long folded lines
	return h.String() + "\r\n" + strings.Repeat("filler line with the word budget and x-ray\r\n", 1+r.IntN(40)) + text + "\r\n"
}

// ftsCorpus returns n generated messages and the files of the existing
// test corpora.
func ftsCorpus(t *testing.T, n int) []string {
	r := rand.New(rand.NewPCG(15, 2026))
	var out []string
	for i := range n {
		out = append(out, ftsMessage(r, i))
	}
	out = append(out, ftsPartHeaderMsgs...)
	files, _ := filepath.Glob("msgfmt/testdata/*.eml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// ftsPartHeaderMsgs have words only in MIME part headers (attachment
// names, plain, RFC 2231 encoded and continued, RFC 2047 in name=, in an
// attached message's part): TEXT finds them, BODY does not (RFC 9051
// 6.4.4).
var ftsPartHeaderMsgs = []string{
	"From: a@example.org\r\nSubject: Angebot\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsiehe Anhang\r\n" +
		"--b\r\nContent-Type: application/pdf; name=Kostenvoranschlag.pdf\r\nContent-Disposition: attachment; filename=Kostenvoranschlag.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n",
	"From: a@example.org\r\nSubject: Angebot 2\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsiehe Anhang\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*0*=UTF-8''Kostenvoranschlag%20Gr%C3%BC;\r\n filename*1*=nwald.pdf\r\n\r\n%PDF\r\n--b--\r\n",
	"From: a@example.org\r\nSubject: Tabelle\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nanbei\r\n" +
		"--b\r\nContent-Type: application/vnd.ms-excel; name=\"=?ISO-8859-1?Q?Kalkulation_f=FCr_K=F6ln.xls?=\"\r\n\r\nxls\r\n--b--\r\n",
	"From: a@example.org\r\nSubject: Fwd: Fotos\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n" +
		"--o\r\nContent-Type: text/plain\r\n\r\nweitergeleitet\r\n" +
		"--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: Fotos\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n" +
		"--i\r\nContent-Type: text/plain\r\n\r\ninnen\r\n" +
		"--i\r\nContent-Type: image/jpeg\r\nContent-Disposition: inline; filename*=UTF-8''Baustellenfoto%20%E6%9D%B1%E4%BA%AC.jpg\r\n\r\nJPG\r\n--i--\r\n--o--\r\n",
}
