package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"mailroom/internal/store"
)

// delegationTests cover who may send as whom (store.Delegations).
var delegationTests = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"DelegationGrant", testDelegationGrant},
	{"DelegationRefused", testDelegationRefused},
	{"DelegatedTo", testDelegatedTo},
	{"DelegationLifecycle", testDelegationLifecycle},
	{"DelegationLimit", testDelegationLimit},
}

func testDelegationGrant(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "sales@example.test")
	newAccount(t, st, "kim@example.test")
	must(st.CreateDomain(ctx, "other.test"))
	if got := must(st.Delegations(ctx, owner.ID)); len(got) != 0 {
		t.Fatalf("new account's grants: %+v", got)
	}
	ok(t, st.GrantDelegation(ctx, owner.ID, "kim@example.test", store.SendAs))
	ok(t, st.GrantDelegation(ctx, owner.ID, "@other.test", store.SendOnBehalf))
	want := []store.Delegation{
		{OwnerID: owner.ID, Owner: owner.Email, Grantee: "@other.test", Mode: store.SendOnBehalf},
		{OwnerID: owner.ID, Owner: owner.Email, Grantee: "kim@example.test", Mode: store.SendAs},
	}
	if got := must(st.Delegations(ctx, owner.ID)); !slices.Equal(got, want) {
		t.Fatalf("grants %+v, want %+v", got, want)
	}
	// Granting again changes the mode; it adds no second grant.
	ok(t, st.GrantDelegation(ctx, owner.ID, "kim@example.test", store.SendOnBehalf))
	want[1].Mode = store.SendOnBehalf
	if got := must(st.Delegations(ctx, owner.ID)); !slices.Equal(got, want) {
		t.Fatalf("after the change %+v, want %+v", got, want)
	}
	ok(t, st.RevokeDelegation(ctx, owner.ID, "kim@example.test"))
	if got := must(st.Delegations(ctx, owner.ID)); !slices.Equal(got, want[:1]) {
		t.Fatalf("after the revocation %+v, want %+v", got, want[:1])
	}
	wantErr(t, st.RevokeDelegation(ctx, owner.ID, "kim@example.test"), store.ErrNotFound, "revoking a grant that is not there")
}

func testDelegationRefused(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "sales@example.test")
	newAccount(t, st, "kim@example.test")
	for _, tc := range []struct {
		grantee string
		mode    store.DelegationMode
		err     error
		what    string
	}{
		{"anyone", store.SendAs, store.ErrInvalid, "anyone"},
		{"authenticated", store.SendAs, store.ErrInvalid, "authenticated"},
		{"Kim@Example.test", store.SendAs, store.ErrInvalid, "a grantee not in canonical form"},
		{"-kim@example.test", store.SendAs, store.ErrInvalid, "a negative identifier"},
		{"", store.SendAs, store.ErrInvalid, "an empty grantee"},
		{"sales@example.test", store.SendAs, store.ErrInvalid, "the owner itself"},
		{"kim@example.test", 0, store.ErrInvalid, "no mode"},
		{"kim@example.test", 7, store.ErrInvalid, "an unknown mode"},
		{"nobody@example.test", store.SendAs, store.ErrNotFound, "an account that does not exist"},
		{"@nowhere.test", store.SendAs, store.ErrNotFound, "a domain that does not exist"},
	} {
		wantErr(t, st.GrantDelegation(ctx, owner.ID, tc.grantee, tc.mode), tc.err, tc.what)
	}
	wantErr(t, st.GrantDelegation(ctx, 1<<40, "kim@example.test", store.SendAs), store.ErrNotFound, "an owner that does not exist")
	if got := must(st.Delegations(ctx, owner.ID)); len(got) != 0 {
		t.Fatalf("refused grants were stored: %+v", got)
	}
}

func testDelegatedTo(t *testing.T, st store.Store) {
	ctx := context.Background()
	kim := newAccount(t, st, "kim@example.test")
	sales := newAccount(t, st, "sales@example.test")
	board := newAccount(t, st, "board@example.test")
	info := newAccount(t, st, "info@example.test")
	must(st.CreateDomain(ctx, "other.test"))
	lee := newAccount(t, st, "lee@other.test")

	if got := must(st.DelegatedTo(ctx, kim.ID, kim.Email)); len(got) != 0 {
		t.Fatalf("nothing granted, yet %+v", got)
	}
	ok(t, st.GrantDelegation(ctx, sales.ID, "kim@example.test", store.SendAs))
	ok(t, st.GrantDelegation(ctx, info.ID, "@example.test", store.SendOnBehalf))
	// Named and through the domain: the stronger mode counts.
	ok(t, st.GrantDelegation(ctx, board.ID, "kim@example.test", store.SendOnBehalf))
	ok(t, st.GrantDelegation(ctx, board.ID, "@example.test", store.SendAs))
	// Kim's own grant to the domain is no delegation to kim.
	ok(t, st.GrantDelegation(ctx, kim.ID, "@example.test", store.SendAs))

	want := []store.Delegation{
		{OwnerID: board.ID, Owner: board.Email, Grantee: kim.Email, Mode: store.SendAs},
		{OwnerID: info.ID, Owner: info.Email, Grantee: kim.Email, Mode: store.SendOnBehalf},
		{OwnerID: sales.ID, Owner: sales.Email, Grantee: kim.Email, Mode: store.SendAs},
	}
	if got := must(st.DelegatedTo(ctx, kim.ID, kim.Email)); !slices.Equal(got, want) {
		t.Fatalf("kim may send as %+v, want %+v", got, want)
	}
	// The address is matched in any case.
	if got := must(st.DelegatedTo(ctx, kim.ID, "KIM@Example.TEST")); !slices.Equal(got, want) {
		t.Fatalf("KIM@Example.TEST may send as %+v, want %+v", got, want)
	}
	// Another domain's user gets none of the @example.test grants.
	if got := must(st.DelegatedTo(ctx, lee.ID, lee.Email)); len(got) != 0 {
		t.Fatalf("lee may send as %+v", got)
	}
	// Sales gets the domain's grants, and kim's.
	got := must(st.DelegatedTo(ctx, sales.ID, sales.Email))
	var owners []string
	for _, d := range got {
		owners = append(owners, d.Owner+" "+d.Mode.String())
	}
	if want := []string{"board@example.test send-as", "info@example.test on-behalf", "kim@example.test send-as"}; !slices.Equal(owners, want) {
		t.Fatalf("sales may send as %q, want %q", owners, want)
	}
}

func testDelegationLifecycle(t *testing.T, st store.Store) {
	ctx := context.Background()
	sales := newAccount(t, st, "sales@example.test")
	kim := newAccount(t, st, "kim@example.test")
	must(st.CreateDomain(ctx, "other.test"))
	ok(t, st.GrantDelegation(ctx, sales.ID, kim.Email, store.SendAs))
	ok(t, st.GrantDelegation(ctx, sales.ID, "@other.test", store.SendAs))

	// Deleting kim's account removes the grant naming it: a new account
	// with the address may send as nobody.
	ok(t, st.DeleteAccount(ctx, kim.Email))
	if got := must(st.Delegations(ctx, sales.ID)); len(got) != 1 || got[0].Grantee != "@other.test" {
		t.Fatalf("grants after kim's deletion: %+v", got)
	}
	kim2 := newAccount(t, st, "kim@example.test")
	if got := must(st.DelegatedTo(ctx, kim2.ID, kim2.Email)); len(got) != 0 {
		t.Fatalf("the new kim inherited %+v", got)
	}
	// Likewise a domain's grants go with the domain.
	ok(t, st.DeleteDomain(ctx, "other.test"))
	must(st.CreateDomain(ctx, "other.test"))
	lee := newAccount(t, st, "lee@other.test")
	if got := must(st.DelegatedTo(ctx, lee.ID, lee.Email)); len(got) != 0 {
		t.Fatalf("an account of the new other.test inherited %+v", got)
	}
	// An owner's grants go with the owner.
	ok(t, st.GrantDelegation(ctx, sales.ID, kim2.Email, store.SendOnBehalf))
	if got := must(st.DelegatedTo(ctx, kim2.ID, kim2.Email)); len(got) != 1 || got[0].Owner != sales.Email {
		t.Fatalf("kim may send as %+v", got)
	}
	ok(t, st.DeleteAccount(ctx, sales.Email))
	if got := must(st.DelegatedTo(ctx, kim2.ID, kim2.Email)); len(got) != 0 {
		t.Fatalf("kim may still send as the deleted %+v", got)
	}
	sales2 := newAccount(t, st, "sales@example.test")
	if got := must(st.Delegations(ctx, sales2.ID)); len(got) != 0 {
		t.Fatalf("the new sales inherited grants %+v", got)
	}
}

func testDelegationLimit(t *testing.T, st store.Store) {
	ctx := context.Background()
	owner := newAccount(t, st, "sales@example.test")
	for i := range store.MaxDelegations {
		must(st.CreateDomain(ctx, fmt.Sprintf("d%d.test", i)))
		ok(t, st.GrantDelegation(ctx, owner.ID, fmt.Sprintf("@d%d.test", i), store.SendOnBehalf))
	}
	must(st.CreateDomain(ctx, "one-more.test"))
	wantErr(t, st.GrantDelegation(ctx, owner.ID, "@one-more.test", store.SendAs), store.ErrInvalid, "a grant beyond the limit")
	// Changing an existing grant still works at the limit.
	ok(t, st.GrantDelegation(ctx, owner.ID, "@d0.test", store.SendAs))
	got := must(st.Delegations(ctx, owner.ID))
	if len(got) != store.MaxDelegations || got[0].Grantee != "@d0.test" || got[0].Mode != store.SendAs {
		t.Fatalf("%d grants, the first %+v", len(got), got[0])
	}
}
