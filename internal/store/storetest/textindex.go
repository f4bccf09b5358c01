package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// The full-text index (store.TextIndexer). The texts here are written as
// package search folds them (upper case ASCII, units joined by '\n'); the
// store only stores and compares them.

// deliverText stages raw, attaches doc (the backend must implement
// store.TextStager) and delivers it.
func deliverText(t *testing.T, st store.Store, raw []byte, doc *store.TextDoc, targets ...store.Target) []store.Delivered {
	t.Helper()
	ctx := context.Background()
	m := must(st.Stage(ctx, bytes.NewReader(raw)))
	ts, ok := m.(store.TextStager)
	if !ok {
		t.Fatalf("%T does not implement store.TextStager", m)
	}
	if doc != nil {
		ts.SetText(doc)
	}
	return must(st.Deliver(ctx, m, targets))
}

func searchText(t *testing.T, st store.Store, mailboxID int64, qs ...store.TextQuery) store.TextResult {
	t.Helper()
	ctx := context.Background()
	before := must(st.SearchText(ctx, mailboxID, qs, nil))
	// A backend may index in the background: the answer must be the
	// same whether the text is still waiting or indexed.
	ok(t, st.FlushText(ctx))
	after := must(st.SearchText(ctx, mailboxID, qs, nil))
	if !reflect.DeepEqual(normResult(before), normResult(after)) {
		t.Errorf("search %v: before the index was flushed %+v, after %+v", qs, before, after)
	}
	// Restricted to some UIDs (every other one, and all of them), the
	// answer is the whole mailbox's, cut to those.
	var every, half []uint32
	for i, m := range must(st.MessageList(ctx, mailboxID)) {
		every = append(every, m.UID)
		if i%2 == 0 {
			half = append(half, m.UID)
		}
	}
	for _, within := range [][]uint32{every, half, {}} {
		got := must(st.SearchText(ctx, mailboxID, qs, within))
		if want := restrictResult(after, within); !reflect.DeepEqual(normResult(got), normResult(want)) {
			t.Errorf("search %v within %v: %+v, want %+v", qs, within, got, want)
		}
	}
	return after
}

// normResult makes empty lists nil, for comparing: an empty answer may
// be either.
func normResult(r store.TextResult) store.TextResult {
	norm := func(l []uint32) []uint32 {
		if len(l) == 0 {
			return nil
		}
		return l
	}
	out := store.TextResult{Unindexed: norm(r.Unindexed), BodyUnindexed: norm(r.BodyUnindexed), Stale: norm(r.Stale)}
	for _, h := range r.Hits {
		out.Hits = append(out.Hits, norm(h))
	}
	if len(r.Prefixed) > 0 {
		out.Prefixed = r.Prefixed
	}
	return out
}

// restrictResult is r with every list cut to the UIDs within.
func restrictResult(r store.TextResult, within []uint32) store.TextResult {
	cut := func(uids []uint32) []uint32 {
		var out []uint32
		for _, u := range uids {
			if slices.Contains(within, u) {
				out = append(out, u)
			}
		}
		return out
	}
	out := store.TextResult{Hits: make([][]uint32, len(r.Hits)), Unindexed: cut(r.Unindexed), BodyUnindexed: cut(r.BodyUnindexed), Stale: cut(r.Stale)}
	for i, h := range r.Hits {
		out.Hits[i] = cut(h)
	}
	for u, p := range r.Prefixed {
		if slices.Contains(within, u) {
			if out.Prefixed == nil {
				out.Prefixed = map[uint32][]byte{}
			}
			out.Prefixed[u] = p
		}
	}
	return out
}

// wantHits checks the UIDs of each query.
func wantHits(t *testing.T, st store.Store, mailboxID int64, field store.TextField, needle string, want ...uint32) {
	t.Helper()
	res := searchText(t, st, mailboxID, store.TextQuery{Field: field, Needle: needle})
	if got := res.Hits[0]; !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("field %d %q: hits %v, want %v", field, needle, got, want)
	}
}

func testTextIndex(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "fts@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	arch := mailbox(t, st, acct, "Archive")
	docs := []*store.TextDoc{
		{ // 1: German, French
			From: "ALICE <ALICE@EXAMPLE.ORG>\nALICE@EXAMPLE.ORG\n", To: "BOB@EXAMPLE.TEST\n", Subject: "GRÜßE AUS KÖLN\n",
			Header: "FROM: ALICE <ALICE@EXAMPLE.ORG>\nTO: BOB@EXAMPLE.TEST\nSUBJECT: GRÜßE AUS KÖLN\n",
			Body:   "LIEBER BOB, DAS WETTER IST SCHÖN.\nÇA VA? À BIENTÔT\n", BodyComplete: true,
		},
		{ // 2: Chinese and Japanese, an attachment's name in the body
			From: "王小明 <WANG@EXAMPLE.CN>\n", Subject: "東京の会議\n",
			Header: "FROM: 王小明 <WANG@EXAMPLE.CN>\nSUBJECT: 東京の会議\n",
			Body:   "我们明天在东京见面。\n会議は午後三時からです。\nREPORT-2026.PDF\n", BodyComplete: true,
		},
		{ // 3: body too large to index: only the header fields are known
			From: "CAROL@EXAMPLE.NET\n", Subject: "HUGE LOG\n", Header: "SUBJECT: HUGE LOG\n", BodyComplete: false,
		},
	}
	var uids []uint32
	for i, d := range docs {
		dl := deliverText(t, st, Message(fmt.Sprintf("m%d", i), "x"), d, store.Target{MailboxID: inbox.ID})
		uids = append(uids, dl[0].UID)
	}
	// 4: delivered without text (as before the index existed).
	uids = append(uids, deliver(t, st, Message("m3", "x"), store.Target{MailboxID: inbox.ID})[0].UID)
	u1, u2, u3, u4 := uids[0], uids[1], uids[2], uids[3]

	wantHits(t, st, inbox.ID, store.TextSubject, "KÖLN", u1)
	wantHits(t, st, inbox.ID, store.TextSubject, "KOLN") // no diacritic folding
	wantHits(t, st, inbox.ID, store.TextSubject, "köln") // the store does not fold: the caller did
	wantHits(t, st, inbox.ID, store.TextBody, "À BIENTÔT", u1)
	wantHits(t, st, inbox.ID, store.TextBody, "东京", u2)       // two characters: below a trigram
	wantHits(t, st, inbox.ID, store.TextBody, "京", u2)        // one
	wantHits(t, st, inbox.ID, store.TextSubject, "東京の会議", u2) // CJK, no spaces
	wantHits(t, st, inbox.ID, store.TextBody, "REPORT-2026.PDF", u2)
	wantHits(t, st, inbox.ID, store.TextBody, "100%") // LIKE/MATCH metacharacters are literal
	wantHits(t, st, inbox.ID, store.TextBody, `"`)
	wantHits(t, st, inbox.ID, store.TextBody, "_")
	// A needle across two units or two fields never matches.
	wantHits(t, st, inbox.ID, store.TextBody, "SCHÖN.ÇA")
	wantHits(t, st, inbox.ID, store.TextAll, "KÖLNLIEBER")
	wantHits(t, st, inbox.ID, store.TextAll, "LIEBER BOB", u1)
	wantHits(t, st, inbox.ID, store.TextAll, "SUBJECT: GRÜ", u1)
	wantHits(t, st, inbox.ID, store.TextFrom, "WANG@", u2)
	wantHits(t, st, inbox.ID, store.TextTo, "WANG@")
	wantHits(t, st, inbox.ID, store.TextHeader, "HUGE", u3)
	wantHits(t, st, inbox.ID, store.TextBody, "HUGE")

	// A needle longer than what goes to the trigram index is still
	// matched in full.
	long := strings.Repeat("LIEBER BOB, ", 7) // 84 characters
	u5 := deliverText(t, st, Message("long", "x"), &store.TextDoc{Body: long + "ENDE\n", BodyComplete: true}, store.Target{MailboxID: inbox.ID})[0].UID
	wantHits(t, st, inbox.ID, store.TextBody, long+"ENDE", u5)
	wantHits(t, st, inbox.ID, store.TextAll, long+"ENDE", u5)
	wantHits(t, st, inbox.ID, store.TextBody, long+"ANFANG")
	must(st.Expunge(ctx, inbox.ID, []uint32{u5}))

	res := searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextBody, Needle: "LOG"})
	if !slices.Equal(res.Unindexed, []uint32{u4}) || !slices.Equal(res.BodyUnindexed, []uint32{u3}) || len(res.Stale) != 0 {
		t.Errorf("unindexed %v, body unindexed %v, stale %v; want [%d], [%d], []", res.Unindexed, res.BodyUnindexed, res.Stale, u4, u3)
	}
	if res.Prefixed != nil {
		t.Errorf("prefixes returned for a body query: %v", res.Prefixed)
	}

	// Copies share the text; a move keeps it; an expunge of one copy
	// leaves the other's.
	cp := must(st.Copy(ctx, inbox.ID, []uint32{u1, u2}, arch.ID, store.KeepAll))
	wantHits(t, st, arch.ID, store.TextBody, "WETTER", cp.DestUIDs[0])
	mv := must(st.Move(ctx, arch.ID, cp.DestUIDs[1:], inbox.ID, store.KeepAll))
	wantHits(t, st, inbox.ID, store.TextBody, "东京", u2, mv.DestUIDs[0])
	must(st.Expunge(ctx, inbox.ID, []uint32{u1}))
	wantHits(t, st, inbox.ID, store.TextBody, "WETTER")
	wantHits(t, st, arch.ID, store.TextBody, "WETTER", cp.DestUIDs[0])

	// Another account never sees these messages, even with the same body.
	other := newAccount(t, st, "other@example.test")
	oin := mailbox(t, st, other, "INBOX")
	wantHits(t, st, oin.ID, store.TextBody, "WETTER")
	ou := deliverText(t, st, Message("o", "x"), &store.TextDoc{Body: "WETTER\n", BodyComplete: true}, store.Target{MailboxID: oin.ID})[0].UID
	wantHits(t, st, oin.ID, store.TextBody, "WETTER", ou)
	wantHits(t, st, arch.ID, store.TextBody, "WETTER", cp.DestUIDs[0])

	// Bad queries are refused, not answered wrongly.
	for _, q := range []store.TextQuery{{Field: store.TextBody}, {Field: store.TextBody, Needle: "A\nB"}, {Field: 99, Needle: "X"}} {
		if _, err := st.SearchText(ctx, inbox.ID, []store.TextQuery{q}, nil); err == nil {
			t.Errorf("query %+v accepted", q)
		}
	}
}

func testTextIndexPrefix(t *testing.T, st store.Store) {
	acct := newAccount(t, st, "prefix@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	prefix := []byte("Delivered-To: prefix@example.test\r\n")
	u := deliverText(t, st, Message("p", "x"), &store.TextDoc{Header: "SUBJECT: P\n", BodyComplete: true},
		store.Target{MailboxID: inbox.ID, HeaderPrefix: prefix}, store.Target{MailboxID: inbox.ID})
	res := searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextAll, Needle: "DELIVERED"})
	if len(res.Hits[0]) != 0 {
		t.Errorf("the prefix is in the content's index: %v", res.Hits[0])
	}
	if got := res.Prefixed[u[0].UID]; !bytes.Equal(got, prefix) || len(res.Prefixed) != 1 {
		t.Errorf("prefixes %v, want %q for UID %d only", res.Prefixed, prefix, u[0].UID)
	}
}

func testTextReindex(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := newAccount(t, st, "ra@example.test")
	b := newAccount(t, st, "rb@example.test")
	ain, bin := mailbox(t, st, a, "INBOX"), mailbox(t, st, b, "INBOX")
	prefix := []byte("Delivered-To: ra@example.test\r\n")
	da := deliver(t, st, Message("a", "x"), store.Target{MailboxID: ain.ID, HeaderPrefix: prefix}, store.Target{MailboxID: ain.ID})
	deliver(t, st, Message("b", "x"), store.Target{MailboxID: bin.ID})
	list := must(st.UnindexedContents(ctx, a.ID, 0, 10))
	if len(list) != 1 || list[0].MailboxID != ain.ID || list[0].UID != da[0].UID || list[0].PrefixLen != int64(len(prefix)) {
		t.Fatalf("unindexed of a: %+v, want one content through UID %d with a %d-byte prefix", list, da[0].UID, len(prefix))
	}
	if all := must(st.UnindexedContents(ctx, 0, 0, 10)); len(all) != 2 {
		t.Fatalf("unindexed of all: %+v, want 2", all)
	}
	if rest := must(st.UnindexedContents(ctx, 0, list[0].ContentID, 10)); len(rest) != 1 || rest[0].MailboxID != bin.ID {
		t.Fatalf("unindexed after %d: %+v, want b's", list[0].ContentID, rest)
	}
	ok(t, st.IndexText(ctx, list[0].ContentID, &store.TextDoc{Body: "REINDEXED\n", BodyComplete: true}))
	ok(t, st.IndexText(ctx, 1<<40, &store.TextDoc{Body: "GONE\n"})) // no such content: no error
	wantHits(t, st, ain.ID, store.TextBody, "REINDEXED", da[0].UID, da[1].UID)
	if l := must(st.UnindexedContents(ctx, a.ID, 0, 10)); len(l) != 0 {
		t.Errorf("still unindexed: %+v", l)
	}
	// Re-indexing replaces.
	ok(t, st.IndexText(ctx, list[0].ContentID, &store.TextDoc{Body: "AGAIN\n", BodyComplete: true}))
	wantHits(t, st, ain.ID, store.TextBody, "REINDEXED")
	wantHits(t, st, ain.ID, store.TextBody, "AGAIN", da[0].UID, da[1].UID)
	ok(t, st.DropTextIndex(ctx, b.ID))
	wantHits(t, st, ain.ID, store.TextBody, "AGAIN", da[0].UID, da[1].UID)
	ok(t, st.DropTextIndex(ctx, 0))
	res := searchText(t, st, ain.ID, store.TextQuery{Field: store.TextBody, Needle: "AGAIN"})
	if len(res.Hits[0]) != 0 || len(res.Unindexed) != 2 {
		t.Errorf("after dropping: %+v", res)
	}
}

// testTextIndexQuerySyntax: needles made of what a backend's query
// languages give meaning to (FTS5's quotes, operators and column filters,
// GLOB's and LIKE's wildcards, escapes) are found as the plain text they
// are, and only there.
func testTextIndexQuerySyntax(t *testing.T, st store.Store) {
	acct := newAccount(t, st, "syntax@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	body := "SAY \"HI\" (NOW) * A:B ^C -D 100% A_B [X] \\PATH NEAR(E F) AND OR NOT\n"
	u := deliverText(t, st, Message("q", "x"), &store.TextDoc{Body: body, BodyComplete: true}, store.Target{MailboxID: inbox.ID})[0].UID
	other := deliverText(t, st, Message("r", "x"), &store.TextDoc{Body: "SAY HI NOW A B C D 100 AXB X PATH NEAR E F\n", BodyComplete: true}, store.Target{MailboxID: inbox.ID})[0].UID
	for _, needle := range []string{`"HI"`, `(NOW)`, `* A`, `A:B`, `^C -`, `100%`, `A_B`, `[X]`, `\PATH`, `NEAR(E F)`, `AND OR NOT`, `" (`} {
		wantHits(t, st, inbox.ID, store.TextBody, needle, u)
	}
	wantHits(t, st, inbox.ID, store.TextBody, "SAY HI", other)
	wantHits(t, st, inbox.ID, store.TextAll, "NEAR E", other)
}

// testTextIndexExact: a needle is found only where its characters stand
// together, in the one column searched, however the index finds
// candidates (every trigram of "BUDGET REVIEW" is in "THE BUDGET FOR THE
// REVIEW. REVIEW BUDGET AT RISK"; a trigram repeats in "AAAAA"), for needles
// short and long (a backend may look them up differently).
func testTextIndexExact(t *testing.T, st store.Store) {
	acct := newAccount(t, st, "exact@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	deliverOne := func(hdr, body string) uint32 {
		t.Helper()
		return deliverText(t, st, Message("e", "x"), &store.TextDoc{Header: hdr, Body: body, BodyComplete: true}, store.Target{MailboxID: inbox.ID})[0].UID
	}
	scrambled := deliverOne("SUBJECT: NOTES\n", "THE BUDGET FOR THE REVIEW. REVIEW BUDGET AT RISK. ANOTHER ROUND OF THE BUDGET. AAAA\n")
	together := deliverOne("SUBJECT: BUDGET REVIEW\n", "WE NEED ANOTHER ROUND OF THE BUDGET REVIEW SOON. XAAAAAX\n")
	headerOnly := deliverOne("SUBJECT: QUARTERLY FIGURES\n", "NOTHING HERE\n")
	wantHits(t, st, inbox.ID, store.TextBody, "BUDGET REVIEW", together)
	wantHits(t, st, inbox.ID, store.TextAll, "BUDGET REVIEW", together)
	wantHits(t, st, inbox.ID, store.TextHeader, "BUDGET REVIEW", together)
	wantHits(t, st, inbox.ID, store.TextBody, "ANOTHER ROUND OF THE BUDGET REVIEW", together)
	wantHits(t, st, inbox.ID, store.TextAll, "NEED ANOTHER ROUND OF THE BUDGET REVIEW SOON", together)
	wantHits(t, st, inbox.ID, store.TextBody, "AAAAA", together)
	wantHits(t, st, inbox.ID, store.TextBody, "AAAA", scrambled, together)
	wantHits(t, st, inbox.ID, store.TextBody, "QUARTERLY FIGURES")
	wantHits(t, st, inbox.ID, store.TextHeader, "QUARTERLY FIGURES", headerOnly)
	wantHits(t, st, inbox.ID, store.TextHeader, "NOTHING HERE")
	wantHits(t, st, inbox.ID, store.TextAll, "NOTHING HERE", headerOnly)
}
