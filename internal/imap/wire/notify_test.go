package wire

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"mailroom/internal/connbuf"
)

// dumpNotify renders a Notify for table tests.
func dumpNotify(n *Notify) string {
	if n.None {
		return "NONE"
	}
	var b strings.Builder
	b.WriteString("SET")
	if n.Status {
		b.WriteString(" STATUS")
	}
	for _, g := range n.Groups {
		fmt.Fprintf(&b, " [%s", g.Filter)
		if g.Mailboxes != nil {
			fmt.Fprintf(&b, " %q", g.Mailboxes)
		}
		fmt.Fprintf(&b, " %v", g.Events)
		if g.Fetch != nil {
			b.WriteString(" fetch=" + dumpItems(g.Fetch))
		}
		b.WriteString("]")
	}
	return b.String()
}

func notifyLine(t *testing.T, line string) (string, error) {
	t.Helper()
	var out string
	var err error
	eachRig(t, line+"\r\n", Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "t")
		mustSP(t, d)
		name, _ := d.ReadAtom()
		out, err = "", nil
		switch strings.ToUpper(name) {
		case "NOTIFY":
			mustSP(t, d)
			var n *Notify
			n, err = d.ReadNotify()
			if err == nil {
				err = d.ExpectCRLF()
				out = dumpNotify(n)
			}
		case "SEARCH":
			mustSP(t, d)
			var q *Search
			if q, err = d.ReadSearch(); err == nil {
				err = d.ExpectCRLF()
				out = dumpItems(q.UpdateFetch)
			}
		case "CANCELUPDATE":
			var tags []string
			tags, err = d.ReadCancelUpdate()
			if err == nil {
				err = d.ExpectCRLF()
				out = fmt.Sprintf("%q", tags)
			}
		}
		if err != nil {
			d.DiscardLine()
		}
		mustEOF(t, d)
	})
	return out, err
}

func TestReadNotify(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		// RFC 5465 section 3.1 and 6 examples
		{`t NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew))`,
			`SET STATUS [SELECTED [MessageNew MessageExpunge] fetch=UID BODY[HEADER.FIELDS (from to subject)]/peek] [SUBTREE ["Lists"] [MessageNew]]`, ""},
		{`t NOTIFY SET (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes misc (MessageNew))`,
			`SET [SELECTED [MessageNew MessageExpunge] fetch=UID BODY[HEADER.FIELDS (from to subject)]/peek] [SUBTREE ["Lists"] [MessageNew]] [MAILBOXES ["misc"] [MessageNew]]`, ""},
		{`t NOTIFY NONE`, `NONE`, ""},
		{`t notify set (Selected-Delayed (messagenew messageexpunge flagchange)) (personal (MailboxName SubscriptionChange))`,
			`SET [SELECTED-DELAYED [MessageNew MessageExpunge FlagChange]] [PERSONAL [MailboxName SubscriptionChange]]`, ""},
		{`t NOTIFY SET (mailboxes (inbox "a b" {1+}` + "\r\nc) (MessageNew MessageExpunge)) (inboxes NONE) (subscribed (XFoo))",
			`SET [MAILBOXES ["INBOX" "a b" "c"] [MessageNew MessageExpunge]] [INBOXES []] [SUBSCRIBED [XFoo]]`, ""},
		{`t NOTIFY SET (selected NONE)`, `SET [SELECTED []]`, ""},
		{`t CANCELUPDATE "A1" "b 2"`, `["A1" "b 2"]`, ""},
		// errors
		{`t NOTIFY GET`, "", "SET or NONE"},
		{`t NOTIFY SET`, "", "expected a space"},
		{`t NOTIFY SET STATUS`, "", "expected a space"},
		{`t NOTIFY SET (selected)`, "", "expected a space"},
		{`t NOTIFY SET (nowhere (MessageNew))`, "", "unknown NOTIFY filter"},
		{`t NOTIFY SET (selected ())`, "", "NOTIFY event"},
		{`t NOTIFY SET (subtree (MessageNew))`, "", "expected"},
		{`t NOTIFY SET (mailboxes () (MessageNew))`, "", "mailbox"},
		{`t NOTIFY SET (selected (MessageNew ()))`, "", "empty fetch-att list"},
		{`t NOTIFY SET (selected (MessageNew (nosuchatt)))`, "", "FETCH"},
		{`t NOTIFY SET (selected (MessageNew)`, "", ")"},
		{`t NOTIFY SET (selected (MessageNew)) x`, "", "("},
		{`t CANCELUPDATE`, "", "quoted tag"},
		{`t CANCELUPDATE A1`, "", "quoted tag"},
		{`t SEARCH RETURN (UPDATE ()) ALL`, "", "empty fetch-att list"},
		{`t SEARCH RETURN (UPDATE (NOSUCH)) ALL`, "", "FETCH"},
	} {
		got, err := notifyLine(t, c.in)
		if c.err == "" && err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if c.err != "" {
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.err)) {
				t.Errorf("%s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestReadNotifyLimits(t *testing.T) {
	many := "t NOTIFY SET (mailboxes (" + strings.TrimSpace(strings.Repeat("m ", maxNotifyNames+1)) + ") (MessageNew))"
	if _, err := notifyLine(t, many); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("%d names: %v", maxNotifyNames+1, err)
	}
	tags := "t CANCELUPDATE" + strings.Repeat(` "x"`, maxNotifyNames+1)
	if _, err := notifyLine(t, tags); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("%d tags: %v", maxNotifyNames+1, err)
	}
}

func TestReadSearchUpdate(t *testing.T) {
	for _, c := range []struct {
		in         string
		update     bool
		all, count bool
	}{
		{`t SEARCH RETURN (UPDATE) SEEN`, true, true, false},
		{`t SEARCH RETURN (update COUNT) SEEN`, true, false, true},
		{`t UID SEARCH RETURN (CONTEXT) SEEN`, false, true, false},
		{`t UID SEARCH RETURN (CONTEXT ALL UPDATE) SEEN`, true, true, false},
		{`t SEARCH RETURN (COUNT) SEEN`, false, false, true},
		// RFC 5465 section 7
		{`t SEARCH RETURN (COUNT UPDATE (UID BODY[HEADER.FIELDS (TO FROM SUBJECT)])) FROM "boss"`, true, false, true},
		{`t SEARCH RETURN (UPDATE (UID)) SEEN`, true, true, false},
	} {
		eachRig(t, c.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			d := r.d
			mustTag(t, d, "t")
			mustSP(t, d)
			if name, _ := d.ReadAtom(); name == "UID" {
				mustSP(t, d)
				d.ReadAtom()
			}
			mustSP(t, d)
			s, err := d.ReadSearch()
			if err != nil {
				t.Fatalf("%s: %v", c.in, err)
			}
			mustCRLF(t, d)
			if s.Update != c.update || s.Return.All != c.all || s.Return.Count != c.count {
				t.Errorf("%s: update %v return %+v", c.in, s.Update, *s.Return)
			}
			if strings.Contains(c.in, "UPDATE (") != (s.UpdateFetch != nil) {
				t.Errorf("%s: fetch %s", c.in, dumpItems(s.UpdateFetch))
			}
		})
	}
}

// FuzzNotify reads NOTIFY and CANCELUPDATE lines: never a panic, bounded
// buffers, and the same result however the input is chunked.
func FuzzNotify(f *testing.F) {
	for _, s := range []string{
		"a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew))\r\n",
		"a NOTIFY SET (mailboxes (INBOX {1+}\r\nx) (MessageNew MessageExpunge FlagChange)) (personal (MailboxName SubscriptionChange))\r\n",
		"a NOTIFY NONE\r\nb CANCELUPDATE \"a\" \"b\"\r\n",
		"a NOTIFY SET (selected-delayed NONE) (inboxes (AnnotationChange))\r\n",
		"a SEARCH RETURN (COUNT UPDATE (UID BODY.PEEK[HEADER.FIELDS (TO)])) ALL\r\n",
	} {
		f.Add([]byte(s))
	}
	run := func(t *testing.T, br *connbuf.Reader) string {
		var out strings.Builder
		d := NewDecoder(br, fuzzLimits(), func(n int64) error { return nil })
		for cmd := 0; cmd < 16; cmd++ {
			tag, err := d.ReadTag()
			if err != nil && !isSyntax(err) {
				fmt.Fprintf(&out, "end %v\n", err)
				break
			}
			if err == nil {
				err = d.ExpectSP()
			}
			if err == nil {
				if d.peekWord("SEARCH") {
					d.pos += len("SEARCH")
					var q *Search
					if err = d.ExpectSP(); err == nil {
						if q, err = d.ReadSearch(); err == nil {
							fmt.Fprintf(&out, "%q %v %s %s ", tag, q.Update, dumpItems(q.UpdateFetch), dumpKey(q.Key))
						}
					}
				} else if d.peekWord("CANCELUPDATE") {
					d.pos += len("CANCELUPDATE")
					var tags []string
					tags, err = d.ReadCancelUpdate()
					fmt.Fprintf(&out, "%q %q ", tag, tags)
				} else {
					var n *Notify
					if n, err = d.ReadNotify(); err == nil {
						fmt.Fprintf(&out, "%q %s ", tag, dumpNotify(n))
					}
				}
				if err == nil {
					err = d.ExpectCRLF()
				}
			}
			fmt.Fprintf(&out, "err %v\n", err)
			if err != nil {
				if derr := d.DiscardLine(); derr != nil {
					break
				}
			}
			if cap(d.line) > 2*fuzzMaxLine+64 || cap(d.litb) > fuzzMaxInline {
				t.Fatalf("buffers grew: line %d, literal %d", cap(d.line), cap(d.litb))
			}
			if d.depth != 0 && !d.inCmd {
				t.Fatalf("depth %d left after a command", d.depth)
			}
		}
		return out.String()
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := run(t, connbuf.NewReader(bytes.NewReader(in)))
		oneByte := run(t, connbuf.NewReader(iotest.OneByteReader(bytes.NewReader(in))))
		if whole != oneByte {
			t.Fatalf("chunking changes the result:\n%s\n---\n%s", whole, oneByte)
		}
	})
}
