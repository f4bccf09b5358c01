package main

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// `mailroom reindex` indexes mail stored without text (here, straight
// through the store), for one account or all, prints progress and a
// summary, and a second run finds nothing left; --rebuild does it all
// again; an unknown account or extra arguments fail.
func TestReindexCommand(t *testing.T) {
	e := newEnv(t)
	if code, _, errs := e.run("", "domain", "add", "example.test"); code != 0 {
		t.Fatal(errs)
	}
	for _, u := range []string{"ann@example.test", "bob@example.test"} {
		if code, _, errs := e.run("pw-123456\n", "user", "add", u, "--password-stdin"); code != 0 {
			t.Fatal(errs)
		}
	}
	ctx := context.Background()
	deliver := func(email string, n int) {
		st, err := openStore(ctx, e.config)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		acct, err := st.Account(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := st.Mailbox(ctx, acct.ID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			m, err := st.Stage(ctx, strings.NewReader("Subject: s\r\n\r\nWörter "+email+" "+strings.Repeat("x", i)+"\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Deliver(ctx, m, []store.Target{{MailboxID: inbox.ID, HeaderPrefix: []byte("Delivered-To: " + email + "\r\n")}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deliver("ann@example.test", 5)
	deliver("bob@example.test", 3)
	unindexed := func(email string) int {
		st, err := openStore(ctx, e.config)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var id int64
		if email != "" {
			a, err := st.Account(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			id = a.ID
		}
		l, err := st.UnindexedContents(ctx, id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}

	code, out, errs := e.run("", "reindex", "ann@example.test")
	if code != 0 || !strings.Contains(out, "ann@example.test: full-text: 5 messages indexed") || !strings.Contains(errs, "5/5") ||
		!strings.Contains(out, "ann@example.test: threads: 5 messages threaded") {
		t.Fatalf("reindex ann: %d %q %q", code, out, errs)
	}
	if a, b := unindexed("ann@example.test"), unindexed("bob@example.test"); a != 0 || b != 3 {
		t.Fatalf("after reindexing ann: %d of ann's and %d of bob's unindexed, want 0 and 3", a, b)
	}
	code, out, errs = e.run("", "reindex")
	if code != 0 || !strings.Contains(out, "every account: full-text: 3 messages indexed") ||
		!strings.Contains(out, "every account: threads: 8 messages threaded") {
		t.Fatalf("reindex all: %d %q %q", code, out, errs)
	}
	if code, out, _ = e.run("", "reindex"); code != 0 || !strings.Contains(out, ": 0 messages indexed") {
		t.Fatalf("second reindex: %d %q", code, out)
	}
	if code, out, _ = e.run("", "reindex", "--rebuild", "bob@example.test"); code != 0 || !strings.Contains(out, "3 messages indexed") {
		t.Fatalf("rebuild bob: %d %q", code, out)
	}
	if n := unindexed(""); n != 0 {
		t.Fatalf("%d contents unindexed after the rebuild", n)
	}
	// The text is the content's, without the per-copy prefix.
	st, err := openStore(ctx, e.config)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := st.Account(ctx, "bob@example.test")
	inbox, _ := st.Mailbox(ctx, acct.ID, "INBOX")
	res, err := st.SearchText(ctx, inbox.ID, []store.TextQuery{{Field: store.TextAll, Needle: "WÖRTER BOB@"}, {Field: store.TextAll, Needle: "DELIVERED-TO"}}, nil)
	st.Close()
	if err != nil || len(res.Hits[0]) != 3 || len(res.Hits[1]) != 0 {
		t.Fatalf("bob's index: %+v %v", res, err)
	}

	if code, _, errs = e.run("", "reindex", "nobody@example.test"); code == 0 || !strings.Contains(errs, "nobody@example.test") {
		t.Fatalf("unknown account: %d %q", code, errs)
	}
	if code, _, _ = e.run("", "reindex", "a@example.test", "b@example.test"); code != 2 {
		t.Fatalf("two accounts: exit %d, want 2", code)
	}
}
