package search

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// testMessages is the table the key tests run against.
func testMessages(t testing.TB) []*testMsg {
	m1 := newMsg(t, crlf(`Date: Mon, 7 Feb 1994 21:52:25 -0800
From: Alice Smith <alice@example.com>
To: bob@example.org
Cc: carol@example.net
Subject: Meeting tomorrow
Message-ID: <1@example.com>

Let's meet at noon.
The string xyzzy is here.
`), store.MessageMeta{UID: 10, Flags: store.FlagSeen | store.FlagFlagged, ModSeq: 100, ContentID: 7, ThreadID: 5,
		InternalDate: utc("1994-02-01T23:30:00Z"), Keywords: []string{"$Forwarded", "Work"}}, 1, false)

	m2 := newMsg(t, crlf(`Date: Wed, 2 Feb 1994 10:00:00 +0000
From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.de>
To: "Smith, John" <john@example.com>
Bcc: secret@example.com
Subject: =?UTF-8?B?`+b64("Grüße aus Köln")+`?=
X-Empty:
X-Priority: 1
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

`+b64("Привет, мир! Überraschung für alle.\r\n")+`
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Sch=C3=B6ne Gr=C3=BC=C3=9Fe</p>
--b1--
`), store.MessageMeta{UID: 20, Flags: store.FlagAnswered, ModSeq: 200, ContentID: 8, ThreadID: 6,
		InternalDate: utc("1994-02-02T12:00:00Z")}, 2, true)

	m3 := newMsg(t, crlf(`From: carol@example.net
To: alice@example.com
Subject: Photos
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe aus M=FCnchen, soft=
break here.
--mix
Content-Type: message/rfc822

Subject: Inner topic
From: dave@example.org

nested body words
--mix
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

`+b64("hiddenword")+`
--mix--
`), store.MessageMeta{UID: 30, Flags: store.FlagDeleted | store.FlagDraft | store.FlagSeen, ModSeq: 300, ContentID: 9, ThreadID: 5,
		InternalDate: utc("1994-02-03T00:30:00Z"), Keywords: []string{"work"}}, 3, true)

	m4 := newMsg(t, crlf(`Date: Tue, 1 Feb 1994 23:30:00 -0500
From: eve@example.com
Subject: late night
Content-Type: text/plain

short
`), store.MessageMeta{UID: 40, ModSeq: 400, ContentID: 10, InternalDate: utc("1994-02-02T03:00:00Z")}, 4, false)
	return []*testMsg{m1, m2, m3, m4}
}

func TestKeys(t *testing.T) {
	msgs := testMessages(t)
	size4 := msgs[3].meta.Size
	est := time.FixedZone("EST", -5*3600)
	saved := []uint32{20, 40}
	base := Context{MaxSeq: 4, MaxUID: 40, Saved: saved}
	inEST := base
	inEST.Loc = est
	cases := []struct {
		key  string
		c    Context
		want []uint32
	}{
		{key: `ALL`, want: []uint32{10, 20, 30, 40}},
		{key: `ANSWERED`, want: []uint32{20}},
		{key: `UNANSWERED`, want: []uint32{10, 30, 40}},
		{key: `DELETED`, want: []uint32{30}},
		{key: `UNDELETED`, want: []uint32{10, 20, 40}},
		{key: `DRAFT`, want: []uint32{30}},
		{key: `UNDRAFT`, want: []uint32{10, 20, 40}},
		{key: `FLAGGED`, want: []uint32{10}},
		{key: `UNFLAGGED`, want: []uint32{20, 30, 40}},
		{key: `SEEN`, want: []uint32{10, 30}},
		{key: `UNSEEN`, want: []uint32{20, 40}},
		{key: `RECENT`, want: []uint32{20, 30}},
		{key: `NEW`, want: []uint32{20}},
		{key: `OLD`, want: []uint32{10, 40}},
		// Keywords compare case-insensitively.
		{key: `KEYWORD WORK`, want: []uint32{10, 30}},
		{key: `KEYWORD $forwarded`, want: []uint32{10}},
		{key: `UNKEYWORD Work`, want: []uint32{20, 40}},
		{key: `KEYWORD $Junk`, want: nil},
		// Addresses: display name and address, RFC 2047 decoded.
		{key: `FROM "Smith"`, want: []uint32{10}},
		{key: `TO smith`, want: []uint32{20}},
		{key: `FROM "jörg MÜLLER"`, want: []uint32{20}},
		{key: `FROM "<JORG@EXAMPLE.DE>"`, want: []uint32{20}},
		{key: `CC carol`, want: []uint32{10}},
		{key: `BCC secret`, want: []uint32{20}},
		{key: `TO alice`, want: []uint32{30}},
		// SUBJECT with an encoded word; simple folding: ß is not SS.
		{key: `SUBJECT "GRÜßE AUS"`, want: []uint32{20}},
		{key: `SUBJECT "köln"`, want: []uint32{20}},
		{key: `SUBJECT "GRÜSSE"`, want: nil},
		{key: `SUBJECT ""`, want: []uint32{10, 20, 30, 40}},
		// HEADER: an empty string asks for the field's presence.
		{key: `HEADER X-Empty ""`, want: []uint32{20}},
		{key: `HEADER x-priority ""`, want: []uint32{20}},
		{key: `HEADER X-Missing ""`, want: nil},
		{key: `HEADER Message-ID "1@EXAMPLE"`, want: []uint32{10}},
		{key: `HEADER Date "-0500"`, want: []uint32{40}},
		// BODY: text parts, transfer- and charset-decoded.
		{key: `BODY "привет"`, want: []uint32{20}},
		{key: `BODY "ÜBERRASCHUNG FÜR"`, want: []uint32{20}},
		{key: `BODY "grüße aus münchen"`, want: []uint32{30}},
		{key: `BODY "GRÜSSE"`, want: nil},
		{key: `BODY "softbreak here"`, want: []uint32{30}},
		{key: `BODY "schöne grüße"`, want: []uint32{20}},
		{key: `BODY hiddenword`, want: nil}, // application/octet-stream
		{key: `BODY "inner topic"`, want: []uint32{30}},
		{key: `BODY "nested body"`, want: []uint32{30}},
		{key: `BODY xyzzy`, want: []uint32{10}},
		{key: `BODY alice`, want: nil},
		{key: `BODY ""`, want: []uint32{10, 20, 30, 40}},
		// TEXT: header or body.
		{key: `TEXT alice`, want: []uint32{10, 30}},
		{key: `TEXT meeting`, want: []uint32{10}},
		{key: `TEXT xyzzy`, want: []uint32{10}},
		{key: `TEXT "subject: photos"`, want: []uint32{30}},
		{key: `TEXT "string not in mailbox"`, want: nil},
		// OR/NOT nesting.
		{key: `OR SEEN FLAGGED`, want: []uint32{10, 30}},
		{key: `NOT OR SEEN FLAGGED`, want: []uint32{20, 40}},
		{key: `OR FROM alice NOT SEEN`, want: []uint32{10, 20, 40}},
		{key: `NOT (OR BODY xyzzy DELETED)`, want: []uint32{20, 40}},
		{key: `OR NOT BODY "привет" NOT ANSWERED`, want: []uint32{10, 30, 40}},
		{key: `OR (SEEN BODY nested) (NOT SEEN SUBJECT late)`, want: []uint32{30, 40}},
		{key: `NOT NOT NOT DELETED`, want: []uint32{10, 20, 40}},
		{key: `DELETED FROM "CAROL" SINCE 1-Feb-1994`, want: []uint32{30}}, // RFC 3501 example
		{key: `FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`, want: nil},      // RFC 9051 example
		// INTERNALDATE in UTC, then in EST.
		{key: `BEFORE 2-Feb-1994`, want: []uint32{10}},
		{key: `ON 2-Feb-1994`, want: []uint32{20, 40}},
		{key: `SINCE 2-Feb-1994`, want: []uint32{20, 30, 40}},
		{key: `SAVEDON 3-Feb-1994`, want: []uint32{30}},
		{key: `ON 2-Feb-1994`, c: inEST, want: []uint32{20, 30}},
		{key: `ON 1-Feb-1994`, c: inEST, want: []uint32{10, 40}},
		{key: `SINCE 3-Feb-1994`, c: inEST, want: nil},
		// Date: header day as written, in its own zone (m4 is Feb 2 in UTC).
		{key: `SENTON 1-Feb-1994`, want: []uint32{40}},
		{key: `SENTBEFORE 2-Feb-1994`, want: []uint32{40}},
		{key: `SENTSINCE 2-Feb-1994`, want: []uint32{10, 20}},
		{key: `SENTON 7-Feb-1994`, want: []uint32{10}},
		{key: `NOT SENTON 1-Feb-1994`, want: []uint32{10, 20, 30}},
		// Sizes: LARGER is >, SMALLER is <.
		{key: fmt.Sprintf(`UID 40 LARGER %d`, size4-1), want: []uint32{40}},
		{key: fmt.Sprintf(`UID 40 LARGER %d`, size4), want: nil},
		{key: fmt.Sprintf(`UID 40 SMALLER %d`, size4), want: nil},
		{key: fmt.Sprintf(`UID 40 SMALLER %d`, size4+1), want: []uint32{40}},
		{key: `SMALLER 1`, want: nil},
		{key: `LARGER 0`, want: []uint32{10, 20, 30, 40}},
		// Sequence and UID sets with "*".
		{key: `2:*`, want: []uint32{20, 30, 40}},
		{key: `*`, want: []uint32{40}},
		{key: `1,3`, want: []uint32{10, 30}},
		{key: `*:3`, want: []uint32{30, 40}},
		{key: `UID 15:*`, want: []uint32{20, 30, 40}},
		{key: `UID 25:35`, want: []uint32{30}},
		{key: `UID 41:*`, want: []uint32{40}}, // RFC 9051 6.4.9: n:* includes the last
		{key: `UID *`, want: []uint32{40}},
		{key: `UID 1:9,11:19`, want: nil},
		// SEARCHRES "$".
		{key: `$`, want: []uint32{20, 40}},
		{key: `UID $`, want: []uint32{20, 40}},
		{key: `NOT $`, want: []uint32{10, 30}},
		{key: `$`, c: Context{MaxSeq: 4, MaxUID: 40}, want: nil},
		// CONDSTORE.
		{key: `MODSEQ 200`, want: []uint32{20, 30, 40}},
		{key: `MODSEQ "/flags/\\seen" all 300`, want: []uint32{30, 40}},
		{key: `MODSEQ 0`, want: []uint32{10, 20, 30, 40}},
		// OBJECTID.
		{key: `EMAILID M8`, want: []uint32{20}},
		{key: `EMAILID M08`, want: nil},
		{key: `THREADID T1`, want: nil},
		{key: `THREADID T5`, want: []uint32{10, 30}},
		{key: `THREADID T05`, want: nil},
		{key: `THREADID M5`, want: nil},
		{key: `EMAILID T7`, want: nil},
		{key: `OR THREADID T6 EMAILID M10`, want: []uint32{20, 40}},
		{key: `NOT THREADID T5`, want: []uint32{20, 40}},
		{key: `SAVEDATESUPPORTED`, want: []uint32{10, 20, 30, 40}},
	}
	for _, tc := range cases {
		c := tc.c
		if c.MaxSeq == 0 {
			c = base
		}
		got := run(t, mustKey(t, tc.key), c, msgs)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s (loc %v): got %v, want %v", tc.key, c.Loc, got, tc.want)
		}
	}
}

// Every Body opened is closed, content is loaded only when needed, and a
// search with several string keys reads each message once.
func TestLaziness(t *testing.T) {
	msgs := testMessages(t)
	c := Context{MaxSeq: 4, MaxUID: 40}

	m, _ := Compile(mustKey(t, `OR FLAGGED SEEN NOT DELETED UID 1:*`), c)
	if m.NeedsContent() {
		t.Error("flag search needs content")
	}
	for _, msg := range msgs {
		m.Match(context.Background(), msg)
		if msg.structCalls.Load() != 0 || msg.opens.Load() != 0 {
			t.Fatalf("flag search loaded uid %d", msg.meta.UID)
		}
	}
	if m, _ := Compile(mustKey(t, `BODY "" TEXT ""`), c); m.NeedsContent() {
		t.Error(`BODY "" needs content`)
	}
	// Cheap keys go first: DELETED rules out all but m3 before any load.
	m, _ = Compile(mustKey(t, `BODY nested TEXT words FROM carol SUBJECT photos HEADER X-Priority "" DELETED`), c)
	if !m.NeedsContent() {
		t.Error("BODY search does not need content")
	}
	for _, msg := range msgs {
		ok, err := m.Match(context.Background(), msg)
		if err != nil || ok {
			t.Fatalf("uid %d: %v %v", msg.meta.UID, ok, err)
		}
		want := int32(0)
		if msg.meta.UID == 30 {
			want = 1
		}
		if got := msg.opens.Load(); got != want {
			t.Errorf("uid %d: body opened %d times, want %d", msg.meta.UID, got, want)
		}
		if msg.opens.Load() != msg.closes.Load() {
			t.Errorf("uid %d: %d opens, %d closes", msg.meta.UID, msg.opens.Load(), msg.closes.Load())
		}
	}
	// SENT* needs the structure, not the body.
	m, _ = Compile(mustKey(t, `SENTSINCE 1-Jan-1990`), c)
	m.Match(context.Background(), msgs[0])
	if msgs[0].opens.Load() != 0 || msgs[0].structCalls.Load() != 1 {
		t.Error("SENTSINCE opened the body")
	}
}

func TestCharset(t *testing.T) {
	msgs := testMessages(t)
	c := Context{MaxSeq: 4, MaxUID: 40, Charset: "ISO-8859-1"}
	// "GRÜ" in ISO-8859-1 matches m3's ISO-8859-1 body and m2's UTF-8
	// subject and HTML part alike.
	got := run(t, &Key{Op: "TEXT", Value: "GR\xdc"}, c, msgs)
	if !slices.Equal(got, []uint32{20, 30}) {
		t.Errorf("got %v", got)
	}
	c.Charset = "utf-8"
	if _, err := Compile(&Key{Op: "ALL"}, c); err != nil {
		t.Error(err)
	}
	c.Charset = "x-no-such-charset"
	if _, err := Compile(&Key{Op: "ALL"}, c); !errors.Is(err, ErrBadCharset) {
		t.Errorf("unknown charset: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	deep := &Key{Op: "ALL"}
	for i := 0; i < maxDepth+5; i++ {
		deep = &Key{Op: "NOT", Children: []*Key{deep}}
	}
	for _, k := range []*Key{
		nil,
		{Op: "FOO"},
		{Op: "NOT"},
		{Op: "OR", Children: []*Key{{Op: "ALL"}}},
		{Op: "AND"},
		{Op: "AND", Children: []*Key{nil}},
		{Op: "MODSEQ", Number: 1 << 63},
		{Op: "MODSEQ", Number: 1, EntryType: "bogus", Field: `\Seen`},
		{Op: "MODSEQ", Number: 1, Field: `\Seen`},
		{Op: "EMAILID", Value: "M 1"},
		{Op: "THREADID", Value: ""},
		deep,
	} {
		if _, err := Compile(k, Context{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", k, err)
		}
	}
}

func TestEmailID(t *testing.T) {
	for _, id := range []int64{0, 1, 42, 1 << 62} {
		s := EmailID(id)
		if !validObjectID(s) {
			t.Errorf("EmailID(%d) = %q: not an objectid", id, s)
		}
		if got, ok := parseEmailID(s); !ok || got != id {
			t.Errorf("parseEmailID(%q) = %d, %v", s, got, ok)
		}
	}
}

// A Matcher is shared by concurrent sessions.
func TestConcurrentMatch(t *testing.T) {
	msgs := testMessages(t)
	m, err := Compile(mustKey(t, `OR BODY "привет" TEXT alice`), Context{MaxSeq: 4, MaxUID: 40})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				var got []uint32
				for _, msg := range msgs {
					if ok, err := m.Match(context.Background(), msg); err != nil {
						t.Error(err)
					} else if ok {
						got = append(got, msg.meta.UID)
					}
				}
				if !slices.Equal(got, []uint32{10, 20, 30}) {
					t.Errorf("got %v", got)
				}
			}
		})
	}
	wg.Wait()
}

func TestCanceled(t *testing.T) {
	msgs := testMessages(t)
	m, _ := Compile(mustKey(t, `BODY x`), Context{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Match(ctx, msgs[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}
