package imap

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var genRe = regexp.MustCompile(`^\* GENURLAUTH "?([^"]+)"?$`)

// genURL runs GENURLAUTH for rump and returns the URL.
func (x *raw) genURL(tag, rump string) string {
	x.T.Helper()
	lines := x.cmd(tag, `GENURLAUTH "`+rump+`" INTERNAL`, "OK")
	for _, l := range lines {
		if m := genRe.FindStringSubmatch(l); m != nil {
			if !strings.HasPrefix(m[1], rump+":internal:") {
				x.T.Fatalf("GENURLAUTH %s gave %q", rump, m[1])
			}
			return m[1]
		}
	}
	x.T.Fatalf("GENURLAUTH %s: no response in %q", rump, lines)
	return ""
}

// fetchURL runs URLFETCH url and returns its data ("NIL" for NIL).
func (x *raw) fetchURL(tag, arg string) string {
	x.T.Helper()
	x.Send(tag + " URLFETCH " + arg)
	resp := x.readResp(tag)
	if last := resp[len(resp)-1]; !strings.HasPrefix(last, tag+" OK") {
		x.T.Fatalf("URLFETCH %s: %q", arg, resp)
	}
	for _, l := range resp {
		if rest, ok := strings.CutPrefix(l, "* URLFETCH "); ok {
			_, data, _ := strings.Cut(rest, " ")
			if i := strings.Index(data, "}"); strings.HasPrefix(data, "{") && i > 0 {
				return data[i+1:]
			}
			return data
		}
	}
	x.T.Fatalf("URLFETCH %s: no response in %q", arg, resp)
	return ""
}

func login(t *testing.T, r *rig, email string) *raw {
	t.Helper()
	x := r.raw(true)
	x.cmd("l", "LOGIN "+email+" \""+password+"\"", "OK")
	return x
}

// TestURLAuthRoundTrip: GENURLAUTH, then URLFETCH from another session
// of the same user and from another user as the access identifier allows;
// EXPIRE, RESETKEY and a tampered URL are refused (NIL).
func TestURLAuthRoundTrip(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Account("bob@example.test")
	r.Deliver(ann, catMsg)
	r.Deliver(ann, "Subject: two\r\n\r\nsecond\r\n")
	a := login(t, r, "ann@example.test")
	a2 := login(t, r, "ann@example.test")
	b := login(t, r, "bob@example.test")
	if lines := a.cmd("c", "CAPABILITY", "OK"); !has(lines, " URLAUTH") || !has(lines, " CATENATE") {
		t.Fatalf("CAPABILITY: %q", lines)
	}

	base := "imap://ann@example.test/INBOX/;UID=1"
	userURL := a.genURL("g1", base+"/;SECTION=1;URLAUTH=user+ann@example.test")
	anonURL := a.genURL("g2", base+";URLAUTH=anonymous")
	authURL := a.genURL("g3", "imap://ann%40example.test@mail.example.test/INBOX/;UID=2;URLAUTH=authuser")
	submitURL := a.genURL("g4", base+";URLAUTH=submit+ann@example.test")
	expired := a.genURL("g5", base+";EXPIRE="+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)+";URLAUTH=anonymous")
	future := a.genURL("g6", base+";EXPIRE="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+";URLAUTH=anonymous")

	for _, c := range []struct {
		x    *raw
		who  string
		url  string
		want string
	}{
		{a2, "ann again", userURL, "first part"},
		{b, "bob", userURL, "NIL"}, // user+ann is for ann only
		{b, "bob", anonURL, catMsg},
		{b, "bob", authURL, "Subject: two\r\n\r\nsecond\r\n"},
		{a2, "ann", submitURL, "NIL"}, // for a submission server, not IMAP
		{b, "bob", expired, "NIL"},
		{b, "bob", future, catMsg},
		// Tampering: another token, another message with the same token.
		{b, "bob", anonURL[:len(anonURL)-4] + "0000", "NIL"},
		{b, "bob", strings.Replace(anonURL, ";UID=1", ";UID=2", 1), "NIL"},
		{b, "bob", strings.Replace(anonURL, "anonymous", "authuser", 1), "NIL"},
		// Not URLAUTH URLs at all.
		{b, "bob", base, "NIL"},
		{b, "bob", "/INBOX/;UID=1", "NIL"},
		{b, "bob", "garbage", "NIL"},
	} {
		if got := c.x.fetchURL("f", `"`+c.url+`"`); got != c.want {
			t.Errorf("URLFETCH %s by %s:\n got  %q\n want %q", c.url, c.who, got, c.want)
		}
	}

	// A URLAUTH URL of ann's forwards her message in bob's CATENATE.
	b.cmd("cat", "APPEND Drafts CATENATE (TEXT "+lit("Subject: fwd\r\n\r\n")+" URL \""+anonURL+"\")", "OK [APPENDUID")
	if got := r.Bodies("bob@example.test", "Drafts"); len(got) != 1 || got[0] != "Subject: fwd\r\n\r\n"+catMsg {
		t.Fatalf("bob's Drafts: %q", got)
	}
	// Without the URLAUTH, ann's mailbox is not bob's to read.
	b.cmd("cat2", "APPEND Drafts CATENATE (URL \""+base+"\")", "NO [BADURL")

	// RESETKEY of the mailbox revokes its URLs; new ones work.
	a.cmd("r1", "RESETKEY INBOX", "OK [URLMECH INTERNAL]")
	for _, u := range []string{userURL, anonURL, authURL} {
		if got := b.fetchURL("f", `"`+u+`"`); got != "NIL" {
			t.Errorf("after RESETKEY INBOX, %s still fetches %q", u, got)
		}
	}
	anon2 := a.genURL("g7", base+";URLAUTH=anonymous")
	if anon2 == anonURL {
		t.Fatal("RESETKEY did not change the key")
	}
	if got := b.fetchURL("f", `"`+anon2+`"`); got != catMsg {
		t.Fatalf("new URL after RESETKEY: %q", got)
	}
	// Another mailbox's key is untouched by RESETKEY INBOX, and revoked by
	// RESETKEY without arguments.
	r.DeliverTo("ann@example.test", "Subject: x\r\n\r\ny\r\n")
	a.cmd("cp", "SELECT INBOX", "OK")
	a.cmd("cp2", "UID COPY 1 Archive", "OK")
	arch := a.genURL("g8", "imap://ann@example.test/Archive/;UID=1;URLAUTH=anonymous")
	a.cmd("r2", "RESETKEY INBOX", "OK")
	if got := b.fetchURL("f", `"`+arch+`"`); got != catMsg {
		t.Fatalf("RESETKEY INBOX revoked Archive's URL: %q", got)
	}
	a.cmd("r3", "RESETKEY", "OK")
	if got := b.fetchURL("f", `"`+arch+`"`); got != "NIL" {
		t.Fatalf("RESETKEY (all) left Archive's URL valid: %q", got)
	}

	// GENURLAUTH refuses what it may not sign.
	a.cmd("n1", `GENURLAUTH "imap://bob@example.test/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL`, "NO")
	a.cmd("n2", `GENURLAUTH "`+base+`" INTERNAL`, "NO")              // no ;URLAUTH=
	a.cmd("n3", `GENURLAUTH "`+anon2+`" INTERNAL`, "NO")             // already has a verifier
	a.cmd("n4", `GENURLAUTH "`+base+`;URLAUTH=anonymous" XYZ`, "NO") // unknown mechanism
	a.cmd("n5", `GENURLAUTH "imap://ann@example.test/Nope/;UID=1;URLAUTH=anonymous" INTERNAL`, "NO")
	a.cmd("n6", `GENURLAUTH "/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL`, "NO") // not absolute
	a.cmd("n7", `GENURLAUTH`, "BAD")
	a.cmd("n8", `RESETKEY Nope`, "NO [NONEXISTENT]")
	a.cmd("n9", `RESETKEY INBOX XYZ`, "NO")
}

// TestURLFetchBinary: the RFC 5524 form of URLFETCH.
func TestURLFetchBinary(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Deliver(ann, catMsg)
	a := login(t, r, "ann@example.test")
	u := a.genURL("g", "imap://ann@example.test/INBOX/;UID=1/;SECTION=2;URLAUTH=authuser")
	if got := a.fetchURL("f1", "("+u+" BINARY)"); got != "(BINARY {11}hello world)" {
		t.Errorf("BINARY: %q", got)
	}
	if got := a.fetchURL("f2", "("+u+" BODY)"); got != "(BODY {16}"+catPart2+")" {
		t.Errorf("BODY: %q", got)
	}
	want := `(BODYPARTSTRUCTURE ("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 16 NIL NIL NIL NIL))`
	if got := a.fetchURL("f3", "("+u+" BODYPARTSTRUCTURE)"); got != want {
		t.Errorf("BODYPARTSTRUCTURE:\n got  %q\n want %q", got, want)
	}
	a.cmd("f4", "URLFETCH ("+u+" BINARY BODY)", "BAD")
	a.cmd("f5", "URLFETCH ("+u+" FOO)", "BAD")
}

// nestedMsg has a message/rfc822 attachment whose text parts are base64
// and quoted-printable.
const nestedMsg = "From: ann@example.test\r\n" +
	"Subject: outer\r\n" +
	"Content-Type: multipart/mixed; boundary=\"o\"\r\n" +
	"\r\n" +
	"--o\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"From: bob@example.test\r\n" +
	"Subject: inner\r\n" +
	"Content-Type: multipart/alternative; boundary=\"i\"\r\n" +
	"\r\n" +
	"--i\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aGVsbG8g\r\n" +
	"d29ybGQ=\r\n" +
	"--i\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Transfer-Encoding:\r\n" +
	" quoted-printable\r\n" +
	"\r\n" +
	"caf=C3=A9 =\r\n" +
	"ok\r\n" +
	"--i--\r\n" +
	"--o--\r\n"

// TestURLFetchBinaryNested: BINARY of a message/rfc822 part sends it with
// the parts inside decoded and labelled binary; BODYPARTSTRUCTURE with
// BINARY describes those octets.
func TestURLFetchBinaryNested(t *testing.T) {
	r := newRig(t)
	ann := r.Account("ann@example.test")
	r.Deliver(ann, nestedMsg)
	a := login(t, r, "ann@example.test")
	u := a.genURL("g", "imap://ann@example.test/INBOX/;UID=1/;SECTION=1;URLAUTH=authuser")
	conv := "From: bob@example.test\r\n" +
		"Subject: inner\r\n" +
		"Content-Type: multipart/alternative; boundary=\"i\"\r\n" +
		"\r\n" +
		"--i\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Transfer-Encoding: binary\r\n" +
		"\r\n" +
		"hello world\r\n" +
		"--i\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Transfer-Encoding: binary\r\n" +
		"\r\n" +
		"café ok\r\n" +
		"--i--"
	want := fmt.Sprintf("(BINARY {%d}%s)", len(conv), conv)
	if got := a.fetchURL("f1", "("+u+" BINARY)"); got != want {
		t.Errorf("BINARY:\n got  %q\n want %q", got, want)
	}
	// Converted: conv's length over 14 lines; the parts 11 and 8 octets
	// without a line end (stored: 18 and 15 octets, one line end each).
	got := a.fetchURL("f2", "("+u+" BODYPARTSTRUCTURE BINARY)")
	for _, sub := range []string{
		fmt.Sprintf(`"7bit" %d (NIL "inner"`, len(conv)),
		`("text" "plain" ("charset" "us-ascii") NIL NIL "base64" 11 0 `,
		`("text" "plain" ("charset" "us-ascii") NIL NIL "quoted-printable" 8 0 `,
		`"alternative" ("boundary" "i") NIL NIL NIL) 14 `,
	} {
		if !strings.Contains(got, sub) {
			t.Errorf("BODYPARTSTRUCTURE with BINARY lacks %q:\n%s", sub, got)
		}
	}
	got = a.fetchURL("f3", "("+u+" BODYPARTSTRUCTURE)")
	if !strings.Contains(got, `"base64" 18 1 `) || !strings.Contains(got, `"quoted-printable" 15 1 `) {
		t.Errorf("BODYPARTSTRUCTURE without BINARY is not the stored structure:\n%s", got)
	}
}
