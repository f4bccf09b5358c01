package mailbox

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/mailbox/search"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// storeMessage is a search.Message over the store; with noContent set it
// fails the test if the evaluator reads the message.
type storeMessage struct {
	t         *testing.T
	st        store.Store
	mailbox   int64
	meta      store.MessageMeta
	seq       uint32
	noContent bool
}

func (m *storeMessage) Meta() store.MessageMeta { return m.meta }
func (m *storeMessage) Seq() uint32             { return m.seq }
func (m *storeMessage) Recent() bool            { return false }
func (m *storeMessage) Structure(ctx context.Context) (*mime.Message, error) {
	if m.noContent {
		m.t.Errorf("UID %d: structure read", m.meta.UID)
	}
	return m.st.Structure(ctx, m.mailbox, m.meta.UID)
}
func (m *storeMessage) Body(ctx context.Context) (store.Body, error) {
	if m.noContent {
		m.t.Errorf("UID %d: body read", m.meta.UID)
	}
	return m.st.OpenBody(ctx, m.mailbox, m.meta.UID)
}

func (f *fixture) messages(noContent bool) []search.Message {
	f.t.Helper()
	list, err := f.st.MessageList(context.Background(), f.inbox.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]search.Message, len(list))
	for i, meta := range list {
		out[i] = &storeMessage{t: f.t, st: f.st, mailbox: f.inbox.ID, meta: meta, seq: uint32(i + 1), noContent: noContent}
	}
	return out
}

// evaluated is what the evaluator alone finds in INBOX, reading every
// message: the answer an index-backed search must give.
func (f *fixture) evaluated(m *search.Matcher) []uint32 {
	f.t.Helper()
	var uids []uint32
	for _, msg := range f.messages(false) {
		if ok, err := m.Match(context.Background(), msg); err != nil {
			f.t.Fatal(err)
		} else if ok {
			uids = append(uids, msg.Meta().UID)
		}
	}
	return uids
}

func (f *fixture) appendRaw(raw string, prefix string) uint32 {
	f.t.Helper()
	ctx := context.Background()
	m, err := f.st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		f.t.Fatal(err)
	}
	var p []byte
	if prefix != "" {
		p = []byte(prefix)
	}
	d, err := f.reg.Append(ctx, m, []store.Target{{MailboxID: f.inbox.ID, HeaderPrefix: p}})
	if err != nil {
		f.t.Fatal(err)
	}
	return d[0].UID
}

// TestSearchReadsNoMessage: text keys the index decides are answered
// without reading any message, and agree with the evaluator.
func TestSearchReadsNoMessage(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.appendRaw("From: Jörg <j@example.de>\r\nSubject: Grüße\r\n\r\nDas Budget für 東京.\r\n", "")
	b := f.appendRaw("From: ann@example.test\r\nSubject: =?UTF-8?Q?K=C3=B6ln?=\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+YnVkZ2V0PC9iPg==\r\n", "Delivered-To: ann@example.test\r\n")
	c := f.appendRaw("Subject: other\r\n\r\nnothing\r\n", "")
	for _, tc := range []struct {
		key  *search.Key
		want []uint32
	}{
		{&search.Key{Op: "TEXT", Value: "BUDGET"}, []uint32{a, b}},
		{&search.Key{Op: "BODY", Value: "<b>budget"}, []uint32{b}},
		{&search.Key{Op: "BODY", Value: "東京"}, []uint32{a}},
		{&search.Key{Op: "SUBJECT", Value: "köln"}, []uint32{b}},
		{&search.Key{Op: "FROM", Value: "JÖRG"}, []uint32{a}},
		{&search.Key{Op: "TEXT", Value: "delivered-to: ann"}, []uint32{b}},
		{&search.Key{Op: "NOT", Children: []*search.Key{{Op: "TEXT", Value: "budget"}}}, []uint32{c}},
		{&search.Key{Op: "OR", Children: []*search.Key{{Op: "TEXT", Value: "nothing"}, {Op: "SUBJECT", Value: "grüße"}}}, []uint32{a, c}},
	} {
		m, err := search.Compile(tc.key, search.Context{MaxSeq: 3, MaxUID: c})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.reg.Search(ctx, f.inbox.ID, m, f.messages(true))
		if err != nil {
			t.Fatal(err)
		}
		// The evaluator alone, reading the messages.
		want := f.evaluated(m)
		if !slices.Equal(got, tc.want) || !slices.Equal(want, tc.want) {
			t.Errorf("%+v: index %v, evaluator %v, want %v", tc.key, got, want, tc.want)
		}
	}
}

// TestSearchUnindexedFallsBack: messages stored around the mailbox
// service (no text) are still found, by reading them; Reindex then
// indexes them, skipping the per-copy prefix.
func TestSearchUnindexedFallsBack(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.appendRaw("Subject: indexed\r\n\r\nneedle one\r\n", "")
	m, _ := f.st.Stage(ctx, strings.NewReader("Subject: plain\r\n\r\nneedle two\r\n"))
	d, err := f.st.Deliver(ctx, m, []store.Target{{MailboxID: f.inbox.ID, HeaderPrefix: []byte("X-Prefix: needle three\r\n")}})
	if err != nil {
		t.Fatal(err)
	}
	key := &search.Key{Op: "BODY", Value: "needle"}
	mt, err := search.Compile(key, search.Context{MaxSeq: 2, MaxUID: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.reg.Search(ctx, f.inbox.ID, mt, f.messages(false))
	if err != nil || !slices.Equal(got, []uint32{1, d[0].UID}) {
		t.Fatalf("before reindex: %v, %v", got, err)
	}
	var last [2]int
	if err := f.reg.Reindex(ctx, 0, func(done, total int) { last = [2]int{done, total} }); err != nil || last != [2]int{1, 1} {
		t.Fatalf("reindex: %v, last progress %v", err, last)
	}
	res, err := f.st.SearchText(ctx, f.inbox.ID, []store.TextQuery{{Field: store.TextAll, Needle: "NEEDLE"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unindexed) != 0 || !slices.Equal(res.Hits[0], []uint32{1, 2}) {
		t.Fatalf("after reindex: %+v", res)
	}
	// The prefix is not in the content's index ("NEEDLE THREE" is only
	// in the prefix), but TEXT still finds it through the prefix check.
	res, _ = f.st.SearchText(ctx, f.inbox.ID, []store.TextQuery{{Field: store.TextAll, Needle: "NEEDLE THREE"}}, nil)
	if len(res.Hits[0]) != 0 {
		t.Errorf("prefix indexed with the content: %v", res.Hits[0])
	}
	mt, _ = search.Compile(&search.Key{Op: "TEXT", Value: "needle three"}, search.Context{MaxSeq: 2, MaxUID: 2})
	got, err = f.reg.Search(ctx, f.inbox.ID, mt, f.messages(true))
	if err != nil || !slices.Equal(got, []uint32{d[0].UID}) {
		t.Errorf("TEXT in the prefix: %v, %v", got, err)
	}
	last = [2]int{-1, -1}
	if err := f.reg.Reindex(ctx, 0, func(done, total int) { last = [2]int{done, total} }); err != nil || last != [2]int{0, 0} {
		t.Fatalf("second reindex: %v, last progress %v", err, last)
	}
}

// TestSearchStaleEntryReadsMessage: an index entry made before the MIME
// part headers were indexed (format 1, as the schema upgrade leaves it)
// does not answer TEXT, whose answer would miss an attachment's name:
// the message is read instead, until a reindex makes the entry current.
// Other keys are still answered from the old entry.
func TestSearchStaleEntryReadsMessage(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	withName := "Subject: Angebot\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsiehe Anhang\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''Kostenvoranschl%C3%A4ge.pdf\r\n\r\n%PDF\r\n--b--\r\n"
	f.appendRaw(withName, "")
	f.appendRaw("Subject: other\r\n\r\nnothing\r\n", "")
	// Make the entries what the old extractor wrote (no part headers),
	// of format 1.
	list, err := f.st.MessageList(ctx, f.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	old := &store.TextDoc{Subject: "ANGEBOT\n", Header: "SUBJECT: ANGEBOT\nCONTENT-TYPE: MULTIPART/MIXED; BOUNDARY=B\n", Body: "SIEHE ANHANG\n", BodyComplete: true}
	if err := f.st.IndexText(ctx, list[0].ContentID, old); err != nil {
		t.Fatal(err)
	}
	conn, err := sqlite.OpenConn(filepath.Join(f.st.Dir(), "mail.db"), sqlite.OpenReadWrite|sqlite.OpenWAL)
	if err != nil {
		t.Fatal(err)
	}
	err = sqlitex.ExecuteTransient(conn, "UPDATE content_indexed SET text_format = 1", nil)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	search1 := func(key *search.Key, noContent bool) []uint32 {
		t.Helper()
		mt, err := search.Compile(key, search.Context{MaxSeq: 2, MaxUID: 2})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.reg.Search(ctx, f.inbox.ID, mt, f.messages(noContent))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := search1(&search.Key{Op: "TEXT", Value: "kostenvoranschläge"}, false); !slices.Equal(got, []uint32{1}) {
		t.Errorf("TEXT on a stale entry: %v, want [1]", got)
	}
	if got := search1(&search.Key{Op: "SUBJECT", Value: "angebot"}, true); !slices.Equal(got, []uint32{1}) {
		t.Errorf("SUBJECT on a stale entry: %v, want [1]", got)
	}
	if got := search1(&search.Key{Op: "BODY", Value: "anhang"}, true); !slices.Equal(got, []uint32{1}) {
		t.Errorf("BODY on a stale entry: %v, want [1]", got)
	}
	var last [2]int
	if err := f.reg.Reindex(ctx, 0, func(done, total int) { last = [2]int{done, total} }); err != nil || last != [2]int{2, 2} {
		t.Fatalf("reindex: %v, last progress %v", err, last)
	}
	if got := search1(&search.Key{Op: "TEXT", Value: "kostenvoranschläge"}, true); !slices.Equal(got, []uint32{1}) {
		t.Errorf("TEXT after reindex: %v, want [1]", got)
	}
}
