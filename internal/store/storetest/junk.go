package storetest

import (
	"context"
	"math"
	"testing"

	"mailroom/internal/store"
)

func junkModel(t *testing.T, st store.JunkStore, accountID int64, hashes ...uint64) store.JunkModel {
	t.Helper()
	ms := must(st.JunkModels(context.Background(), []int64{accountID}, hashes))
	if len(ms) != 1 || ms[0].AccountID != accountID {
		t.Fatalf("JunkModels(%d) = %+v", accountID, ms)
	}
	return ms[0]
}

func wantJunkCount(t *testing.T, m store.JunkModel, h uint64, spam, ham int32) {
	t.Helper()
	c, found := m.Counts[h]
	if spam == 0 && ham == 0 {
		if found {
			t.Fatalf("model %d: token %#x = %+v, want absent", m.AccountID, h, c)
		}
		return
	}
	if c != (store.JunkCount{Spam: spam, Ham: ham}) {
		t.Fatalf("model %d: token %#x = %+v (found %v), want spam %d ham %d", m.AccountID, h, c, found, spam, ham)
	}
}

func testJunkTraining(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	b := newAccount(t, st, "b@example.test")
	// Hashes at the edges of the signed conversion, and a duplicate.
	h1, h2, h3 := uint64(1), uint64(math.MaxUint64), uint64(1<<63)
	msg := []uint64{h1, h2, h3, h1}

	m := junkModel(t, st, a.ID, h1)
	if m.Spam != 0 || m.Ham != 0 || m.Tokens != 0 || len(m.Counts) != 0 {
		t.Fatalf("untrained model = %+v", m)
	}

	// Spam, then spam again (nothing), then ham: counts move over.
	prev := must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 10, As: store.JunkSpam, Hashes: msg}}))
	if prev[0] != store.JunkUntrained {
		t.Fatalf("first training: previous class %v", prev[0])
	}
	m = junkModel(t, st, a.ID, h1, h2, h3, 99)
	if m.Spam != 1 || m.Ham != 0 || m.Tokens != 3 {
		t.Fatalf("after spam: %+v", m)
	}
	wantJunkCount(t, m, h1, 1, 0) // counted once although listed twice
	wantJunkCount(t, m, h2, 1, 0)
	wantJunkCount(t, m, h3, 1, 0)
	wantJunkCount(t, m, 99, 0, 0)

	prev = must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 10, As: store.JunkSpam, Hashes: msg}}))
	if prev[0] != store.JunkSpam {
		t.Fatalf("second training: previous class %v", prev[0])
	}
	if m = junkModel(t, st, a.ID, h1); m.Spam != 1 || m.Counts[h1].Spam != 1 {
		t.Fatalf("spam learned twice: %+v", m)
	}

	prev = must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 10, As: store.JunkHam, Hashes: msg}}))
	if prev[0] != store.JunkSpam {
		t.Fatalf("reversal: previous class %v", prev[0])
	}
	m = junkModel(t, st, a.ID, h1, h2)
	if m.Spam != 0 || m.Ham != 1 || m.Tokens != 3 {
		t.Fatalf("after reversal: %+v", m)
	}
	wantJunkCount(t, m, h1, 0, 1)
	wantJunkCount(t, m, h2, 0, 1)

	// Another message sharing a token; other accounts see nothing of it.
	must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 11, As: store.JunkSpam, Hashes: []uint64{h1, 7}}}))
	ms := must(st.JunkModels(ctx, []int64{b.ID, a.ID}, []uint64{h1, 7}))
	if len(ms[0].Counts) != 0 || ms[0].Spam != 0 || ms[0].AccountID != b.ID {
		t.Fatalf("account b sees a's training: %+v", ms[0])
	}
	wantJunkCount(t, ms[1], h1, 1, 1)
	wantJunkCount(t, ms[1], 7, 1, 0)
	if ms[1].Tokens != 4 || ms[1].Spam != 1 || ms[1].Ham != 1 {
		t.Fatalf("after two messages: %+v", ms[1])
	}

	// Forgetting a message drops the tokens only it had.
	must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 11, As: store.JunkUntrained, Hashes: []uint64{h1, 7}}}))
	m = junkModel(t, st, a.ID, h1, 7)
	wantJunkCount(t, m, h1, 0, 1)
	wantJunkCount(t, m, 7, 0, 0)
	if m.Tokens != 3 || m.Spam != 0 || m.Ham != 1 {
		t.Fatalf("after forgetting: %+v", m)
	}

	// The base model takes corpus training (no message memory): counts add up.
	base := []store.JunkTraining{{AccountID: store.JunkBaseModel, As: store.JunkSpam, Hashes: []uint64{5}}}
	must(st.TrainJunk(ctx, base))
	must(st.TrainJunk(ctx, base))
	if m = junkModel(t, st, store.JunkBaseModel, 5); m.Spam != 2 || m.Counts[5].Spam != 2 {
		t.Fatalf("base model: %+v", m)
	}

	// LoadJunkModel reads all of it.
	whole := must(st.LoadJunkModel(ctx, a.ID))
	if whole.Tokens != 3 || whole.Ham != 1 || len(whole.Counts) != 3 || whole.Counts[h2] != (store.JunkCount{Ham: 1}) || whole.Counts[h3] != (store.JunkCount{Ham: 1}) {
		t.Fatalf("LoadJunkModel = %+v", whole)
	}
	if empty := must(st.LoadJunkModel(ctx, b.ID)); empty.Tokens != 0 || len(empty.Counts) != 0 || empty.Spam != 0 {
		t.Fatalf("LoadJunkModel of an untrained model = %+v", empty)
	}

	// Several trainings in one call are one transaction: a bad one fails them all.
	_, err := st.TrainJunk(ctx, []store.JunkTraining{
		{AccountID: b.ID, ContentID: 12, As: store.JunkSpam, Hashes: []uint64{8}},
		{AccountID: 987654, ContentID: 12, As: store.JunkSpam, Hashes: []uint64{8}},
	})
	wantErr(t, err, store.ErrNotFound, "training an unknown account")
	if m = junkModel(t, st, b.ID, 8); m.Spam != 0 || len(m.Counts) != 0 {
		t.Fatalf("failed training left %+v", m)
	}
	_, err = st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 1, As: store.JunkClass(7)}})
	wantErr(t, err, store.ErrInvalid, "training an invalid class")

	// Deleting the account deletes its model.
	ok(t, st.DeleteAccount(ctx, a.Email))
	if m = junkModel(t, st, a.ID, h1); m.Tokens != 0 || len(m.Counts) != 0 || m.Ham != 0 {
		t.Fatalf("deleted account's model: %+v", m)
	}
}

func testJunkPrune(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	_, err := st.PruneJunk(ctx, a.ID, 0)
	wantErr(t, err, store.ErrInvalid, "prune to 0")
	// 100 tokens: 0-49 in two spam messages, 50-99 in one each: 50-74 in
	// the first message trained, 75-99 in the last.
	var common, old, recent []uint64
	for i := range uint64(25) {
		common = append(common, i, 25+i)
		old = append(old, 50+i)
		recent = append(recent, 75+i)
	}
	must(st.TrainJunk(ctx, []store.JunkTraining{
		{AccountID: a.ID, ContentID: 1, As: store.JunkSpam, Hashes: append(append([]uint64{}, common...), old...)},
		{AccountID: a.ID, ContentID: 2, As: store.JunkSpam, Hashes: common},
	}))
	must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 4, As: store.JunkHam, Hashes: recent}}))
	if n := must(st.PruneJunk(ctx, a.ID, 100)); n != 0 {
		t.Fatalf("pruned %d tokens of a model within bounds", n)
	}
	n := must(st.PruneJunk(ctx, a.ID, 60))
	if n != 100-57 {
		t.Fatalf("pruned %d tokens, want down to 57 (95%% of 60)", n)
	}
	m := junkModel(t, st, a.ID, append(append(append([]uint64{}, common...), old...), recent...)...)
	if m.Tokens != 57 || len(m.Counts) != 57 {
		t.Fatalf("after pruning: %d tokens, %d found", m.Tokens, len(m.Counts))
	}
	// The rare ones went first, the longest untrained first among them.
	for _, h := range common {
		wantJunkCount(t, m, h, 2, 0)
	}
	for _, h := range old {
		wantJunkCount(t, m, h, 0, 0)
	}
	kept := 0
	for _, h := range recent {
		if _, ok := m.Counts[h]; ok {
			kept++
		}
	}
	if kept != 7 {
		t.Fatalf("%d of the recently trained rare tokens kept, want 7", kept)
	}
	if m.Spam != 2 || m.Ham != 1 {
		t.Fatalf("pruning changed the message counts: %+v", m)
	}
	// Training after pruning keeps counting right.
	must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: 3, As: store.JunkHam, Hashes: []uint64{1000, 0}}}))
	if m = junkModel(t, st, a.ID); m.Tokens != 58 {
		t.Fatalf("after training a pruned model: %d tokens, want 58", m.Tokens)
	}
}

func testJunkMessages(t *testing.T, st MessageStore) {
	ctx := context.Background()
	a := newAccount(t, st, "a@example.test")
	b := newAccount(t, st, "b@example.test")
	inbox, junk := mailbox(t, st, a, "INBOX"), mailbox(t, st, a, "Junk")
	binbox := mailbox(t, st, b, "INBOX")
	d := deliver(t, st, Message("one", "x"), store.Target{MailboxID: inbox.ID}, store.Target{MailboxID: binbox.ID})
	deliver(t, st, Message("two", "y"), store.Target{MailboxID: inbox.ID})
	list := must(st.MessageList(ctx, inbox.ID))
	cid := list[0].ContentID
	must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: cid, As: store.JunkSpam, Hashes: []uint64{1}}}))

	mb, msgs, err := st.JunkMessages(ctx, inbox.ID, []uint32{d[0].UID, 77, d[0].UID})
	ok(t, err)
	if mb.ID != inbox.ID || mb.AccountID != a.ID || len(msgs) != 1 {
		t.Fatalf("JunkMessages = %+v, %+v", mb, msgs)
	}
	if msgs[0].UID != d[0].UID || msgs[0].ContentID != cid || msgs[0].Trained != store.JunkSpam {
		t.Fatalf("message = %+v", msgs[0])
	}
	// What a message was trained as follows its content: a copy knows it,
	// another account does not.
	res := must(st.Move(ctx, inbox.ID, []uint32{d[0].UID}, junk.ID, store.KeepAll))
	mb, msgs, err = st.JunkMessages(ctx, junk.ID, res.DestUIDs)
	ok(t, err)
	if mb.SpecialUse != store.SpecialJunk || len(msgs) != 1 || msgs[0].Trained != store.JunkSpam {
		t.Fatalf("after move: %+v, %+v", mb, msgs)
	}
	_, msgs, err = st.JunkMessages(ctx, binbox.ID, []uint32{d[1].UID})
	ok(t, err)
	if len(msgs) != 1 || msgs[0].Trained != store.JunkUntrained {
		t.Fatalf("other account's copy: %+v", msgs)
	}
	if mb, msgs, err = st.JunkMessages(ctx, inbox.ID, nil); err != nil || mb.ID != inbox.ID || len(msgs) != 0 {
		t.Fatalf("mailbox only: %+v, %+v, %v", mb, msgs, err)
	}
	_, _, err = st.JunkMessages(ctx, 987654, nil)
	wantErr(t, err, store.ErrNotFound, "unknown mailbox")

	// Once the body is gone from every mailbox, its training is forgotten
	// (the memory stays bounded by the mail kept).
	ok(t, st.DeleteAccount(ctx, b.Email))
	_, err = st.Expunge(ctx, junk.ID, res.DestUIDs)
	ok(t, err)
	dd := deliver(t, st, Message("three", "z"), store.Target{MailboxID: inbox.ID})
	_, msgs, err = st.JunkMessages(ctx, inbox.ID, []uint32{dd[0].UID})
	ok(t, err)
	if len(msgs) != 1 || msgs[0].ContentID == cid || msgs[0].Trained != store.JunkUntrained {
		t.Fatalf("new message: %+v", msgs)
	}
	prev := must(st.TrainJunk(ctx, []store.JunkTraining{{AccountID: a.ID, ContentID: cid, As: store.JunkHam}}))
	if prev[0] != store.JunkUntrained {
		t.Fatalf("a deleted message's training was kept: %v", prev[0])
	}
}
