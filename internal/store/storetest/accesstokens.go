package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

// AccessTokenStore is what the access token tests need: accounts, and
// their tokens.
type AccessTokenStore interface {
	store.Directory
	store.AccessTokens
}

// accessTokenTests cover store.AccessTokens.
var accessTokenTests = []struct {
	name string
	fn   func(t *testing.T, st AccessTokenStore)
}{
	{"AccessTokens", testAccessTokens},
	{"AccessTokenExpiry", testAccessTokenExpiry},
	{"AccessTokenLimit", testAccessTokenLimit},
}

// testAccessTokens: a token is made with a secret of the documented form,
// found by it (and only by it), listed without it, per account, revoked at
// once, and gone with its account.
func testAccessTokens(t *testing.T, st AccessTokenStore) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	if list := must(st.AccessTokens(ctx, ann.ID)); len(list) != 0 {
		t.Fatalf("new account has tokens %+v", list)
	}

	before := time.Now().Truncate(time.Second)
	cal, calSecret, err := st.CreateAccessToken(ctx, ann.ID, "  calendar sync ", time.Time{})
	ok(t, err)
	if cal.ID == 0 || cal.AccountID != ann.ID || cal.Name != "calendar sync" || !cal.Expires.IsZero() || !cal.LastUsed.IsZero() ||
		cal.Created.Before(before) || cal.Created.After(time.Now()) {
		t.Fatalf("created %+v", cal)
	}
	if !strings.HasPrefix(calSecret, store.AccessTokenPrefix) || len(calSecret) != 4+52 || strings.ToLower(calSecret) != calSecret ||
		strings.Contains(calSecret, "=") || !store.WellFormedAccessToken(calSecret) {
		t.Fatalf("secret %q: want mrt_ and 52 lower-case base32 characters", calSecret)
	}
	in30 := time.Now().Add(30 * 24 * time.Hour)
	script, scriptSecret := must2(st.CreateAccessToken(ctx, ann.ID, "backup script ☂", in30))
	if !script.Expires.Equal(time.Unix(in30.Unix(), 0)) {
		t.Errorf("Expires = %v, want %v to the second", script.Expires, in30)
	}
	if scriptSecret == calSecret {
		t.Fatal("two tokens with one secret")
	}
	bobTok, bobSecret := must2(st.CreateAccessToken(ctx, bob.ID, "calendar sync", time.Time{})) // names are per account

	list := must(st.AccessTokens(ctx, ann.ID))
	if len(list) != 2 || list[0] != cal || list[1] != script {
		t.Fatalf("AccessTokens = %+v, want %+v and %+v", list, cal, script)
	}

	// Found by the secret, with its account; the use is recorded.
	acct, found, err := st.LookupAccessToken(ctx, calSecret)
	ok(t, err)
	if acct.ID != ann.ID || acct.Email != "ann@example.test" || found.ID != cal.ID || found.Name != cal.Name || found.LastUsed.IsZero() {
		t.Fatalf("LookupAccessToken = %+v, %+v", acct, found)
	}
	if list := must(st.AccessTokens(ctx, ann.ID)); !list[0].LastUsed.Equal(found.LastUsed) || !list[1].LastUsed.IsZero() {
		t.Fatalf("after a lookup: %+v, want the first one used at %v", list, found.LastUsed)
	}
	// Within AccessTokenUseInterval a lookup writes nothing: the time
	// stays that of the first.
	_, again, err := st.LookupAccessToken(ctx, calSecret)
	ok(t, err)
	if !again.LastUsed.Equal(found.LastUsed) {
		t.Errorf("second lookup: LastUsed %v, want %v", again.LastUsed, found.LastUsed)
	}
	if acct, tok := must2(st.LookupAccessToken(ctx, bobSecret)); acct.ID != bob.ID || tok.ID != bobTok.ID {
		t.Fatalf("bob's token found as %+v, %+v", acct, tok)
	}
	for _, bad := range []string{"", calSecret[:len(calSecret)-1], calSecret + "a", strings.ToUpper(calSecret),
		"mrt_" + strings.Repeat("a", 52), "xyz_" + calSecret[4:], strings.Replace(calSecret, calSecret[10:11], "!", 1)} {
		_, _, err := st.LookupAccessToken(ctx, bad)
		wantErr(t, err, store.ErrNotFound, fmt.Sprintf("look up %q", bad))
	}

	_, _, err = st.CreateAccessToken(ctx, ann.ID, "calendar sync", time.Time{})
	wantErr(t, err, store.ErrExists, "a second token with one name")
	for _, bad := range []string{"", "   ", "tab\there", "bell\a", "zero\u200bwidth", strings.Repeat("x", store.MaxAccessTokenName+1), "bad \xff"} {
		_, _, err = st.CreateAccessToken(ctx, ann.ID, bad, time.Time{})
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("name %q", bad))
	}
	if _, _, err := st.CreateAccessToken(ctx, ann.ID, strings.Repeat("x", store.MaxAccessTokenName), time.Time{}); err != nil {
		t.Errorf("a name of %d octets: %v", store.MaxAccessTokenName, err)
	}
	_, _, err = st.CreateAccessToken(ctx, ann.ID, "yesterday", time.Now().Add(-24*time.Hour))
	wantErr(t, err, store.ErrInvalid, "expiry in the past")
	_, _, err = st.CreateAccessToken(ctx, 999999, "x", time.Time{})
	wantErr(t, err, store.ErrNotFound, "token of an account that does not exist")

	// Revoked: not found any more, at once.
	wantErr(t, st.DeleteAccessToken(ctx, bob.ID, cal.ID), store.ErrNotFound, "revoke another account's token")
	ok(t, st.DeleteAccessToken(ctx, ann.ID, cal.ID))
	wantErr(t, st.DeleteAccessToken(ctx, ann.ID, cal.ID), store.ErrNotFound, "revoke twice")
	_, _, err = st.LookupAccessToken(ctx, calSecret)
	wantErr(t, err, store.ErrNotFound, "look up a revoked token")
	if _, _, err := st.LookupAccessToken(ctx, scriptSecret); err != nil {
		t.Fatalf("revoking one token broke another: %v", err)
	}
	// A new token never takes a revoked one's id.
	if tok, _ := must2(st.CreateAccessToken(ctx, ann.ID, "calendar sync", time.Time{})); tok.ID <= script.ID || tok.ID == cal.ID {
		t.Errorf("new token id %d after ids %d and %d", tok.ID, cal.ID, script.ID)
	}

	// The tokens go with the account, and a new account of the same
	// address has none.
	ok(t, st.DeleteAccount(ctx, "ann@example.test"))
	_, _, err = st.LookupAccessToken(ctx, scriptSecret)
	wantErr(t, err, store.ErrNotFound, "look up a token of a deleted account")
	ann2 := newAccount(t, st, "ann@example.test")
	if list := must(st.AccessTokens(ctx, ann2.ID)); len(list) != 0 {
		t.Fatalf("recreated account has tokens %+v", list)
	}
	if _, _, err := st.LookupAccessToken(ctx, bobSecret); err != nil {
		t.Fatalf("deleting ann broke bob's token: %v", err)
	}
}

// testAccessTokenExpiry: a token stops working when it expires, and is
// listed until revoked.
func testAccessTokenExpiry(t *testing.T, st AccessTokenStore) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	soon, secret := must2(st.CreateAccessToken(ctx, ann.ID, "soon", time.Now().Add(2100*time.Millisecond)))
	if _, _, err := st.LookupAccessToken(ctx, secret); err != nil {
		t.Fatalf("before it expires: %v", err)
	}
	time.Sleep(time.Until(soon.Expires) + 100*time.Millisecond)
	_, _, err := st.LookupAccessToken(ctx, secret)
	wantErr(t, err, store.ErrNotFound, "look up an expired token")
	list := must(st.AccessTokens(ctx, ann.ID))
	if len(list) != 1 || list[0].ID != soon.ID || !list[0].Expired(time.Now()) {
		t.Fatalf("expired token listed as %+v", list)
	}
	ok(t, st.DeleteAccessToken(ctx, ann.ID, soon.ID))
}

// testAccessTokenLimit: an account has at most MaxAccessTokens, however
// many are created at once.
func testAccessTokenLimit(t *testing.T, st AccessTokenStore) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	n := store.MaxAccessTokens + 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = st.CreateAccessToken(ctx, ann.ID, fmt.Sprintf("app %d", i), time.Time{})
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		default:
			wantErr(t, err, store.ErrInvalid, "one token too many")
		}
	}
	if list := must(st.AccessTokens(ctx, ann.ID)); created != store.MaxAccessTokens || len(list) != store.MaxAccessTokens {
		t.Fatalf("%d tokens created, %d listed; want %d", created, len(list), store.MaxAccessTokens)
	}
	// Revoking one makes room for one.
	list := must(st.AccessTokens(ctx, ann.ID))
	ok(t, st.DeleteAccessToken(ctx, ann.ID, list[0].ID))
	must2(st.CreateAccessToken(ctx, ann.ID, "after revoking", time.Time{}))
}
