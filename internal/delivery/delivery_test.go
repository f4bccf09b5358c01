package delivery

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlitestore"
)

var cred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

func setup(t *testing.T) (store.Store, *Agent) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, d := range []string{"example.test", "other.test"} {
		if _, err := st.CreateDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"ann@example.test", "bob@example.test", "cat@other.test"} {
		if _, err := st.CreateAccount(ctx, a, cred); err != nil {
			t.Fatal(err)
		}
	}
	return st, New(st, Config{PlusSeparator: "+"})
}

func emails(r Resolved) []string {
	var out []string
	for _, a := range r.Accounts {
		out = append(out, a.Email)
	}
	return out
}

func wantErr(t *testing.T, err error, code int) {
	t.Helper()
	var de *Error
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("got %v, want a %d delivery error", err, code)
	}
}

func TestResolve(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.AddAlias(ctx, "team@example.test", []string{"ann@example.test", "bob@example.test"}))
	must(st.AddAlias(ctx, "all@example.test", []string{"team@example.test", "cat@other.test", "ann@example.test"}))
	must(st.AddAlias(ctx, "ext@example.test", []string{"ann@example.test", "friend@remote.example"}))

	cases := []struct {
		rcpt string
		want []string
	}{
		{"ann@example.test", []string{"ann@example.test"}},
		{"ANN@Example.Test", []string{"ann@example.test"}},
		{"team@example.test", []string{"ann@example.test", "bob@example.test"}},
		{"all@example.test", []string{"ann@example.test", "bob@example.test", "cat@other.test"}},
		{"bob+news@example.test", []string{"bob@example.test"}},
		{"team+x@example.test", []string{"ann@example.test", "bob@example.test"}},
	}
	for _, c := range cases {
		r, err := a.Resolve(ctx, c.rcpt, false)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", c.rcpt, err)
		}
		got := emails(r)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("Resolve(%s) = %v, want %v", c.rcpt, got, c.want)
		}
	}
	_, err := a.Resolve(ctx, "nobody@example.test", false)
	wantErr(t, err, 550)
	_, err = a.Resolve(ctx, "x@remote.example", false)
	wantErr(t, err, 554)
	_, err = a.Resolve(ctx, "x@remote.example", true) // authenticated, but no outbound queue yet
	wantErr(t, err, 451)
	_, err = a.Resolve(ctx, "ext@example.test", false)
	wantErr(t, err, 451)
	_, err = a.Resolve(ctx, "not an address", false)
	wantErr(t, err, 553)
	// With plus-addressing off, the tag is part of the name.
	strict := New(st, Config{})
	_, err = strict.Resolve(ctx, "bob+news@example.test", false)
	wantErr(t, err, 550)
}

func TestResolveAliasLoop(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	// a -> b -> a, with ann at the end: terminates, delivers to ann.
	if err := st.AddAlias(ctx, "loop-a@example.test", []string{"ann@example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAlias(ctx, "loop-b@example.test", []string{"loop-a@example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAlias(ctx, "loop-a@example.test", []string{"loop-b@example.test"}); err != nil {
		t.Fatal(err)
	}
	r, err := a.Resolve(ctx, "loop-b@example.test", false)
	if err != nil || !slices.Equal(emails(r), []string{"ann@example.test"}) {
		t.Fatalf("loop: %v %v", emails(r), err)
	}
}

func TestPostmaster(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	// Nothing configured: the first account created (the operator's).
	first := slices.MinFunc(mustAccounts(t, st), func(x, y store.Account) int { return cmp.Compare(x.ID, y.ID) })
	if r, err := a.Resolve(ctx, "postmaster@example.test", false); err != nil || !slices.Equal(emails(r), []string{first.Email}) {
		t.Fatalf("postmaster without admin: %v %v, want %s", emails(r), err, first.Email)
	}
	cat, _ := st.Account(ctx, "cat@other.test")
	if err := st.SetSettings(ctx, cat.ID, map[string]string{"admin": "true"}); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"postmaster@example.test", "Postmaster@other.test", "postmaster"} {
		r, err := a.Resolve(ctx, rcpt, false)
		if err != nil || !slices.Equal(emails(r), []string{"cat@other.test"}) {
			t.Fatalf("Resolve(%s) = %v %v", rcpt, emails(r), err)
		}
	}
	// A configured postmaster wins over admins; an account named
	// postmaster wins over both.
	b := New(st, Config{Postmaster: "bob@example.test"})
	if r, _ := b.Resolve(ctx, "postmaster@example.test", false); !slices.Equal(emails(r), []string{"bob@example.test"}) {
		t.Fatalf("configured postmaster: %v", emails(r))
	}
	if _, err := st.CreateAccount(ctx, "postmaster@example.test", cred); err != nil {
		t.Fatal(err)
	}
	if r, _ := b.Resolve(ctx, "postmaster@example.test", false); !slices.Equal(emails(r), []string{"postmaster@example.test"}) {
		t.Fatalf("postmaster account: %v", emails(r))
	}
}

func mustAccounts(t *testing.T, st store.Store) []store.Account {
	t.Helper()
	accts, err := st.Accounts(context.Background())
	if err != nil || len(accts) == 0 {
		t.Fatalf("accounts: %v %v", accts, err)
	}
	return accts
}

func TestDeliverOncePerAccountAtomically(t *testing.T) {
	st, a := setup(t)
	ctx := context.Background()
	team, _ := a.Resolve(ctx, "ann@example.test", false)
	both := Resolved{Accounts: append(team.Accounts, mustResolve(t, a, "bob@example.test").Accounts...)}
	env := Envelope{From: "x@remote.example", Recipients: []Recipient{
		{Address: "ann@example.test", Resolved: team},
		{Address: "team@example.test", Resolved: both},
	}}
	raw := "Subject: once\r\n\r\nbody\r\n"
	m, err := st.Stage(ctx, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Deliver(ctx, m, env); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"ann@example.test", "bob@example.test"} {
		got := inbox(t, st, who)
		if len(got) != 1 {
			t.Fatalf("%s got %d copies", who, len(got))
		}
		want := "Return-Path: <x@remote.example>\r\nDelivered-To: " + who + "\r\n" + raw
		if got[0] != want {
			t.Fatalf("%s copy:\n%q\nwant\n%q", who, got[0], want)
		}
	}
	// An account deleted between RCPT and DATA: nobody gets a copy, and
	// the failure is temporary.
	m2, _ := st.Stage(ctx, strings.NewReader(raw))
	cat := mustResolve(t, a, "cat@other.test")
	if err := st.DeleteAccount(ctx, "cat@other.test"); err != nil {
		t.Fatal(err)
	}
	err = a.Deliver(ctx, m2, Envelope{From: "x@remote.example", Recipients: []Recipient{{Resolved: both}, {Resolved: cat}}})
	wantErr(t, err, 451)
	if n := len(inbox(t, st, "ann@example.test")); n != 1 {
		t.Fatalf("ann has %d messages after a failed delivery, want 1", n)
	}
}

func mustResolve(t *testing.T, a *Agent, rcpt string) Resolved {
	t.Helper()
	r, err := a.Resolve(context.Background(), rcpt, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func inbox(t *testing.T, st store.Store, email string) []string {
	t.Helper()
	return messages(t, st, email, "INBOX")
}

// messages returns the bodies in one of email's mailboxes.
func messages(t *testing.T, st store.Store, email, mailbox string) []string {
	t.Helper()
	ctx := context.Background()
	acct, err := st.Account(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, acct.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := st.MessageList(ctx, mb.ID)
	var out []string
	for _, m := range list {
		b, err := st.OpenBody(ctx, mb.ID, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		io.Copy(&buf, io.NewSectionReader(b, 0, b.Size()))
		b.Close()
		out = append(out, buf.String())
	}
	return out
}
