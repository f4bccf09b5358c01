package imap

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// catMsg is a multipart message whose parts CATENATE and URLFETCH take.
const catMsg = "From: ann@example.test\r\n" +
	"To: bob@example.test\r\n" +
	"Subject: parts\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"first part\r\n" +
	"--b1\r\n" +
	"Content-Type: application/octet-stream; name=\"a.bin\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aGVsbG8gd29ybGQ=\r\n" +
	"--b1--\r\n"

// catPart2 is the body of part 2 of catMsg, as stored: BODY[2].
const catPart2 = "aGVsbG8gd29ybGQ=" // the CRLF before the boundary belongs to it

// lit is a LITERAL+ literal of s.
func lit(s string) string { return fmt.Sprintf("{%d+}\r\n%s", len(s), s) }

func uidValidity(t *testing.T, x *raw, mailbox string) string {
	t.Helper()
	lines := x.cmd("uv", "STATUS "+mailbox+" (UIDVALIDITY)", "OK")
	m := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(strings.Join(lines, "\n"))
	if m == nil {
		t.Fatalf("STATUS: %q", lines)
	}
	return m[1]
}

// TestCatenateByteExact builds a message from TEXT literals and URL parts
// of another message (absolute path, full imap:// form, relative to the
// selected mailbox, a synchronizing literal) and checks the stored bytes.
func TestCatenateByteExact(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Deliver(ann, catMsg)
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	uv := uidValidity(t, x, "INBOX")

	head := "From: ann@example.test\r\nSubject: fwd\r\n\r\n"
	tail := "\r\n-- \r\nann\r\n"
	x.cmd("a2", "APPEND Drafts (\\Seen) CATENATE (TEXT "+lit(head)+
		" URL \"/INBOX;UIDVALIDITY="+uv+"/;UID=1/;SECTION=2\" TEXT "+lit(tail)+")", "OK [APPENDUID")
	// The full form, with the account's address as user, and a partial.
	x.cmd("a3", "APPEND Drafts CATENATE (URL \"imap://ann%40example.test@mail.example.test/INBOX/;UID=1/;SECTION=HEADER\""+
		" URL \"imap://ann@example.test/INBOX/;UID=1/;SECTION=1/;PARTIAL=0.5\")", "OK [APPENDUID")
	// Relative to the selected mailbox, and a synchronizing literal: the
	// server asks for it with "+" between the parts.
	x.cmd("a4", "SELECT INBOX", "OK")
	x.Send("a5 APPEND Drafts CATENATE (URL \";UID=1/;SECTION=TEXT\" TEXT {3}")
	x.Expect("+ ")
	x.Send("\r\nx)")
	x.Expect("a5 OK [APPENDUID")

	got := r.Bodies("ann@example.test", "Drafts")
	hdr := catMsg[:strings.Index(catMsg, "\r\n\r\n")+4]
	text := catMsg[len(hdr):]
	want := []string{
		head + catPart2 + tail,
		hdr + "first",
		text + "\r\nx",
	}
	if len(got) != len(want) {
		t.Fatalf("Drafts holds %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d:\n got  %q\n want %q", i+1, got[i], want[i])
		}
	}
	// Flags and APPEND's other arguments apply as for a plain APPEND.
	lines := x.cmd("a6", "STATUS Drafts (UNSEEN MESSAGES)", "OK")
	if !has(lines, "MESSAGES 3") || !has(lines, "UNSEEN 2") {
		t.Fatalf("STATUS Drafts: %q", lines)
	}
}

// TestCatenateBadURL: a URL naming nothing this user may read fails the
// APPEND with NO [BADURL url], appends nothing, and the session goes on
// after the parts the client still sent.
func TestCatenateBadURL(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	bob := r.Account("bob@example.test")
	r.Deliver(ann, catMsg)
	r.Deliver(bob, "Subject: bob's\r\n\r\nprivate\r\n")
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	uv := uidValidity(t, x, "INBOX")
	bad, _ := strconv.Atoi(uv)
	for i, url := range []string{
		"/INBOX/;UID=9", // no such message
		"/INBOX;UIDVALIDITY=" + strconv.Itoa(bad+1) + "/;UID=1", // stale UIDVALIDITY
		"/Nowhere/;UID=1",                          // no such mailbox
		"imap://bob@example.test/INBOX/;UID=1",     // another user's mailbox
		"imap://bob%40example.test@h/INBOX/;UID=1", // the same, other spelling
		"/INBOX/;UID=1/;SECTION=7",                 // no such part
		"/INBOX/;UID=1/;SECTION=1.X",               // not a section
		"/INBOX/;UID=1;URLAUTH=anonymous",          // a rump authorizes nothing
		";UID=1",                                   // relative, nothing selected
		"/INBOX/;UID=x",                            // not a URL
	} {
		tag := fmt.Sprintf("b%d", i)
		lines := x.cmd(tag, "APPEND Drafts CATENATE (TEXT "+lit("Subject: x\r\n\r\n")+" URL \""+url+"\" TEXT "+lit("after\r\n")+")", "NO")
		if last := lines[len(lines)-1]; !strings.Contains(last, "[BADURL "+url+"]") {
			t.Errorf("%s: got %q, want NO [BADURL %s]", url, last, url)
		}
		x.cmd("n"+tag, "NOOP", "OK") // the rest of the command was skipped
	}
	if got := r.Bodies("ann@example.test", "Drafts"); len(got) != 0 {
		t.Fatalf("failed CATENATEs appended %d messages", len(got))
	}
	// A synchronizing literal after the bad URL is never asked for: the
	// client takes the NO as the end of the command.
	x.Send("c1 APPEND Drafts CATENATE (URL \"/INBOX/;UID=9\" TEXT {5}")
	x.Expect("c1 NO [BADURL /INBOX/;UID=9]")
	x.cmd("c2", "NOOP", "OK")
	// A missing mailbox is TRYCREATE, whatever the URLs (RFC 4469 5).
	x.cmd("c3", "APPEND Nowhere CATENATE (URL \"/INBOX/;UID=9\" TEXT "+lit("x")+")", "NO [TRYCREATE]")
}

// TestCatenateTooBig: the catenated message is bounded by APPENDLIMIT.
func TestCatenateTooBig(t *testing.T) {
	r := newRig(t, testrig.Config(func(c *config.Config) { c.SMTP.MaxMessageSize = 600 }))
	ann := r.Account("ann@example.test")
	r.Deliver(ann, catMsg) // 298 octets
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	if lines := x.cmd("c", "CAPABILITY", "OK"); !has(lines, "APPENDLIMIT=600") {
		t.Fatalf("CAPABILITY: %q", lines)
	}
	x.cmd("a2", "APPEND Drafts CATENATE (URL \"/INBOX/;UID=1\" TEXT "+lit("x")+")", "OK")
	x.cmd("a3", "APPEND Drafts CATENATE (URL \"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\")", "NO [TOOBIG]")
	x.cmd("a4", "APPEND Drafts CATENATE (URL \"/INBOX/;UID=1\" TEXT "+lit(strings.Repeat("y", 400))+")", "NO [TOOBIG]")
	x.cmd("a5", "NOOP", "OK")
	if got := r.Bodies("ann@example.test", "Drafts"); len(got) != 1 {
		t.Fatalf("Drafts holds %d messages, want 1", len(got))
	}
}

// TestCatenateMultiappend: CATENATE messages inside MULTIAPPEND, mixed
// with plain literals; one bad URL fails them all (RFC 3502: all or none).
func TestCatenateMultiappend(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Deliver(ann, catMsg)
	x := r.raw(true)
	x.cmd("a1", "LOGIN ann@example.test \""+password+"\"", "OK")
	x.cmd("a2", "APPEND Drafts CATENATE (TEXT "+lit("Subject: 1\r\n\r\n")+" URL \"/INBOX/;UID=1/;SECTION=1\")"+
		" (\\Flagged) "+lit("Subject: 2\r\n\r\nplain\r\n")+
		" CATENATE (URL \"/INBOX/;UID=1/;SECTION=HEADER\" TEXT "+lit("3\r\n")+")", "OK [APPENDUID")
	want := []string{"Subject: 1\r\n\r\nfirst part", "Subject: 2\r\n\r\nplain\r\n", catMsg[:strings.Index(catMsg, "\r\n\r\n")+4] + "3\r\n"}
	got := r.Bodies("ann@example.test", "Drafts")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Drafts:\n got  %q\n want %q", got, want)
	}
	x.cmd("b1", "APPEND Drafts CATENATE (TEXT "+lit("Subject: ok\r\n\r\n")+") "+lit("Subject: ok too\r\n\r\n")+
		" CATENATE (URL \"/INBOX/;UID=2\" TEXT "+lit("x")+") CATENATE (TEXT "+lit("y")+")", "NO [BADURL /INBOX/;UID=2]")
	x.cmd("b2", "NOOP", "OK")
	if got := r.Bodies("ann@example.test", "Drafts"); len(got) != 3 {
		t.Fatalf("the failed MULTIAPPEND appended: Drafts holds %d messages, want 3", len(got))
	}
}

// readResp reads an untagged response that may end with literals up to
// the tagged reply, returning the responses with literals inlined.
func (x *raw) readResp(tag string) []string {
	x.T.Helper()
	var out []string
	var cur strings.Builder
	litRe := regexp.MustCompile(`~?\{(\d+)\}$`)
	for {
		l := x.Line()
		cur.WriteString(l)
		if m := litRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			buf := make([]byte, n)
			if _, err := io.ReadFull(x.R, buf); err != nil {
				x.T.Fatal(err)
			}
			cur.Write(buf)
			continue
		}
		out = append(out, cur.String())
		cur.Reset()
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}
