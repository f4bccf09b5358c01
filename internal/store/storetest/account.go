package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/store"
)

// cheapParams make real argon2id hashes fast enough for tests.
var cheapParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// testAppPasswords: app passwords are listed without their hashes, log in
// after the main password, and stop working the moment they are deleted,
// even for an authenticator that cached a successful login with them.
func testAppPasswords(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	mainCred := must(auth.HashPassword("main-secret", cheapParams))
	acct := must(st.CreateAccount(ctx, "ann@example.test", mainCred))
	other := newAccount(t, st, "bob@example.test")
	if ps := must(st.AppPasswords(ctx, acct.ID)); len(ps) != 0 {
		t.Fatalf("app passwords of a new account: %+v", ps)
	}

	phonePW, laptopPW := auth.GenerateAppPassword(), auth.GenerateAppPassword()
	before := time.Now().Truncate(time.Second)
	phone := must(st.CreateAppPassword(ctx, acct.ID, "  phone ", must(auth.HashPassword(phonePW, cheapParams))))
	laptop := must(st.CreateAppPassword(ctx, acct.ID, "laptop Thunderbird", must(auth.HashPassword(laptopPW, cheapParams))))
	if phone.Name != "phone" || phone.ID == 0 || phone.Created.Before(before) || !phone.LastUsed.IsZero() {
		t.Fatalf("created %+v", phone)
	}
	list := must(st.AppPasswords(ctx, acct.ID))
	if len(list) != 2 || list[0] != phone || list[1] != laptop {
		t.Fatalf("AppPasswords = %+v, want %+v and %+v", list, phone, laptop)
	}
	if ps := must(st.AppPasswords(ctx, other.ID)); len(ps) != 0 {
		t.Fatalf("another account sees %+v", ps)
	}

	_, err := st.CreateAppPassword(ctx, acct.ID, "phone", testCred)
	wantErr(t, err, store.ErrExists, "duplicate app password name")
	_, err = st.CreateAppPassword(ctx, other.ID, "phone", testCred) // names are per account
	ok(t, err)
	for _, bad := range []string{"", "   ", "tab\there", strings.Repeat("x", store.MaxAppPasswordName+1)} {
		_, err = st.CreateAppPassword(ctx, acct.ID, bad, testCred)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("app password named %q", bad))
	}
	_, err = st.CreateAppPassword(ctx, acct.ID, "no hash", auth.Credentials{})
	wantErr(t, err, store.ErrInvalid, "app password without a hash")
	_, err = st.CreateAppPassword(ctx, 999999, "x", testCred)
	wantErr(t, err, store.ErrNotFound, "app password of an unknown account")

	// The main hash first, then the app passwords in creation order.
	p, hashes, err := st.LookupCredentials(ctx, "ann@example.test")
	if err != nil || p.AccountID != acct.ID || len(hashes) != 3 || hashes[0] != mainCred.Argon2id {
		t.Fatalf("LookupCredentials = %+v, %d hashes, %v", p, len(hashes), err)
	}
	for i, pw := range []string{phonePW, laptopPW} {
		if ok, err := auth.VerifyPassword(hashes[i+1], pw); err != nil || !ok {
			t.Fatalf("hash %d does not verify app password %d: %v", i+1, i, err)
		}
	}

	authn := auth.NewAuthenticator(st, nil, time.Hour, nil)
	login := func(pw string) error {
		_, err := authn.Authenticate(ctx, netip.MustParseAddr("127.0.0.1"), "imap", "ann@example.test", pw)
		return err
	}
	for _, pw := range []string{"main-secret", phonePW, laptopPW, phonePW} { // the second phone login is cached
		ok(t, login(pw))
	}
	if err := login("wrong"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}

	wantErr(t, st.DeleteAppPassword(ctx, other.ID, phone.ID), store.ErrNotFound, "delete another account's app password")
	ok(t, st.DeleteAppPassword(ctx, acct.ID, phone.ID))
	wantErr(t, st.DeleteAppPassword(ctx, acct.ID, phone.ID), store.ErrNotFound, "delete twice")
	if err := login(phonePW); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("login with a revoked app password (cached before): %v", err)
	}
	ok(t, login(laptopPW))
	ok(t, login("main-secret"))
	if list := must(st.AppPasswords(ctx, acct.ID)); len(list) != 1 || list[0] != laptop {
		t.Fatalf("after delete: %+v", list)
	}
	// A new main password leaves the app passwords alone.
	ok(t, st.SetCredentials(ctx, acct.ID, must(auth.HashPassword("new-main", cheapParams))))
	ok(t, login(laptopPW))

	// At most MaxAppPasswords per account.
	for i := len(must(st.AppPasswords(ctx, acct.ID))); i < store.MaxAppPasswords; i++ {
		must(st.CreateAppPassword(ctx, acct.ID, fmt.Sprintf("device %d", i), testCred))
	}
	_, err = st.CreateAppPassword(ctx, acct.ID, "one too many", testCred)
	wantErr(t, err, store.ErrInvalid, "app password over the limit")

	// They go with the account.
	ok(t, st.DeleteAccount(ctx, "ann@example.test"))
	again := must(st.CreateAccount(ctx, "ann@example.test", mainCred))
	if ps := must(st.AppPasswords(ctx, again.ID)); len(ps) != 0 {
		t.Fatalf("a recreated account inherits %+v", ps)
	}
	if _, hashes, _ := st.LookupCredentials(ctx, "ann@example.test"); len(hashes) != 1 {
		t.Fatalf("a recreated account logs in with %d hashes", len(hashes))
	}
	if err := login(laptopPW); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("an app password of the deleted account still logs in: %v", err)
	}
}

// testVacationClaims: a sender is claimed once per interval, per account,
// whatever the case of the address, and never twice by concurrent claims.
func testVacationClaims(t *testing.T, st AccountDataStore) {
	ctx := context.Background()
	ann := newAccount(t, st, "ann@example.test")
	bob := newAccount(t, st, "bob@example.test")
	week := 7 * 24 * time.Hour
	now := time.Unix(1_800_000_000, 0)
	claim := func(acct store.Account, sender string, at time.Time, want bool) {
		t.Helper()
		if got := must(st.ClaimVacationReply(ctx, acct.ID, sender, at, week)); got != want {
			t.Fatalf("claim %s -> %s at %v = %v, want %v", acct.Email, sender, at.Sub(now), got, want)
		}
	}
	claim(ann, "carol@remote.example", now, true)
	claim(ann, "carol@remote.example", now, false)
	claim(ann, "Carol@Remote.Example", now.Add(time.Hour), false)
	claim(ann, "carol@remote.example", now.Add(week-time.Second), false)
	claim(bob, "carol@remote.example", now.Add(time.Hour), true)       // per account
	claim(ann, "dave@remote.example", now.Add(time.Hour), true)        // per sender
	claim(ann, "carol@remote.example", now.Add(week), true)            // due again
	claim(ann, "carol@remote.example", now.Add(week+time.Hour), false) // counted from the last reply
	// A shorter interval applies to the replies already recorded.
	if !must(st.ClaimVacationReply(ctx, ann.ID, "dave@remote.example", now.Add(2*time.Hour), time.Hour)) {
		t.Fatal("a claim after a shorter interval than the last reply's was refused")
	}

	_, err := st.ClaimVacationReply(ctx, ann.ID, "", now, week)
	wantErr(t, err, store.ErrInvalid, "claim for the null sender")
	_, err = st.ClaimVacationReply(ctx, 999999, "carol@remote.example", now, week)
	wantErr(t, err, store.ErrNotFound, "claim for an unknown account")

	// Concurrent deliveries from one sender: exactly one notice.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := st.ClaimVacationReply(ctx, ann.ID, "eve@remote.example", now, week)
			if err != nil {
				t.Error(err)
			}
			if got {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 concurrent claims succeeded, want 1", won)
	}

	// The record goes with the account.
	ok(t, st.DeleteAccount(ctx, "ann@example.test"))
	ann = newAccount(t, st, "ann@example.test")
	claim(ann, "carol@remote.example", now.Add(week+2*time.Hour), true)
}

// testAccountFeatureSettings: the forwarding and vacation settings are
// validated and normalised.
func testAccountFeatureSettings(t *testing.T, st store.Directory) {
	ctx := context.Background()
	acct := newAccount(t, st, "ann@example.test")
	s := must(st.Settings(ctx, acct.ID))
	if s["forward.to"] != "" || !s.Bool("forward.keep") || s.Bool("vacation.enabled") || s.Int("vacation.interval_days") != 7 ||
		s["vacation.subject"] == "" {
		t.Fatalf("defaults: %v", s)
	}
	ok(t, st.SetSettings(ctx, acct.ID, map[string]string{
		"forward.to":       " Bob@Example.test,carol@remote.example, bob@example.test ,",
		"vacation.enabled": "yes",
		"vacation.body":    "Away.\r\nBack on Monday.\r\n",
		"vacation.until":   "1800000000",
	}))
	s = must(st.Settings(ctx, acct.ID))
	if s["forward.to"] != "bob@example.test, carol@remote.example" || s["vacation.body"] != "Away.\nBack on Monday.\n" ||
		!s.Bool("vacation.enabled") || s.Int("vacation.until") != 1_800_000_000 {
		t.Fatalf("after set: %q %q %v", s["forward.to"], s["vacation.body"], s)
	}
	if got := s.Addresses("forward.to"); len(got) != 2 || got[1] != "carol@remote.example" {
		t.Fatalf("Addresses = %q", got)
	}
	ok(t, st.SetSettings(ctx, acct.ID, map[string]string{"forward.to": ""}))
	if s := must(st.Settings(ctx, acct.ID)); s.Addresses("forward.to") != nil {
		t.Fatalf("forward.to after clearing: %q", s["forward.to"])
	}
	for key, bad := range map[string]string{
		"forward.to":             "bob@example.test, not an address",
		"vacation.subject":       "Away\r\nBcc: everyone@example.test",
		"vacation.body":          "bell\a",
		"vacation.interval_days": "0",
		"vacation.until":         "-1",
	} {
		wantErr(t, st.SetSettings(ctx, acct.ID, map[string]string{key: bad}), store.ErrInvalid, fmt.Sprintf("%s=%q", key, bad))
	}
}
