package storetest

import (
	"context"
	"fmt"
	"testing"

	"mailroom/internal/store"
)

// Needles of one or two characters, which a trigram cannot answer: CJK
// ones are looked up in the short grams (store.ShortGrams), the others
// scanned. Every answer must be what a substring test of the field gives.
func testTextShortNeedles(t *testing.T, st store.Store) {
	ctx := context.Background()
	acct := newAccount(t, st, "short@example.test")
	inbox := mailbox(t, st, acct, "INBOX")
	docs := []*store.TextDoc{
		{ // 1: Japanese, kana and kanji; the subject ends in 東, the body starts with 京
			From: "山田太郎 <YAMADA@EXAMPLE.JP>\n", Subject: "会議のお知らせ 東\n",
			Header: "FROM: 山田太郎 <YAMADA@EXAMPLE.JP>\nSUBJECT: 会議のお知らせ 東\n",
			Body:   "京都で会いましょう。\nカタカナとひらがな\n", BodyComplete: true,
		},
		{ // 2: Chinese, mixed with Latin; a unit ends in 明 and the next starts with 天
			Subject: "明\n", Header: "SUBJECT: 明\n",
			Body: "我们在Beijing见面\n天气很好 OK\n", BodyComplete: true,
		},
		{ // 3: European only
			Subject: "À BIENTÔT\n", Header: "SUBJECT: À BIENTÔT\nX: AB\n",
			Body: "ÇA VA? OK\n", BodyComplete: true,
		},
	}
	var u []uint32
	for i, d := range docs {
		u = append(u, deliverText(t, st, Message(fmt.Sprintf("s%d", i), "x"), d, store.Target{MailboxID: inbox.ID})[0].UID)
	}
	u1, u2, u3 := u[0], u[1], u[2]

	// Two CJK characters, per field.
	wantHits(t, st, inbox.ID, store.TextSubject, "会議", u1)
	wantHits(t, st, inbox.ID, store.TextAll, "会議", u1)
	wantHits(t, st, inbox.ID, store.TextBody, "会議")
	wantHits(t, st, inbox.ID, store.TextHeader, "会議", u1)
	wantHits(t, st, inbox.ID, store.TextFrom, "山田", u1)
	wantHits(t, st, inbox.ID, store.TextTo, "山田")
	wantHits(t, st, inbox.ID, store.TextBody, "京都", u1)
	wantHits(t, st, inbox.ID, store.TextBody, "見面")     // not 见面: no folding between scripts
	wantHits(t, st, inbox.ID, store.TextBody, "见面", u2) // Han next to Latin
	wantHits(t, st, inbox.ID, store.TextBody, "カナ", u1) // katakana
	wantHits(t, st, inbox.ID, store.TextBody, "がな", u1) // hiragana
	wantHits(t, st, inbox.ID, store.TextBody, "とひ", u1) // across kana scripts
	wantHits(t, st, inbox.ID, store.TextBody, "う。", u1) // CJK punctuation
	wantHits(t, st, inbox.ID, store.TextAll, "東京")      // header then body: two fields
	wantHits(t, st, inbox.ID, store.TextAll, "明天")      // two units of one field
	wantHits(t, st, inbox.ID, store.TextBody, "面天")     // ditto in the body
	wantHits(t, st, inbox.ID, store.TextSubject, "せ東")  // a space between
	wantHits(t, st, inbox.ID, store.TextAll, "天气", u2)
	// One CJK character.
	wantHits(t, st, inbox.ID, store.TextAll, "明", u2)
	wantHits(t, st, inbox.ID, store.TextBody, "明")
	wantHits(t, st, inbox.ID, store.TextAll, "東", u1)
	wantHits(t, st, inbox.ID, store.TextBody, "東")
	wantHits(t, st, inbox.ID, store.TextBody, "京", u1)
	wantHits(t, st, inbox.ID, store.TextAll, "。", u1)
	// Mixed and non-CJK short needles (scanned).
	wantHits(t, st, inbox.ID, store.TextBody, "g见", u2)
	wantHits(t, st, inbox.ID, store.TextAll, "OK", u2, u3)
	wantHits(t, st, inbox.ID, store.TextAll, "AB", u3)
	wantHits(t, st, inbox.ID, store.TextSubject, "À", u3)
	wantHits(t, st, inbox.ID, store.TextAll, "Ç", u3)
	wantHits(t, st, inbox.ID, store.TextBody, "À")
	// Longer needles are unaffected.
	wantHits(t, st, inbox.ID, store.TextBody, "京都で", u1)
	wantHits(t, st, inbox.ID, store.TextAll, "お知らせ", u1)

	// Re-indexing replaces the grams; an expunge of the last copy
	// removes them with the content.
	res := searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextBody, Needle: "京都"})
	if len(res.Unindexed) != 0 {
		t.Fatalf("unindexed: %v", res.Unindexed)
	}
	must(st.Expunge(ctx, inbox.ID, []uint32{u1}))
	wantHits(t, st, inbox.ID, store.TextBody, "京都")
	u4 := deliverText(t, st, Message("s4", "x"), &store.TextDoc{Body: "京都\n", BodyComplete: true}, store.Target{MailboxID: inbox.ID})[0].UID
	wantHits(t, st, inbox.ID, store.TextBody, "京都", u4)
	list := must(st.UnindexedContents(ctx, acct.ID, 0, 10))
	if len(list) != 0 {
		t.Fatalf("unindexed contents: %+v", list)
	}
	// A content delivered without text, then indexed (a reindex): found
	// through its grams.
	u5 := deliver(t, st, Message("s5", "x"), store.Target{MailboxID: inbox.ID})[0].UID
	list = must(st.UnindexedContents(ctx, acct.ID, 0, 10))
	if len(list) != 1 || list[0].UID != u5 {
		t.Fatalf("unindexed contents: %+v, want UID %d's", list, u5)
	}
	ok(t, st.IndexText(ctx, list[0].ContentID, &store.TextDoc{Body: "大阪と京都\n", BodyComplete: true}))
	wantHits(t, st, inbox.ID, store.TextBody, "京都", u4, u5)
	wantHits(t, st, inbox.ID, store.TextBody, "大", u5)
	ok(t, st.IndexText(ctx, list[0].ContentID, &store.TextDoc{Body: "名古屋\n", BodyComplete: true}))
	wantHits(t, st, inbox.ID, store.TextBody, "京都", u4)
	wantHits(t, st, inbox.ID, store.TextBody, "大")
	wantHits(t, st, inbox.ID, store.TextBody, "古屋", u5)
	ok(t, st.DropTextIndex(ctx, acct.ID))
	res = searchText(t, st, inbox.ID, store.TextQuery{Field: store.TextBody, Needle: "京都"})
	if len(res.Hits[0]) != 0 || len(res.Unindexed) != 4 {
		t.Errorf("after dropping: %+v", res)
	}
}
