package sieverules_test

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
	"mailroom/internal/testrig/teststore"
)

func TestMain(m *testing.M) { os.Exit(teststore.Main(m)) }

// cred is a password hash no test logs in with.
var cred = auth.Credentials{Argon2id: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}

func account(t *testing.T, st store.Store, email string, settings map[string]string) store.Account {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Domain(ctx, "example.test"); err != nil {
		if _, err := st.CreateDomain(ctx, "example.test"); err != nil {
			t.Fatal(err)
		}
	}
	a, err := st.CreateAccount(ctx, email, cred)
	if err != nil {
		t.Fatal(err)
	}
	if settings != nil {
		if err := st.SetSettings(ctx, a.ID, settings); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// TestMigrateSettings: forwarding and vacation settings become the
// managed script, active unless another script is, merged into rules
// already there; the settings are cleared; a second pass changes nothing.
func TestMigrateSettings(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	log := slog.New(slog.DiscardHandler)
	from := time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local)
	until := time.Date(2026, 12, 24, 0, 0, 0, 0, time.Local).Add(24*time.Hour - time.Second) // as the web set it
	ann := account(t, st, "ann@example.test", map[string]string{"forward.to": "Ann@Elsewhere.example, other@example.org", "forward.keep": "false",
		"vacation.enabled": "true", "vacation.subject": "Away", "vacation.body": "Back on Monday.\nAnn",
		"vacation.from": strconv.FormatInt(from.Unix(), 10), "vacation.until": strconv.FormatInt(until.Unix(), 10), "vacation.interval_days": "3"})
	// Bob forwards, and has rules already: they stay.
	bob := account(t, st, "bob@example.test", map[string]string{"forward.to": "bob@elsewhere.example", "vacation.subject": "Gone"})
	rule := sieverules.Rule{Name: "Lists", Conditions: []sieverules.Condition{{Field: sieverules.FieldHeader, Header: "List-Id", Op: sieverules.OpContains, Value: "dev"}},
		Actions: []sieverules.Action{{Kind: sieverules.ActionMove, Folder: "Lists"}}}
	if _, err := sieverules.Save(ctx, st, bob.ID, sieverules.Rules{Rules: []sieverules.Rule{rule}}); err != nil {
		t.Fatal(err)
	}
	// Cat has a vacation notice and an active script of her own.
	cat := account(t, st, "cat@example.test", map[string]string{"vacation.enabled": "true"})
	if err := st.PutSieveScript(ctx, cat.ID, "mine", "keep;\n"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetActiveSieveScript(ctx, cat.ID, "mine"); err != nil {
		t.Fatal(err)
	}
	// Dan has nothing to migrate (a vacation text, but off).
	dan := account(t, st, "dan@example.test", map[string]string{"vacation.subject": "Later"})

	n, err := sieverules.MigrateSettings(ctx, st, log)
	if err != nil || n != 3 {
		t.Fatalf("MigrateSettings: %d, %v; want 3", n, err)
	}
	check := func(a store.Account, active string, want sieverules.Rules) {
		t.Helper()
		m, err := sieverules.Load(ctx, st, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Exists || m.Edited || m.Active != active {
			t.Fatalf("%s: managed script exists %v, edited %v, active %q; want active %q", a.Email, m.Exists, m.Edited, m.Active, active)
		}
		if !reflect.DeepEqual(m.Rules, want.Normalized()) {
			t.Fatalf("%s: model\n%+v\nwant\n%+v", a.Email, m.Rules, want.Normalized())
		}
		s, err := st.Settings(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.String("forward.to") != "" || !s.Bool("forward.keep") || s.Bool("vacation.enabled") || s.Int("vacation.from") != 0 ||
			s.Int("vacation.until") != 0 || s.String("vacation.subject") != "Out of office" || s.Int("vacation.interval_days") != 7 {
			t.Fatalf("%s: settings not cleared: %v", a.Email, s)
		}
	}
	annWant := sieverules.Rules{Forwarding: sieverules.Forwarding{To: []string{"ann@elsewhere.example", "other@example.org"}},
		Vacation: sieverules.Vacation{Enabled: true, Subject: "Away", Body: "Back on Monday.\nAnn", From: "2026-12-01", Until: "2026-12-24", Days: 3}}
	check(ann, sieverules.ScriptName, annWant)
	bobWant := sieverules.Rules{Rules: []sieverules.Rule{rule}, Forwarding: sieverules.Forwarding{To: []string{"bob@elsewhere.example"}, Keep: true},
		Vacation: sieverules.Vacation{Subject: "Gone", Body: "I am away and will read your message when I am back.", Days: 7}}
	check(bob, sieverules.ScriptName, bobWant)
	check(cat, "mine", sieverules.Rules{Vacation: sieverules.Vacation{Enabled: true, Subject: "Out of office",
		Body: "I am away and will read your message when I am back.", Days: 7}})
	if list, _ := st.SieveScripts(ctx, dan.ID); len(list) != 0 {
		t.Fatalf("dan, with nothing to migrate, has scripts %+v", list)
	}
	text, _ := st.SieveScript(ctx, ann.ID, sieverules.ScriptName)

	// Again: nothing to do, nothing changed.
	if n, err := sieverules.MigrateSettings(ctx, st, log); err != nil || n != 0 {
		t.Fatalf("second MigrateSettings: %d, %v", n, err)
	}
	check(ann, sieverules.ScriptName, annWant)
	check(bob, sieverules.ScriptName, bobWant)
	if again, _ := st.SieveScript(ctx, ann.ID, sieverules.ScriptName); again.Content != text.Content {
		t.Fatal("the second pass changed the script")
	}

	// A pass that stored the script and stopped before clearing the
	// settings: the next one stores the same script and clears them.
	if err := st.SetSettings(ctx, ann.ID, map[string]string{"forward.to": "ann@elsewhere.example, other@example.org", "forward.keep": "false",
		"vacation.enabled": "true", "vacation.subject": "Away", "vacation.body": "Back on Monday.\nAnn",
		"vacation.from": strconv.FormatInt(from.Unix(), 10), "vacation.until": strconv.FormatInt(until.Unix(), 10), "vacation.interval_days": "3"}); err != nil {
		t.Fatal(err)
	}
	if n, err := sieverules.MigrateSettings(ctx, st, log); err != nil || n != 1 {
		t.Fatalf("MigrateSettings after a crash: %d, %v", n, err)
	}
	check(ann, sieverules.ScriptName, annWant)
	if again, _ := st.SieveScript(ctx, ann.ID, sieverules.ScriptName); again.Content != text.Content {
		t.Fatalf("the repeated migration wrote another script:\n%s\nwant\n%s", again.Content, text.Content)
	}
}

// TestMigrateTwoNodes: two nodes starting at once on one installation
// migrate each account once between them, and agree on the result.
func TestMigrateTwoNodes(t *testing.T) {
	ctx := context.Background()
	a, b := teststore.OpenNodes(t)
	log := slog.New(slog.DiscardHandler)
	var accts []store.Account
	for i := range 20 {
		accts = append(accts, account(t, a, "u"+strconv.Itoa(i)+"@example.test", map[string]string{"forward.to": "x" + strconv.Itoa(i) + "@elsewhere.example"}))
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i, st := range []store.Store{a, b} {
		wg.Go(func() { counts[i], errs[i] = sieverules.MigrateSettings(ctx, st, log) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != len(accts) {
		t.Fatalf("migrated %v, errors %v; want %d in all", counts, errs, len(accts))
	}
	for i, acct := range accts {
		m, err := sieverules.Load(ctx, b, acct.ID)
		if err != nil || !m.IsActive() || len(m.Rules.Forwarding.To) != 1 || m.Rules.Forwarding.To[0] != "x"+strconv.Itoa(i)+"@elsewhere.example" {
			t.Fatalf("%s: %+v, %v", acct.Email, m, err)
		}
	}
}
