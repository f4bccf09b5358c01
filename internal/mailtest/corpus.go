package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
	"time"
)

// CorpusMessage is one message of Corpus: LF line endings, as mail sits
// in mbox and Maildir files.
type CorpusMessage struct {
	Date time.Time
	Text []byte
}

// Corpus makes n varied, deterministic messages (the same seed, the same
// bytes) of the kinds a real mailbox holds, for tests that move mail in
// and out: plain and quoted-printable text, RFC 2047 subjects and names,
// multipart/alternative, attachments in base64 (1–150 KiB), a forwarded
// message/rfc822, body lines that start with "From " and ">From " (the
// lines mbox formats escape), a line longer than 64 KiB, a bare CR, and
// messages without a final newline. Sizes run from a few hundred bytes
// to about 200 KiB, most under 10 KiB.
func Corpus(n int, seed uint64) []CorpusMessage {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t0 := time.Date(2019, 3, 4, 9, 0, 0, 0, time.UTC)
	out := make([]CorpusMessage, n)
	for i := range out {
		date := t0.Add(time.Duration(i)*97*time.Minute + time.Duration(r.IntN(3600))*time.Second)
		out[i] = CorpusMessage{Date: date, Text: corpusMessage(r, i, date)}
	}
	return out
}

var (
	corpusNames    = []string{"Ann Example", "Bob Müller", "Chloé Durand", "Dmitri Ivanov", "Eve", "Fumiko Sato", "Grace O'Neil"}
	corpusSubjects = []string{"Quarterly report", "Re: lunch on Friday?", "Grüße aus München", "Invoice #%d", "Fwd: photos", "Meeting notes – week %d", "ünïcödé subject line that is quite long and needs folding in the header %d"}
	corpusWords    = strings.Fields("the a mail server message folder quota import export backup restore family school company provider years trust inbox archive draft sent junk filter vacation forward client phone laptop browser")
)

func corpusAddr(r *rand.Rand) (name, addr string) {
	name = corpusNames[r.IntN(len(corpusNames))]
	local := strings.ToLower(strings.Fields(name)[0])
	local = strings.NewReplacer("é", "e", "ü", "u").Replace(local)
	return name, local + "@example.org"
}

func corpusText(r *rand.Rand, lines int) string {
	var b strings.Builder
	for l := 0; l < lines; l++ {
		words := 4 + r.IntN(10)
		for w := 0; w < words; w++ {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(corpusWords[r.IntN(len(corpusWords))])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func corpusMessage(r *rand.Rand, i int, date time.Time) []byte {
	var b bytes.Buffer
	fromName, from := corpusAddr(r)
	_, to := corpusAddr(r)
	subject := corpusSubjects[r.IntN(len(corpusSubjects))]
	if strings.Contains(subject, "%d") {
		subject = fmt.Sprintf(subject, i)
	}
	fmt.Fprintf(&b, "Return-Path: <%s>\n", from)
	fmt.Fprintf(&b, "From: %s <%s>\n", mime.QEncoding.Encode("utf-8", fromName), from)
	fmt.Fprintf(&b, "To: %s\n", to)
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <corpus-%d@example.org>\n", i)
	b.WriteString("MIME-Version: 1.0\n")
	switch kind := i % 10; {
	case kind <= 3:
		b.WriteString("Content-Type: text/plain; charset=utf-8\n\n")
		b.WriteString(corpusText(r, 3+r.IntN(60)))
		switch i % 40 {
		case 1:
			b.WriteString("From the desk of the director: an unescaped From line.\n>From an escaped one.\n>>From twice.\n")
		case 2:
			b.WriteString("A line with a bare CR\rinside it.\n")
		case 3:
			b.WriteString(strings.Repeat("long line ", 7000) + "\n")
		case 10:
			b.WriteString("no final newline")
		}
	case kind <= 6:
		bnd := fmt.Sprintf("alt-%d", i)
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=%q\n\n", bnd)
		txt := corpusText(r, 5+r.IntN(30))
		fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n", bnd, txt)
		fmt.Fprintf(&b, "--%s\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>%s</p></body></html>\n", bnd, strings.ReplaceAll(txt, "\n", "</p>\n<p>"))
		fmt.Fprintf(&b, "--%s--\n", bnd)
	case kind <= 8:
		bnd := fmt.Sprintf("mixed-%d", i)
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\n\n", bnd)
		fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n", bnd, corpusText(r, 5+r.IntN(20)))
		data := make([]byte, 1<<10+r.IntN(150<<10))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(data)
		fmt.Fprintf(&b, "--%s\nContent-Type: application/octet-stream; name=\"file-%d.bin\"\nContent-Disposition: attachment; filename=\"file-%d.bin\"\nContent-Transfer-Encoding: base64\n\n", bnd, i, i)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\n")
		fmt.Fprintf(&b, "--%s--\n", bnd)
	default:
		bnd := fmt.Sprintf("fwd-%d", i)
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\n\n", bnd)
		fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\nForwarded below.\n\n", bnd)
		fmt.Fprintf(&b, "--%s\nContent-Type: message/rfc822\n\nFrom: %s\nSubject: the original\nDate: %s\n\n%s\n", bnd, to, date.Add(-time.Hour).Format(time.RFC1123Z), corpusText(r, 4))
		fmt.Fprintf(&b, "--%s--\n", bnd)
	}
	return b.Bytes()
}
