package thread

import (
	"fmt"
	"strings"
	"testing"
)

func FuzzMsgIDs(f *testing.F) {
	for _, s := range []string{
		"<a@b> <c@d>", `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>`, "junk <x <y@z>> (c) <@> <a@>",
		"<a\\\"b@c>", "<<<>>>", "<a@b", "\r\n\t<a@b>\r\n <c@d>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := MsgIDs(nil, s)
		if len(ids) > maxRefs {
			t.Fatalf("%d ids", len(ids))
		}
		for _, id := range ids {
			at := strings.LastIndexByte(id, '@')
			if at <= 0 || at == len(id)-1 || strings.ContainsAny(id, "<> \t\r\n") {
				t.Fatalf("invalid id %q from %q", id, s)
			}
		}
		if first := FirstMsgID(s); len(ids) > 0 && len(ids) < maxRefs && first != ids[0] {
			t.Fatalf("FirstMsgID %q, MsgIDs starts with %q", first, ids[0])
		}
	})
}

// FuzzThreader builds messages from the input: each line is one message,
// "id refs subject-flag date", over a small id alphabet so references
// collide, loop and dangle. Every message must come out exactly once
// from both algorithms.
func FuzzThreader(f *testing.F) {
	f.Add([]byte("a b 0 1\nb a 1 2\nc ab 0 0\nd zz 2 5\na a 0 0\n"))
	f.Add([]byte("a  0 1\nb a 1 1\nc b 1 1\nd c 0 1\ne x 1 0\nf x 1 0\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		subjects := []string{"", "s", "Re: s", "t", "Fwd: t", "[l] re: s (fwd)"}
		var msgs []*Message
		for i, line := range strings.Split(string(in), "\n") {
			if i >= 300 {
				break
			}
			f := strings.Fields(line)
			m := &Message{Num: uint32(i + 1), Fields: &Fields{}}
			if len(f) > 0 {
				m.MessageID = "<" + f[0] + "@x>"
			}
			if len(f) > 1 {
				var refs strings.Builder
				for _, c := range f[1] {
					fmt.Fprintf(&refs, "<%c@x> ", c)
				}
				if len(f[1])%2 == 0 {
					m.References = refs.String()
				} else {
					m.InReplyTo = refs.String()
				}
			}
			if len(f) > 2 && len(f[2]) > 0 {
				m.Subject = subjects[int(f[2][0])%len(subjects)]
			}
			if len(f) > 3 && len(f[3]) > 0 {
				m.Sent = int64(f[3][0] % 4)
			}
			msgs = append(msgs, m)
		}
		if a, b := render(msgs, References(msgs)), render(msgs, References(prepared(msgs))); a != b {
			t.Fatalf("Prepare changes REFERENCES: %s vs %s", a, b)
		}
		if a, b := render(msgs, OrderedSubject(msgs)), render(msgs, OrderedSubject(compacted(msgs))); a != b {
			t.Fatalf("Compact changes ORDEREDSUBJECT: %s vs %s", a, b)
		}
		if a, b := render(msgs, References(msgs)), render(msgs, References(compacted(msgs))); a != b {
			t.Fatalf("Compact changes REFERENCES: %s vs %s", a, b)
		}
		for name, roots := range map[string][]*Node{"REFERENCES": References(msgs), "ORDEREDSUBJECT": OrderedSubject(msgs)} {
			seen, _ := count(roots, len(msgs))
			for i, n := range seen {
				if n != 1 {
					t.Fatalf("%s: message %d appears %d times", name, i+1, n)
				}
			}
			for _, r := range roots {
				if r.Msg < 0 && len(r.Children) < 2 {
					t.Fatalf("%s: dummy root with %d children", name, len(r.Children))
				}
			}
		}
	})
}
