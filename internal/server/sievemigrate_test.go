package server_test

import (
	"context"
	"testing"

	"mailroom/internal/sieverules"
	"mailroom/internal/testrig"
)

// TestStartMigratesSieveSettings: serve turns forwarding and vacation
// settings into the managed Sieve script before it takes mail, at the
// first start of a version with Sieve (the marker of an installation that
// has not run the migration yet is absent).
func TestStartMigratesSieveSettings(t *testing.T) {
	r := testrig.Start(t, nil)
	ctx := context.Background()
	ann := r.Account("ann@example.test")
	if err := r.Store.SetSettings(ctx, ann.ID, map[string]string{"forward.to": "ann@elsewhere.example", "vacation.enabled": "true"}); err != nil {
		t.Fatal(err)
	}
	// As if this installation came from a version without Sieve.
	if err := r.Store.DeleteFile(ctx, "import/sieve-settings"); err != nil {
		t.Fatal(err)
	}
	r.Restart()
	m, err := sieverules.Load(ctx, r.Store, ann.ID)
	if err != nil || !m.IsActive() || len(m.Rules.Forwarding.To) != 1 || !m.Rules.Vacation.Enabled {
		t.Fatalf("after the start: %+v, %v", m, err)
	}
	if s, _ := r.Store.Settings(ctx, ann.ID); s.String("forward.to") != "" || s.Bool("vacation.enabled") {
		t.Fatalf("settings left: %v", s)
	}
	// Once per installation: settings written since are not migrated
	// again (nothing writes them: mailroom user set refuses).
	r.Store.SetSettings(ctx, ann.ID, map[string]string{"forward.to": "other@elsewhere.example"})
	r.Restart()
	if m, _ := sieverules.Load(ctx, r.Store, ann.ID); m.Rules.Forwarding.To[0] != "ann@elsewhere.example" {
		t.Fatalf("migrated twice: %+v", m.Rules.Forwarding)
	}
}
