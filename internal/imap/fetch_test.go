package imap

import (
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

const multipart = "From: Alice <alice@example.org>\r\n" +
	"To: Ann <ann@example.test>, team: bob@example.test, cat@example.test;\r\n" +
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n" +
	"Message-ID: <m1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello Ann,\r\nthe report is attached.\r\n" +
	"--b1\r\n" +
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQKJcfsj6IK\r\n" +
	"--b1--\r\n"

func TestFetch(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, multipart)
	c := r.client("ann@example.test", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	opts := &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{
			{Specifier: imap.PartSpecifierHeader, Peek: true},
			{Part: []int{1}, Peek: true},
			{Part: []int{2}, Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: 8}},
		},
		BinarySection: []*imap.FetchItemBinarySection{{Part: []int{2}, Peek: true}},
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), opts).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.UID != 1 || m.RFC822Size != int64(len(multipart)) || len(m.Flags) != 1 || m.Flags[0] != `\Recent` {
		t.Fatalf("UID %d size %d flags %v", m.UID, m.RFC822Size, m.Flags)
	}
	env := m.Envelope
	if env.Subject != "Grüße" || env.MessageID != "m1@example.org" || len(env.From) != 1 || env.From[0].Host != "example.org" {
		t.Fatalf("envelope %+v", env)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 {
		t.Fatalf("bodystructure %#v", m.BodyStructure)
	}
	att := mp.Children[1].(*imap.BodyStructureSinglePart)
	if att.Type != "application" || att.Subtype != "pdf" || att.Disposition().Value != "attachment" {
		t.Fatalf("attachment part %#v", att)
	}
	var header, part1, part2 string
	for _, bs := range m.BodySection {
		sec, v := bs.Section, bs.Bytes
		switch {
		case sec.Specifier == imap.PartSpecifierHeader:
			header = string(v)
		case len(sec.Part) == 1 && sec.Part[0] == 1:
			part1 = string(v)
		case len(sec.Part) == 1 && sec.Part[0] == 2:
			part2 = string(v)
		}
	}
	if !strings.HasPrefix(header, "Return-Path") && !strings.HasPrefix(header, "From: Alice") || !strings.HasSuffix(header, "\r\n\r\n") {
		t.Fatalf("BODY[HEADER] %q", header)
	}
	if part1 != "Hello Ann,\r\nthe report is attached." {
		t.Fatalf("BODY[1] %q", part1)
	}
	if part2 != "JVBERi0x" {
		t.Fatalf("BODY[2]<0.8> %q", part2)
	}
	if len(m.BinarySection) != 1 || string(m.BinarySection[0].Bytes) != "%PDF-1.4\n%\xc7\xec\x8f\xa2\n" {
		t.Fatalf("BINARY[2] %+v", m.BinarySection)
	}
	// Peek did not set \Seen; a plain BODY[] does.
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || len(msgs[0].Flags) != 2 || msgs[0].Flags[0] != imap.FlagSeen {
		t.Fatalf("flags after BODY[]: %v %v", msgs, err)
	}
}

func TestSearch(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, multipart)
	r.Deliver(acct, "From: bob@example.test\r\nSubject: lunch\r\n\r\nPizza today?\r\n")
	c := r.client("ann@example.test", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	find := func(crit *imap.SearchCriteria) []uint32 {
		t.Helper()
		data, err := c.UIDSearch(crit, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		var out []uint32
		for _, u := range data.AllUIDs() {
			out = append(out, uint32(u))
		}
		return out
	}
	if got := find(&imap.SearchCriteria{Body: []string{"pizza"}}); len(got) != 1 || got[0] != 2 {
		t.Fatalf("BODY pizza: %v", got)
	}
	if got := find(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "grüße"}}}); len(got) != 1 || got[0] != 1 {
		t.Fatalf("SUBJECT grüße: %v", got)
	}
	if got := find(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}); len(got) != 2 {
		t.Fatalf("UNSEEN: %v", got)
	}
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("a2", "SELECT INBOX", "OK")
	if lines := x.cmd("a3", "SEARCH RETURN (MIN MAX COUNT) TEXT example", "OK"); !has(lines, `* ESEARCH (TAG "a3") MIN 1 MAX 2 COUNT 2`) {
		t.Fatalf("ESEARCH: %q", lines)
	}
	if lines := x.cmd("a4", "SEARCH OR FROM bob NOT ALL", "OK"); !has(lines, "* SEARCH 2") {
		t.Fatalf("OR/NOT: %q", lines)
	}
	x.cmd("a5", "SEARCH CHARSET KOI8-X ALL", "NO [BADCHARSET]")
}

// TestAppend30MB: a 30 MB message APPENDed with a synchronizing literal is
// streamed into the store and comes back byte for byte.
func TestAppend30MB(t *testing.T) {
	if testing.Short() {
		t.Skip("30 MB")
	}
	r := newRig(t)
	r.Account("ann@example.test")
	var b strings.Builder
	b.WriteString("Subject: big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 3)[:76] + "\r\n"
	for b.Len() < 30<<20 {
		b.WriteString(line)
	}
	msg := b.String()
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.Send("a2 APPEND INBOX {" + itoa(len(msg)) + "}")
	x.Expect("+ ")
	if _, err := x.Conn.Write([]byte(msg + "\r\n")); err != nil {
		t.Fatal(err)
	}
	x.Expect("a2 OK [APPENDUID ")
	x.cmd("a3", "SELECT INBOX", "OK")
	x.Send("a4 FETCH 1 (RFC822.SIZE BODY.PEEK[])")
	head := x.Line()
	want := "* 1 FETCH (RFC822.SIZE " + itoa(len(msg)) + " BODY[] {" + itoa(len(msg)) + "}"
	if head != want {
		t.Fatalf("FETCH header %q, want %q", head, want)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(x.R, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatal("30 MB message came back different")
	}
	x.Expect(")")
	x.Expect("a4 OK")
}
