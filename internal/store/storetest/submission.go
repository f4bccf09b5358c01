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
