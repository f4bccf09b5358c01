package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// contactTests cover the collected contacts (store.Contacts).
var contactTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"ContactsRecordSuggest", testContactsRecordSuggest},
	{"ContactsForget", testContactsForget},
	{"ContactsBounds", testContactsBounds},
}

// emails lists the addresses of contacts, in order.
func emails(cs []store.Contact) string {
	var l []string
	for _, c := range cs {
		l = append(l, c.Email)
	}
	return strings.Join(l, " ")
}

// testContactsRecordSuggest: counts add up per direction, the last name
// wins, matching is by address, local part or name word prefix in any
// case (non-ASCII too), ranking puts the written-to first, and accounts
// see only their own.
func testContactsRecordSuggest(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	t0 := time.Now().Truncate(time.Second)
	// Ann hears from Anna twice, writes to Annika once, hears from and
	// writes to Åsa; an invalid address is skipped; the same address
	// twice in one message counts once.
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "anna@example.org", Name: "Anna Lind"}}, t0))
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "Anna@Example.org"}}, t0.Add(time.Hour)))
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{
		{Email: "annika@example.net", Name: "Annika Berg", Sent: true},
		{Email: "ANNIKA@example.net", Sent: true},
		{Email: "asa@example.se", Name: "Åsa Öberg", Sent: true},
		{Email: "not an address"},
		{Email: "x@"},
	}, t0.Add(2*time.Hour)))
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "asa@example.se", Name: "\"ÅSA ÖBERG\""}}, t0.Add(3*time.Hour)))
	ok(t, st.RecordContacts(ctx, bob.ID, []store.ContactSeen{{Email: "anne@example.com", Name: "Anne Bob's", Sent: true}}, t0))

	got := must(st.SuggestContacts(ctx, ann.ID, "ANN", 10))
	if emails(got) != "annika@example.net Anna@Example.org" { // the address as last seen
		t.Fatalf("ann's suggestions for ANN: %s", emails(got))
	}
	a := got[1]
	if a.Name != "Anna Lind" || a.Sent != 0 || a.Received != 2 || !a.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("anna: %+v (want name kept, received 2, last seen %v)", a, t0.Add(time.Hour))
	}
	if k := got[0]; k.Name != "Annika Berg" || k.Sent != 1 || k.Received != 0 || !k.LastSeen.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("annika: %+v", k)
	}
	for _, q := range []struct{ text, want string }{
		{"lind", "anna@example.org"},      // a word of the name
		{"anna lind", "anna@example.org"}, // words in a row
		{"  Anna   LIND ", "anna@example.org"},
		{"berg", "annika@example.net"},
		{"öberg", "asa@example.se"}, // Unicode lower case of the last name seen, ÖBERG
		{"ÅS", "asa@example.se"},
		{"asa@ex", "asa@example.se"},
		{"annika@example.net", "annika@example.net"},
		{"example", ""}, // not a prefix of an address or a name word
		{"nna", ""},     // inside a word
		{"lind anna", ""},
		{"anne", ""}, // bob's
	} {
		got := must(st.SuggestContacts(ctx, ann.ID, q.text, 10))
		var l []string
		for _, c := range got {
			l = append(l, strings.ToLower(c.Email))
		}
		if strings.Join(l, " ") != q.want {
			t.Errorf("suggest %q: %q, want %q", q.text, strings.Join(l, " "), q.want)
		}
	}
	// Ranking: sent first (annika 1 sent, asa 1 sent + 1 received, then anna).
	if got := must(st.SuggestContacts(ctx, ann.ID, "a", 10)); emails(got) != "asa@example.se annika@example.net Anna@Example.org" {
		t.Errorf("suggest a: %s", emails(got))
	}
	if got := must(st.SuggestContacts(ctx, ann.ID, "a", 1)); len(got) != 1 || got[0].Email != "asa@example.se" {
		t.Errorf("limit 1: %s", emails(got))
	}
	if got := must(st.SuggestContacts(ctx, bob.ID, "ann", 10)); emails(got) != "anne@example.com" {
		t.Errorf("bob's: %s", emails(got))
	}
	for _, bad := range []struct {
		text  string
		limit int
	}{{"", 10}, {"   ", 10}, {"a", 0}, {"a", store.MaxSuggestLimit + 1}, {strings.Repeat("x", store.MaxSuggestText+1), 10}, {"\xff", 10}} {
		if _, err := st.SuggestContacts(ctx, ann.ID, bad.text, bad.limit); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("suggest %q limit %d: %v, want ErrInvalid", bad.text, bad.limit, err)
		}
	}
	if err := st.RecordContacts(ctx, 999999, []store.ContactSeen{{Email: "x@example.org"}}, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}
	ok(t, st.DeleteAccount(ctx, "ann@example.test"))
	if got := must(st.SuggestContacts(ctx, ann.ID, "a", 10)); len(got) != 0 {
		t.Errorf("after the account went: %s", emails(got))
	}
}

// testContactsForget: an address goes in any case, only for its account,
// and comes back when seen again, counted afresh.
func testContactsForget(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	now := time.Now()
	for range 3 {
		ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "carol@example.org", Name: "Carol", Sent: true}}, now))
	}
	ok(t, st.RecordContacts(ctx, bob.ID, []store.ContactSeen{{Email: "carol@example.org"}}, now))
	if gone := must(st.ForgetContact(ctx, ann.ID, "CAROL@example.org")); !gone {
		t.Error("forget reported nothing forgotten")
	}
	if gone := must(st.ForgetContact(ctx, ann.ID, "carol@example.org")); gone {
		t.Error("forgot it twice")
	}
	if got := must(st.SuggestContacts(ctx, ann.ID, "carol", 10)); len(got) != 0 {
		t.Errorf("after forget: %s", emails(got))
	}
	if got := must(st.SuggestContacts(ctx, bob.ID, "carol", 10)); len(got) != 1 {
		t.Errorf("bob's went too: %s", emails(got))
	}
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "carol@example.org"}}, now))
	if got := must(st.SuggestContacts(ctx, ann.ID, "carol", 10)); len(got) != 1 || got[0].Sent != 0 || got[0].Received != 1 || got[0].Name != "" {
		t.Errorf("seen again: %+v", got)
	}
}

// testContactsBounds: an account keeps MaxContacts, pruning the least
// used but never what it just recorded; long names are cut, long
// addresses skipped, too many at once refused.
func testContactsBounds(t *testing.T, st store.Store) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	// Fill the list: the first ten once written to, the rest heard from.
	batch := make([]store.ContactSeen, 0, store.MaxContactsRecorded)
	for i := range store.MaxContacts {
		batch = append(batch, store.ContactSeen{Email: fmt.Sprintf("p%04d@example.org", i), Sent: i < 10})
		if len(batch) == cap(batch) {
			ok(t, st.RecordContacts(ctx, ann.ID, batch, t0.Add(time.Duration(i)*time.Second)))
			batch = batch[:0]
		}
	}
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{{Email: "new1@example.org"}, {Email: "new2@example.org"}}, t0.Add(time.Hour)))
	if got := must(st.SuggestContacts(ctx, ann.ID, "new", 10)); len(got) != 2 {
		t.Errorf("the new contacts: %s", emails(got))
	}
	if got := must(st.SuggestContacts(ctx, ann.ID, "p0", store.MaxSuggestLimit)); len(got) != store.MaxSuggestLimit || got[0].Email != "p0000@example.org" {
		t.Errorf("written-to contacts were pruned or not first: %s", emails(got))
	}
	// The least used, oldest went: p0010 and p0011 (heard from once, the
	// earliest batch).
	for _, e := range []string{"p0010@", "p0011@"} {
		if got := must(st.SuggestContacts(ctx, ann.ID, e, 10)); len(got) != 0 {
			t.Errorf("%s is still there", e)
		}
	}
	if got := must(st.SuggestContacts(ctx, ann.ID, "p0012@", 10)); len(got) != 1 {
		t.Errorf("p0012 went: %s", emails(got))
	}
	// The whole list: "new" and p000..p199, each prefix ten pNNNN.
	n := len(must(st.SuggestContacts(ctx, ann.ID, "new", store.MaxSuggestLimit)))
	for i := range 200 {
		n += len(must(st.SuggestContacts(ctx, ann.ID, fmt.Sprintf("p%03d", i), store.MaxSuggestLimit)))
	}
	if n != store.MaxContacts {
		t.Errorf("%d contacts kept, want %d", n, store.MaxContacts)
	}

	long := strings.Repeat("é", store.MaxContactName) // 2 octets each
	ok(t, st.RecordContacts(ctx, ann.ID, []store.ContactSeen{
		{Email: "long@example.org", Name: long},
		{Email: strings.Repeat("x", store.MaxContactEmail) + "@example.org"},
	}, t0.Add(2*time.Hour)))
	got := must(st.SuggestContacts(ctx, ann.ID, "long@", 10))
	if len(got) != 1 || len(got[0].Name) > store.MaxContactName || !strings.HasPrefix(long, got[0].Name) || got[0].Name == "" {
		t.Errorf("long name: %d octets", len(got[0].Name))
	}
	if got := must(st.SuggestContacts(ctx, ann.ID, "xxx", 10)); len(got) != 0 {
		t.Errorf("an address over %d octets was recorded", store.MaxContactEmail)
	}
	if err := st.RecordContacts(ctx, ann.ID, make([]store.ContactSeen, store.MaxContactsRecorded+1), t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("too many at once: %v, want ErrInvalid", err)
	}
}
