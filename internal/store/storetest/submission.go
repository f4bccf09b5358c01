package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"mailroom/internal/store"
)

// submissionTests cover the records of JMAP submissions
// (store.EmailSubmissions).
var submissionTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"EmailSubmissions", testEmailSubmissions},
	{"HeldEmailSubmissions", testHeldEmailSubmissions},
	{"HeldEmailSubmissionRace", testHeldEmailSubmissionRace},
}

// testEmailSubmissions: a submission reads back as added, per account
// and in order; pruning removes only the old ones; an unknown account is
// ErrNotFound; they go with the account.
func testEmailSubmissions(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	now := time.Now().Truncate(time.Second)
	old := must(st.AddEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I1", EmailID: 7, ThreadID: 3,
		MailFrom: "ann@example.test", RcptTo: []string{"bob@example.test", "x@example.net"}, SendAt: now.Add(-8 * 24 * time.Hour)}))
	recent := must(st.AddEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I2", EmailID: 9, ThreadID: 9,
		MailFrom: "ann@example.test", RcptTo: []string{"carol@example.net"}, SendAt: now.Add(500 * time.Millisecond)}))
	must(st.AddEmailSubmission(ctx, store.EmailSubmission{AccountID: bob.ID, IdentityID: "I1", EmailID: 1, ThreadID: 1,
		MailFrom: "bob@example.test", RcptTo: []string{"ann@example.test"}, SendAt: now}))
	if old.ID == 0 || recent.ID <= old.ID {
		t.Fatalf("ids %d, %d: want increasing ids", old.ID, recent.ID)
	}
	got := must(st.EmailSubmissions(ctx, ann.ID))
	if len(got) != 2 || got[0].ID != old.ID || got[1].ID != recent.ID {
		t.Fatalf("ann's submissions: %+v", got)
	}
	g := got[0]
	if g.IdentityID != "I1" || g.EmailID != 7 || g.ThreadID != 3 || g.MailFrom != "ann@example.test" ||
		!slices.Equal(g.RcptTo, []string{"bob@example.test", "x@example.net"}) || !g.SendAt.Equal(now.Add(-8*24*time.Hour)) || g.AccountID != ann.ID {
		t.Errorf("read back %+v", g)
	}
	if g.UndoStatus != store.UndoFinal || got[1].Mod <= g.Mod || got[1].Created != got[1].Mod {
		t.Errorf("status %q, mods %d then %d/%d: want final, increasing, created = mod", g.UndoStatus, g.Mod, got[1].Created, got[1].Mod)
	}
	if !got[1].SendAt.Equal(now) {
		t.Errorf("send time %v, want %v (seconds)", got[1].SendAt, now)
	}
	if n := must(st.PruneEmailSubmissions(ctx, now.Add(-store.EmailSubmissionKeep))); n != 1 {
		t.Errorf("pruned %d, want 1", n)
	}
	if got := must(st.EmailSubmissions(ctx, ann.ID)); len(got) != 1 || got[0].ID != recent.ID {
		t.Errorf("after pruning: %+v", got)
	}
	if _, err := st.AddEmailSubmission(ctx, store.EmailSubmission{AccountID: 999999, SendAt: now}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}
	ok(t, st.DeleteAccount(ctx, "ann@example.test"))
	if got := must(st.EmailSubmissions(ctx, ann.ID)); len(got) != 0 {
		t.Errorf("after the account went: %+v", got)
	}
	if got := must(st.EmailSubmissions(ctx, bob.ID)); len(got) != 1 {
		t.Errorf("bob's: %+v", got)
	}
}

// testHeldEmailSubmissions: a held submission is pending with its message
// until it is due; a claim hands it to one owner with the exact bytes,
// and finishing makes it final with a higher Mod; a canceled one is never
// claimed; a claimed one cannot be canceled until its lease expires;
// pending ones are never pruned.
func testHeldEmailSubmissions(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	now := time.Now().Truncate(time.Second)
	msg := []byte("From: ann@example.test\r\nSubject: later\r\n\r\nhello\x00\xff\r\n")
	if next := must(st.NextEmailSubmission(ctx)); !next.IsZero() {
		t.Fatalf("next with none held: %v", next)
	}
	first := must(st.HoldEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I1", EmailID: 4, ThreadID: 4,
		MailFrom: "ann@example.test", RcptTo: []string{"bob@example.net"}, SendAt: now.Add(10 * time.Second), Owners: []int64{5, 9}, AuthUser: "ann@example.test"}, msg))
	second := must(st.HoldEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I1", EmailID: 5, ThreadID: 5,
		MailFrom: "ann@example.test", RcptTo: []string{"carol@example.net"}, SendAt: now.Add(20 * time.Second)}, []byte("x")))
	if first.UndoStatus != store.UndoPending || second.Created <= first.Created {
		t.Fatalf("held: %+v, %+v", first, second)
	}
	if next := must(st.NextEmailSubmission(ctx)); !next.Equal(now.Add(10 * time.Second)) {
		t.Errorf("next %v, want %v", next, now.Add(10*time.Second))
	}
	if _, _, ok := must3(st.ClaimEmailSubmission(ctx, "node1", now, time.Minute)); ok {
		t.Fatal("claimed a submission before it is due")
	}
	got, body, claimed := must3(st.ClaimEmailSubmission(ctx, "node1", now.Add(15*time.Second), time.Minute))
	if !claimed || got.ID != first.ID || string(body) != string(msg) || !slices.Equal(got.Owners, []int64{5, 9}) || got.AuthUser != "ann@example.test" || got.UndoStatus != store.UndoPending {
		t.Fatalf("claimed %+v with %q, %v", got, body, claimed)
	}
	// Claimed: nobody else gets it, and it cannot be canceled.
	if _, _, ok := must3(st.ClaimEmailSubmission(ctx, "node2", now.Add(15*time.Second), time.Minute)); ok {
		t.Error("a claimed submission was claimed again")
	}
	if err := st.CancelEmailSubmission(ctx, ann.ID, first.ID, now.Add(15*time.Second)); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("cancel while claimed: %v, want ErrNotPending", err)
	}
	if err := st.FinishEmailSubmission(ctx, got, "node2", store.UndoFinal, now); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("finish by another owner: %v, want ErrNotPending", err)
	}
	ok(t, st.FinishEmailSubmission(ctx, got, "node1", store.UndoFinal, now.Add(16*time.Second)))
	if err := st.CancelEmailSubmission(ctx, ann.ID, first.ID, now.Add(17*time.Second)); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("cancel once final: %v, want ErrNotPending", err)
	}
	// The second is canceled before it is due: never claimed.
	ok(t, st.CancelEmailSubmission(ctx, ann.ID, second.ID, now))
	if err := st.CancelEmailSubmission(ctx, ann.ID, second.ID, now); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("cancel twice: %v, want ErrNotPending", err)
	}
	if err := st.CancelEmailSubmission(ctx, ann.ID, 999999, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel unknown: %v, want ErrNotFound", err)
	}
	if _, _, ok := must3(st.ClaimEmailSubmission(ctx, "node1", now.Add(time.Hour), time.Minute)); ok {
		t.Error("claimed a canceled submission")
	}
	list := must(st.EmailSubmissions(ctx, ann.ID))
	if len(list) != 2 || list[0].UndoStatus != store.UndoFinal || list[1].UndoStatus != store.UndoCanceled {
		t.Fatalf("after release and cancel: %+v", list)
	}
	if list[0].Mod <= second.Mod || list[1].Mod <= list[0].Mod || list[0].Created != first.Created {
		t.Errorf("mods: created %d, %d; now %d, %d", first.Created, second.Created, list[0].Mod, list[1].Mod)
	}
	if next := must(st.NextEmailSubmission(ctx)); !next.IsZero() {
		t.Errorf("next with none pending: %v", next)
	}
	// A lease that expired lets another claim it; pending ones outlive
	// pruning.
	third := must(st.HoldEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I1", EmailID: 6, ThreadID: 6,
		MailFrom: "ann@example.test", RcptTo: []string{"dan@example.net"}, SendAt: now.Add(-9 * 24 * time.Hour)}, []byte("y")))
	must(st.PruneEmailSubmissions(ctx, now.Add(-store.EmailSubmissionKeep)))
	if _, _, ok := must3(st.ClaimEmailSubmission(ctx, "node1", now, time.Minute)); !ok {
		t.Fatal("a pending submission was pruned or not claimed")
	}
	if err := st.CancelEmailSubmission(ctx, ann.ID, third.ID, now.Add(2*time.Minute)); err != nil {
		t.Errorf("cancel after the claim's lease expired: %v", err)
	}
	if err := st.FinishEmailSubmission(ctx, third, "node1", store.UndoFinal, now.Add(2*time.Minute)); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("finish after a cancel: %v, want ErrNotPending", err)
	}
}

// testHeldEmailSubmissionRace: claims racing each other and a cancel
// release each submission once, and a canceled one never.
func testHeldEmailSubmissionRace(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	now := time.Now().Truncate(time.Second)
	const n = 8
	var ids []int64
	for i := range n {
		s := must(st.HoldEmailSubmission(ctx, store.EmailSubmission{AccountID: ann.ID, IdentityID: "I1", EmailID: int64(i + 1), ThreadID: 1,
			MailFrom: "ann@example.test", RcptTo: []string{"bob@example.net"}, SendAt: now}, []byte("m")))
		ids = append(ids, s.ID)
	}
	type result struct {
		claimed []int64
		err     error
	}
	results := make(chan result, 4)
	cancelErr := make(chan error, 1)
	for w := range 3 {
		go func() {
			var r result
			for {
				s, _, ok, err := st.ClaimEmailSubmission(ctx, "node"+string(rune('a'+w)), now, time.Minute)
				if err != nil || !ok {
					r.err = err
					results <- r
					return
				}
				r.claimed = append(r.claimed, s.ID)
			}
		}()
	}
	go func() { cancelErr <- st.CancelEmailSubmission(ctx, ann.ID, ids[n-1], now) }()
	seen := map[int64]int{}
	for range 3 {
		r := <-results
		ok(t, r.err)
		for _, id := range r.claimed {
			seen[id]++
		}
	}
	err := <-cancelErr
	canceled := err == nil
	if err != nil && !errors.Is(err, store.ErrNotPending) {
		t.Fatalf("cancel: %v", err)
	}
	for _, id := range ids {
		want := 1
		if id == ids[n-1] && canceled {
			want = 0
		}
		if seen[id] != want {
			t.Errorf("submission %d claimed %d times, want %d (canceled: %v)", id, seen[id], want, canceled)
		}
	}
}

// must3 is must for three results.
func must3[A, B, C any](a A, b B, c C, err error) (A, B, C) {
	if err != nil {
		panic(failure{err})
	}
	return a, b, c
}
