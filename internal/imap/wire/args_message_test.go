package wire

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"mailroom/internal/connbuf"
)

func TestReadStore(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadStore, []cmdCase[Store]{
		// RFC 9051 6.4.6 example
		{in: `A003 STORE 2:4 +FLAGS (\Deleted)`, want: Store{Set: seqs("2:4"), Op: StoreAdd, Flags: []string{`\Deleted`}}},
		{in: `a STORE 1 FLAGS ()`, want: Store{Set: seqs("1"), Op: StoreReplace}},
		{in: `a UID STORE 1:* -flags.silent (\seen $Forwarded)`,
			want: Store{Set: seqs("1:*"), Op: StoreRemove, Silent: true, Flags: []string{`\Seen`, "$Forwarded"}}},
		// bare flags, without parentheses (RFC 9051 store-att-flags)
		{in: `a STORE 1,3 +FLAGS.SILENT \Flagged $Junk`, want: Store{Set: seqs("1,3"), Op: StoreAdd, Silent: true, Flags: []string{`\Flagged`, "$Junk"}}},
		{in: `a STORE $ FLAGS \Answered`, want: Store{Saved: true, Op: StoreReplace, Flags: []string{`\Answered`}}},
		// RFC 7162 3.1.3 examples
		{in: `d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\Deleted)`,
			want: Store{Set: seqs("7,5,9"), UnchangedSince: u64(320162338), Op: StoreAdd, Silent: true, Flags: []string{`\Deleted`}}},
		{in: `a UID STORE 1 (unchangedsince 0) FLAGS (\Seen)`,
			want: Store{Set: seqs("1"), UnchangedSince: u64(0), Op: StoreReplace, Flags: []string{`\Seen`}}},
		{in: `a STORE`, err: "expected a space"},
		{in: `a STORE 1`, err: "expected a space"},
		{in: `a STORE 0 FLAGS (\Seen)`, err: "start at 1"},
		{in: `a STORE 1 FLAGS`, err: "expected a space"},
		{in: `a STORE 1 FLAG (\Seen)`, err: "STORE wants FLAGS, +FLAGS or -FLAGS"},
		{in: `a STORE 1 .SILENT (\Seen)`, err: "STORE wants FLAGS, +FLAGS or -FLAGS"},
		{in: `a STORE 1 FLAGS (\Seen`, err: "end of line"},
		{in: `a STORE 1 FLAGS (\*)`, err: "flag"},
		{in: `a STORE 1 FLAGS \Seen  \Draft`, err: "expected a flag"},
		{in: `a STORE 1 () FLAGS (\Seen)`, err: "empty STORE modifier list"},
		{in: `a STORE 1 (FOO 3) FLAGS (\Seen)`, err: "unknown STORE modifier FOO"},
		{in: `a STORE 1 (UNCHANGEDSINCE) FLAGS (\Seen)`, err: "expected a space"},
		{in: `a STORE 1 (UNCHANGEDSINCE x) FLAGS (\Seen)`, err: "expected a number"},
		{in: `a STORE 1 (UNCHANGEDSINCE 3)FLAGS (\Seen)`, err: "expected a space"},
		{in: `a STORE 1 FLAGS (\Seen) x`, err: "expected end of line"},
	})
}

func TestReadCopy(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadCopy, []cmdCase[Copy]{
		// RFC 9051 6.4.7 example
		{in: `A003 COPY 2:4 MEETING`, want: Copy{Set: seqs("2:4"), Mailbox: "MEETING"}},
		{in: `a UID MOVE 42:69 "Old Mail"`, want: Copy{Set: seqs("42:69"), Mailbox: "Old Mail"}},
		{in: `a MOVE $ inbox`, want: Copy{Saved: true, Mailbox: "INBOX"}},
		{in: `a COPY 1:*`, err: "expected a space"},
		{in: `a COPY x Trash`, err: "sequence"},
		{in: `a COPY 1 Trash Junk`, err: "expected end of line"},
	})
}

func TestReadUIDExpunge(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadUIDExpunge, []cmdCase[UIDExpunge]{
		// RFC 4315 2.1 example
		{in: `A003 UID EXPUNGE 3000:3002`, want: UIDExpunge{Set: seqs("3000:3002")}},
		{in: `a UID EXPUNGE $`, want: UIDExpunge{Saved: true}},
		{in: `a UID EXPUNGE`, err: "expected a space"},
		{in: `a UID EXPUNGE 1 2`, err: "expected end of line"},
	})
}

func TestReadFetch(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadFetch, []cmdCase[Fetch]{
		{in: `a FETCH 1:* FAST`, want: Fetch{Set: seqs("1:*"), Items: []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}}},
		{in: `a UID FETCH $ (UID BODY.PEEK[1.MIME]<0.10>)`, want: Fetch{Saved: true, Items: []FetchItem{{Name: "UID"},
			{Name: "BODY", Peek: true, Section: &Section{Part: []int{1}, Specifier: "MIME"}, Partial: &Partial{0, 10}}}}},
		// RFC 7162 3.2.6 example
		{in: `s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)`,
			want: Fetch{Set: seqs("300:500"), Items: []FetchItem{{Name: "FLAGS"}}, Modifiers: FetchModifiers{ChangedSince: 12345, Vanished: true}}},
		{in: `a FETCH 1`, err: "expected a space"},
		{in: `a FETCH 1 (FLAGS) (CHANGEDSINCE 0)`, err: "non-zero"},
		{in: `a FETCH 1 FLAGS x`, err: `expected "("`},
		{in: `a FETCH 1 (FLAGS) (CHANGEDSINCE 1) x`, err: "expected end of line"},
	})
}

// appendMsg is an AppendMessage with its literal read.
type appendMsg struct {
	Flags  []string
	Date   time.Time
	Body   string
	Binary bool
}

// readAppend reads a whole APPEND the way the session does, reading
// bodies up to max octets each (the rest is left to the decoder to skip).
func readAppend(d *Decoder, max int64) (name string, msgs []appendMsg, err error) {
	a, err := d.ReadAppend()
	if err != nil {
		return "", nil, err
	}
	for {
		m, ok, err := d.ReadAppendMessage()
		if err != nil {
			return a.Mailbox, msgs, err
		}
		if !ok {
			return a.Mailbox, msgs, nil
		}
		b, err := io.ReadAll(io.LimitReader(m.Literal, max))
		if err != nil {
			return a.Mailbox, msgs, err
		}
		msgs = append(msgs, appendMsg{Flags: append([]string(nil), m.Flags...), Date: m.Date, Body: string(b), Binary: m.Literal.Binary})
	}
}

func TestReadAppend(t *testing.T) {
	date := time.Date(1994, 2, 7, 21, 52, 25, 0, time.FixedZone("", -8*3600))
	type appendResult struct {
		Mailbox string
		Msgs    []appendMsg
	}
	for _, c := range []struct {
		in    string
		want  appendResult
		conts []int64 // continuations asked for
		err   string
	}{
		// RFC 9051 6.3.12 example
		{in: "A003 APPEND saved-messages (\\Seen) {11}\r\nHello Joe!\n",
			want: appendResult{"saved-messages", []appendMsg{{Flags: []string{`\Seen`}, Body: "Hello Joe!\n"}}}, conts: []int64{11}},
		{in: "a APPEND inbox \"07-Feb-1994 21:52:25 -0800\" {5+}\r\nhello",
			want: appendResult{"INBOX", []appendMsg{{Date: date, Body: "hello"}}}},
		// MULTIAPPEND (RFC 3502 6 example, abridged), literal8 (RFC 3516)
		{in: "A003 APPEND saved-messages (\\seen $x) \"07-Feb-1994 21:52:25 -0800\" {3}\r\none {3+}\r\ntwo ~{4}\r\nt\x00re",
			want: appendResult{"saved-messages", []appendMsg{{Flags: []string{`\Seen`, "$x"}, Date: date, Body: "one"},
				{Body: "two"}, {Body: "t\x00re", Binary: true}}}, conts: []int64{3, 4}},
		{in: "a APPEND x () {0}\r\n", want: appendResult{"x", []appendMsg{{Body: ""}}}, conts: []int64{0}},
		{in: "a APPEND x", err: "APPEND needs a message"},
		{in: "a APPEND x)", err: "expected a space"},
		{in: "a APPEND", err: "expected a space"},
		{in: "a APPEND x (\\Seen)", err: "expected a space"},
		{in: "a APPEND x (\\Seen) hello", err: "expected a literal"},
		{in: "a APPEND x \"7-Feb-1994\" {3}", err: "date-time"},
		{in: "a APPEND x {3+}\r\nabc extra", err: `expected a literal, got "e"`},
		{in: "a APPEND x {3+}\r\nabc{1}", err: `expected end of line, got "{"`},
		{in: "a APPEND x {3+}\r\nabc (", err: "expected a flag"},
	} {
		eachRig(t, c.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			readCmd(t, r, func(d *Decoder) (appendResult, error) {
				name, msgs, err := readAppend(d, 1<<20)
				return appendResult{name, msgs}, err
			}, func(got appendResult, err error) {
				if c.err != "" {
					if err == nil || !strings.Contains(err.Error(), c.err) {
						t.Errorf("%q: error %v, want one containing %q", c.in, err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("%q: %v", c.in, err)
				}
				if show(got) != show(c.want) || fmt.Sprint(r.conts) != fmt.Sprint(c.conts) {
					t.Errorf("%q:\n got  %s %v\n want %s %v", c.in, show(got), r.conts, show(c.want), c.conts)
				}
			})
		})
	}
}

// TestAppendStreams checks that the message is never read into memory:
// a literal over MaxInlineLiteral and MaxLine streams, and what the caller
// leaves unread is skipped.
func TestAppendStreams(t *testing.T) {
	big := strings.Repeat("x", 300)
	in := "a APPEND INBOX {300}\r\n" + big + " (\\Draft) {300+}\r\n" + big + "\r\nb NOOP\r\n"
	eachRig(t, in, Limits{MaxLine: 64, MaxInlineLiteral: 16}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a")
		mustSP(t, d)
		d.ReadAtom()
		_, msgs, err := readAppend(d, 10)
		if err != nil || len(msgs) != 2 || msgs[0].Body != big[:10] || msgs[1].Flags[0] != `\Draft` {
			t.Fatalf("%v %+v", err, msgs)
		}
		mustTag(t, d, "b")
	})
}

func TestReadAppendTooBig(t *testing.T) {
	eachRig(t, "a APPEND INBOX {2000}\r\nb NOOP\r\n", Limits{MaxLiteral: 1000}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a")
		mustSP(t, d)
		d.ReadAtom()
		_, _, err := readAppend(d, 10)
		var tl *LiteralTooLargeError
		if !errors.As(err, &tl) || len(r.conts) != 0 {
			t.Fatalf("%v %v", err, r.conts)
		}
		mustTag(t, d, "b")
	})
}

// TestReadFetchAllocs checks that a FETCH line's arguments cost no
// allocation once the decoder is warm, read with ReadFetch as the session
// does: the one allocation is the tag's string.
func TestReadFetchAllocs(t *testing.T) {
	d := NewDecoder(connbuf.NewReader(&repeatReader{line: []byte(thunderbirdFetch)}), Limits{}, nil)
	read := func() {
		if _, err := d.ReadTag(); err != nil {
			t.Fatal(err)
		}
		d.ExpectSP()
		d.ReadAtom()
		d.ExpectSP()
		d.ReadAtom()
		f, err := d.ReadFetch()
		if err != nil || len(f.Items) != 4 {
			t.Fatal(f, err)
		}
	}
	read()
	if n := testing.AllocsPerRun(100, read); n > 1 {
		t.Errorf("ReadFetch: %v allocations per line", n)
	}
}
