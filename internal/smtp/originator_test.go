package smtp

import (
	"strings"
	"testing"
)

// FuzzCheckOriginator: any header block gets an answer, never a panic;
// an accepted one has a From address, a Sender when From has several,
// and addresses with an "@".
func FuzzCheckOriginator(f *testing.F) {
	for _, s := range []string{
		"From: ann@example.test\r\n\r\n",
		"From: ann@example.test <bob@example.test>\r\n\r\n",
		"From: \"bob@example.test\" <ann@example.test>\r\nSender: ann@example.test\r\n\r\n",
		"From: a@x.test, b@x.test\r\nSender: a@x.test\r\nReply-To: G: c@y.test;\r\n\r\n",
		"From: =?utf-8?q?x=40y.test?= <a@x.test>\r\n\r\n",
		"From: =?koi8-r?b?8NLJ18XU?= <a@x.test>\r\n\r\n",
		"From: \"a\\\"b\"@x.test\r\n\r\n",
		"From: Team: a@x.test;\r\nFrom: b@x.test\r\n\r\n",
		"From:\r\n\t<a@x.test>\r\n\r\n",
		"from : (c) a@[127.0.0.1]\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, hdr []byte) {
		o, err := checkOriginator(hdr)
		if err != nil {
			return
		}
		if len(o.from) == 0 || (len(o.from) > 1 && o.sender == "") {
			t.Fatalf("accepted %q: %+v", hdr, o)
		}
		for _, a := range append(o.from, o.sender) {
			if a != "" && !strings.Contains(a, "@") {
				t.Fatalf("accepted %q with address %q", hdr, a)
			}
		}
	})
}
