package remote

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in       string
		code     int
		enhanced string
		status   string
		text     string
		lines    int
	}{
		{"250 OK\r\n", 250, "", "2.0.0", "OK", 1},
		{"250\r\n", 250, "", "2.0.0", "", 1},
		{"550 5.1.1 <a@b>: no such user\r\n", 550, "5.1.1", "5.1.1", "<a@b>: no such user", 1},
		{"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n", 550, "5.7.1", "5.7.1", "first second third", 3},
		{"452 4.5.3 too many\n", 452, "4.5.3", "4.5.3", "too many", 1},
		// A status of the wrong class is text, not a status.
		{"550 2.0.0 odd\r\n", 550, "", "5.0.0", "2.0.0 odd", 1},
		{"421 4.3.2 closing\r\n", 421, "4.3.2", "4.3.2", "closing", 1},
		{"421 closing\r\n", 421, "", "4.3.2", "closing", 1},
		{"250-mx.test hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 250, "", "2.0.0", "mx.test hello PIPELINING SIZE 1000", 3},
	} {
		r, err := readReply(bufio.NewReader(iotest.OneByteReader(strings.NewReader(tc.in))))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if r.code != tc.code || r.enhanced != tc.enhanced || r.status() != tc.status || r.text != tc.text || len(r.lines) != tc.lines {
			t.Errorf("%q: got %d %q %q %q %d lines", tc.in, r.code, r.enhanced, r.status(), r.text, len(r.lines))
		}
	}
	for _, in := range []string{
		"25\r\n",
		"abc def\r\n",
		"250-one\r\n251 two\r\n",
		"250*bad\r\n",
		"250-unterminated\r\n",
		strings.Repeat("250-x\r\n", maxReplyLines+1) + "250 x\r\n",
		"250 " + strings.Repeat("x", maxReplyLine) + "\r\n",
		"600 nope\r\n",
	} {
		if r, err := readReply(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%.40q: got %+v, want an error", in, r)
		}
	}
}

func TestDotWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n"},
		{"bare\nlf\n.dot\n", "bare\r\nlf\r\n..dot\r\n.\r\n"},
		{"x.y\r\n", "x.y\r\n.\r\n"},
		{"cr\rin line\r\n", "cr\rin line\r\n.\r\n"},
	} {
		// Every split of the input, so that line starts and CRLFs
		// across writes are covered.
		for split := 0; split <= len(tc.in); split++ {
			var b bytes.Buffer
			d := &dotWriter{w: &b, bol: true}
			for _, part := range []string{tc.in[:split], tc.in[split:]} {
				if n, err := d.Write([]byte(part)); err != nil || n != len(part) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("%q split at %d: got %q, want %q", tc.in, split, b.String(), tc.want)
			}
		}
	}
}

func TestDotWriterError(t *testing.T) {
	d := &dotWriter{w: failWriter{}, bol: true}
	if _, err := d.Write([]byte("hello\r\n")); err == nil {
		t.Error("no error from a failing writer")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken") }

func TestParams(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a@b.example", "a@b.example"},
		{"a+b=c@d", "a+2Bb+3Dc@d"},
		{"sp ace", "sp+20ace"},
	} {
		if got := xtext(tc.in); got != tc.want {
			t.Errorf("xtext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		utf8 bool
		want string
	}{
		{"rfc822;a+1@b.example", false, "rfc822;a+2B1@b.example"},
		{"RFC822;a@b", false, "RFC822;a@b"},
		{"a@b", false, "rfc822;a@b"},
		{"rfc822;jöran@b", false, `utf-8;j\x{F6}ran@b`},
		{"utf-8;jöran+x@b", true, `utf-8;jöran\x{2B}x@b`},
		{"utf-8;jöran@b", false, `utf-8;j\x{F6}ran@b`},
		{"bad type;a@b", false, ""},
		{"rfc822;", false, ""},
	} {
		if got := orcptParam(tc.in, tc.utf8); got != tc.want {
			t.Errorf("orcptParam(%q, %v) = %q, want %q", tc.in, tc.utf8, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"success", "Failure"}, "SUCCESS,FAILURE"},
		{[]string{"NEVER"}, "NEVER"},
		{[]string{"NEVER", "DELAY"}, ""},
		{[]string{"SOMETIMES"}, ""},
	} {
		if got := notifyParam(tc.in); got != tc.want {
			t.Errorf("notifyParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	m := Message{From: "a@bücher.example", Recipients: []Rcpt{{Addr: "b@xn--bcher-kva.example"}}}
	env := newEnvelope(m)
	if env.utf8 || env.from != "a@xn--bcher-kva.example" {
		t.Errorf("ASCII local part: %+v", env)
	}
	m.Recipients = append(m.Recipients, Rcpt{Addr: "jöran@b.example"})
	env = newEnvelope(m)
	if !env.utf8 || env.from != "a@bücher.example" || env.rcpts[1] != "jöran@b.example" {
		t.Errorf("non-ASCII local part: %+v", env)
	}
}

func TestBadAddresses(t *testing.T) {
	c := New(Config{Hostname: "out.test", DNSServers: []string{"127.0.0.1:1"}})
	m := message(testBody, "ok@dest.test", "evil@dest.test>\r\nRCPT TO:<x@y")
	res := c.Deliver(t.Context(), "dest.test", m)
	checkResult(t, res[1], Result{Rcpt: m.Recipients[1].Addr, Permanent: true, Enhanced: "5.1.3"})
	if res[0].Permanent || res[0].Delivered {
		t.Errorf("valid recipient: %+v", res[0])
	}
	m.From = "x\n@y"
	for _, r := range c.Deliver(t.Context(), "dest.test", m) {
		if r.Enhanced != "5.1.7" && r.Enhanced != "5.1.3" {
			t.Errorf("bad sender: %+v", r)
		}
	}
}

func TestStatusFor(t *testing.T) {
	for code, want := range map[int]string{
		250: "2.0.0", 421: "4.3.2", 450: "4.2.0", 452: "4.3.1", 499: "4.0.0",
		535: "5.7.8", 550: "5.0.0", 552: "5.2.2", 553: "5.1.3", 554: "5.0.0", 556: "5.1.10",
	} {
		if got := statusFor(code); got != want || !validStatus(got) {
			t.Errorf("statusFor(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestFailureTemporary(t *testing.T) {
	f := (&failure{perm: true, code: 554, enhanced: "5.7.1", text: "no"}).temporary()
	if f.perm || f.code != 554 || f.enhanced != "4.7.1" {
		t.Errorf("got %+v", f)
	}
}
