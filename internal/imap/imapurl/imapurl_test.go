package imapurl

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in    string
		want  URL    // Rump and Partial are checked separately
		canon string // "" : same as in
		part  *Partial
		err   string
	}{
		// RFC 4469 section 5 / appendix examples.
		{in: "/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9",
			want: URL{Mailbox: "INBOX", UIDValidity: 785799047, UID: 113330, Section: "1.5.9"}},
		{in: "/Drafts;UIDVALIDITY=385759045/;UID=20",
			want: URL{Mailbox: "Drafts", UIDValidity: 385759045, UID: 20}},
		// Lower-case names, as imaptest sends them.
		{in: "/INBOX/;uid=3/;section=header", want: URL{Mailbox: "INBOX", UID: 3, Section: "header"},
			canon: "/INBOX/;UID=3/;SECTION=header"},
		{in: "/box/;uid=2/;partial=100000.1", want: URL{Mailbox: "box", UID: 2},
			part: &Partial{Offset: 100000, Length: 1}, canon: "/box/;UID=2/;PARTIAL=100000.1"},
		{in: "/box/;UID=2/;PARTIAL=7", want: URL{Mailbox: "box", UID: 2}, part: &Partial{Offset: 7}},
		// Relative to the selected mailbox.
		{in: ";UID=20/;SECTION=1", want: URL{UID: 20, Section: "1"}},
		// Hierarchy and percent-encoded UTF-8.
		{in: "/a/b%20c/%C3%A9t%C3%A9/;UID=1", want: URL{Mailbox: "a/b c/été", UID: 1}},
		// RFC 4467 examples.
		{in: "imap://joe@example.com/INBOX/;UID=20/;SECTION=1.2;URLAUTH=submit+fred",
			want: URL{Server: true, User: "joe", Host: "example.com", Mailbox: "INBOX", UID: 20, Section: "1.2", Access: "submit+fred"}},
		{in: "imap://joe@example.com/INBOX/;UID=20/;SECTION=1.2;URLAUTH=submit+fred:INTERNAL:91354a473744909de610943775f92038",
			want: URL{Server: true, User: "joe", Host: "example.com", Mailbox: "INBOX", UID: 20, Section: "1.2",
				Access: "submit+fred", Mechanism: "INTERNAL", Token: "91354a473744909de610943775f92038"}},
		{in: "imap://joe%40example.com@[::1]:1143/INBOX;UIDVALIDITY=9/;UID=3;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=anonymous",
			want: URL{Server: true, User: "joe@example.com", Host: "[::1]", Port: 1143, Mailbox: "INBOX", UIDValidity: 9, UID: 3,
				Expire: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Access: "anonymous"}},
		{in: "IMAP://u;AUTH=*@Host/INBOX/;uid=1;urlauth=AuthUser", canon: "imap://u;AUTH=*@host/INBOX/;UID=1;URLAUTH=authuser",
			want: URL{Server: true, User: "u", Auth: "*", Host: "host", Mailbox: "INBOX", UID: 1, Access: "authuser"}},

		// An unencoded "@" in the access identifier's user is accepted.
		{in: "imap://a%40b.c@h/INBOX/;UID=1;URLAUTH=user+a@b.c", canon: "imap://a%40b.c@h/INBOX/;UID=1;URLAUTH=user+a%40b.c",
			want: URL{Server: true, User: "a@b.c", Host: "h", Mailbox: "INBOX", UID: 1, Access: "user+a@b.c"}},
		{in: "", err: `expected "imap://"`},
		{in: "INBOX/;UID=1", err: `expected "imap://"`},
		{in: "/INBOX", err: "must name a message"},
		{in: "/INBOX/", err: "must name a message"},
		{in: "/;UID=1", err: "expected a mailbox name"},
		{in: "/INBOX;UID=1", err: `must follow "/"`},
		{in: "/INBOX/;UIDVALIDITY=1/;UID=1", err: `must not follow "/"`},
		{in: "/INBOX/;UID=0", err: "non-zero"},
		{in: "/INBOX/;UID=01", err: "non-zero"},
		{in: "/INBOX/;UID=99999999999", err: "non-zero"},
		{in: "/INBOX/;UID=1/;SECTION=1/;UID=2", err: "out of place"},
		{in: "/INBOX/;UID=1/", err: `unexpected "/"`},
		{in: "/INBOX/;UID=1/;PARTIAL=1.0", err: "length"},
		{in: "/INBOX/;UID=1/;PARTIAL=x", err: "offset"},
		{in: "/INBOX/;UID=1;EXPIRE=tomorrow", err: "EXPIRE"},
		{in: "/INBOX/;UID=1;EXPIRE=2030-01-02T03:04:05Z", err: "needs ;URLAUTH="},
		{in: "/INBOX/;UID=1;URLAUTH=root", err: "access identifier"},
		{in: "/INBOX/;UID=1;URLAUTH=user+", err: "empty user"},
		{in: "/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:abc", err: "token"},
		{in: "/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL", err: "mechanism"},
		{in: "/INBOX/;UID=1;FOO=1", err: "unknown component"},
		{in: "/INBOX/;UID=1;UID", err: "name=value"},
		{in: "/IN BOX/;UID=1", err: "percent-encoded"},
		{in: "/IN%2/;UID=1", err: "percent-encoding"},
		{in: "/IN%FF/;UID=1", err: "UTF-8"},
		{in: "/IN%0A/;UID=1", err: "control"},
		{in: "/INBOX?SUBJECT%20x;UID=1", err: "search URLs"},
		{in: "imap://host", err: `expected "/"`},
		{in: "imap:///INBOX/;UID=1", err: "empty host"},
		{in: "imap://h:0/INBOX/;UID=1", err: "port"},
		{in: "imap://[::1/INBOX/;UID=1", err: "unterminated"},
		{in: ";UIDVALIDITY=1/;UID=1", err: "out of place"},
		{in: "/x/;UID=1" + strings.Repeat("a", MaxLen), err: "too long"},
	} {
		u, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q): err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		got := *u
		got.Rump, got.Partial = "", nil
		if got != c.want {
			t.Errorf("Parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if (u.Partial == nil) != (c.part == nil) || u.Partial != nil && *u.Partial != *c.part {
			t.Errorf("Parse(%q): partial %+v, want %+v", c.in, u.Partial, c.part)
		}
		canon := c.canon
		if canon == "" {
			canon = c.in
		}
		if s := u.String(); s != canon {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, s, canon)
		}
		if u2, err := Parse(u.String()); err != nil || u2.String() != u.String() {
			t.Errorf("canonical form %q does not reparse to itself: %v", u.String(), err)
		}
	}
}

// TestRump checks that the rump is the URL as given up to the access
// identifier: the verifier is computed over exactly what the client sent.
func TestRump(t *testing.T) {
	for _, c := range []struct{ in, rump string }{
		{"imap://joe@example.com/INBOX/;uid=20;urlauth=user+fred:internal:91354a473744909de610943775f92038",
			"imap://joe@example.com/INBOX/;uid=20;urlauth=user+fred"},
		{"imap://joe@h/INBOX/;UID=20;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=anonymous",
			"imap://joe@h/INBOX/;UID=20;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=anonymous"},
		{"/INBOX/;UID=1", ""},
	} {
		u, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if u.Rump != c.rump {
			t.Errorf("Parse(%q).Rump = %q, want %q", c.in, u.Rump, c.rump)
		}
	}
}

func TestAccessUser(t *testing.T) {
	for _, c := range []struct{ access, kind, user string }{
		{"user+fred", "user", "fred"},
		{"submit+a@b", "submit", "a@b"},
		{"authuser", "authuser", ""},
		{"anonymous", "anonymous", ""},
	} {
		u := URL{Access: c.access}
		if k, n := u.AccessUser(); k != c.kind || n != c.user {
			t.Errorf("%q: got %q %q", c.access, k, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9",
		"/box/;uid=2/;partial=100000.1",
		";UID=20/;SECTION=1",
		"/a/b%20c/%C3%A9t%C3%A9/;UID=1",
		"imap://joe@example.com/INBOX/;UID=20/;SECTION=1.2;URLAUTH=submit+fred:INTERNAL:91354a473744909de610943775f92038",
		"imap://joe%40example.com@[::1]:1143/INBOX;UIDVALIDITY=9/;UID=3;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=anonymous",
		"IMAP://u;AUTH=*@Host/INBOX/;uid=1;urlauth=AuthUser",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		if u.UID == 0 {
			t.Fatalf("%q: parsed without a UID", s)
		}
		canon := u.String()
		u2, err := Parse(canon)
		if err != nil {
			t.Fatalf("%q: canonical form %q does not parse: %v", s, canon, err)
		}
		if c2 := u2.String(); c2 != canon {
			t.Fatalf("%q: canonical form not stable: %q then %q", s, canon, c2)
		}
		if u.Rump != "" && !strings.HasPrefix(s, u.Rump) {
			t.Fatalf("%q: rump %q is not a prefix", s, u.Rump)
		}
	})
}
