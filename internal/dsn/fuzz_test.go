package dsn

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzWrite writes reports with arbitrary addresses, host names and
// replies, and checks that whatever Write accepts comes out as a message
// that parses, with CRLF line ends only and no line over 998 octets, and
// with no field that the inputs put there.
func FuzzWrite(f *testing.F) {
	f.Add("bob@example.net", "rfc822;bob@example.net", "550 5.1.1 no such user", "mx.example.net", "alice@example.org", "ENV1", "HDRS")
	f.Add("bob@example.net\r\nBcc: x@y", "bob\n@x", "550-a\r\n550 b\rc\nd", "mx\r\n\r\n--x", "a\r\nb", "\x00\r", "FULL")
	f.Add("用户@例子.example", "UTF-8;用户+x=y\\z@例子.example", "550 5.1.1 没有", "mx.例子.example", "发件人@例子.example", "", "full")
	f.Add("\xff\xfe@x", "\xc3", "\xe2\x80\xa8Subject: x\u0085y", "\t", "<>x", "QQ+2B", "")
	f.Add(strings.Repeat("a", 499), strings.Repeat("b ", 300), strings.Repeat("c", 3000), strings.Repeat("d.", 700), "z@z", strings.Repeat("e", 2000), "hdrs")
	f.Fuzz(func(t *testing.T, final, orig, diag, remote, to, envID, ret string) {
		r := failedReport()
		r.To = to
		r.EnvID = envID
		r.Return = ret
		r.ReportingMTA = "mail.example.org" + remote
		r.Recipients[0].Final = final
		r.Recipients[0].Original = orig
		r.Recipients[0].Diagnostic = diag
		r.Recipients[0].Explanation = diag
		r.Recipients[0].RemoteMTA = remote
		r.Recipients = append(r.Recipients, Recipient{
			Final: "carol@example.com", Action: ActionDelayed, Diagnostic: remote + diag, WillRetryUntil: testNow,
		})

		var out bytes.Buffer
		err := Write(&out, r, strings.NewReader(testOriginal), int64(len(testOriginal)))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Write: %v", err)
			}
			return
		}
		raw := out.Bytes()
		p, err := parse(raw) // checks the line ends and lengths too
		if err != nil {
			t.Fatalf("%v\n%q", err, raw)
		}
		if len(p.parts) != 3 {
			t.Fatalf("%d parts, want 3", len(p.parts))
		}
		wantTop := []string{"From", "To", "Subject", "Date", "Message-Id", "Auto-Submitted", "Mime-Version", "Content-Type"}
		if got := keys(p.header.Header); len(got) < len(wantTop) || strings.Join(got[:len(wantTop)], ",") != strings.Join(wantTop, ",") ||
			(len(got) > len(wantTop) && (len(got) != len(wantTop)+1 || got[len(wantTop)] != "Content-Transfer-Encoding")) {
			t.Fatalf("top-level fields %q", got)
		}
		groups, err := statusGroups(p.parts[1].body)
		if err != nil {
			t.Fatalf("delivery-status: %v\n%q", err, p.parts[1].body)
		}
		if len(groups) != 3 {
			t.Fatalf("%d groups of DSN fields, want 3:\n%q", len(groups), p.parts[1].body)
		}
		checkKeys(t, groups[0], perMessageFields)
		for _, g := range groups[1:] {
			checkKeys(t, g, perRecipientFields)
			for _, k := range []string{"Final-Recipient", "Action", "Status"} {
				if !g.Has(k) {
					t.Fatalf("no %s field in %q", k, keys(g))
				}
			}
		}
		// The address arrives whole, only cleaned.
		global := p.parts[1].mediaType() == "message/global-delivery-status"
		addr, _ := cleanAddress("Final", final)
		if got, want := unfolded(groups[1].Get("Final-Recipient")), unfolded(typedAddress("rfc822", addr, global)); got != want {
			t.Fatalf("Final-Recipient %q for %q, want %q", got, final, want)
		}
		if mt := p.parts[1].mediaType(); mt == "message/delivery-status" && !isASCII(string(p.parts[1].body)) {
			t.Fatalf("message/delivery-status with 8-bit octets:\n%q", p.parts[1].body)
		}
	})
}
