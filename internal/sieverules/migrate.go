package sieverules

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailroom/internal/store"
)

// The settings that were forwarding and the vacation notice before they
// were Sieve, and what MigrateSettings sets them back to.
var oldSettings = []string{"forward.to", "forward.keep", "vacation.enabled", "vacation.subject", "vacation.body",
	"vacation.from", "vacation.until", "vacation.interval_days"}

// MigrationStore is what MigrateSettings needs of the store.
type MigrationStore interface {
	Scripts
	Accounts(ctx context.Context) ([]store.Account, error)
	Settings(ctx context.Context, accountID int64) (store.Settings, error)
	SetSettings(ctx context.Context, accountID int64, values map[string]string) error
	AcquireLease(ctx context.Context, name, owner string, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// migrationLease keeps two nodes starting at once from migrating side by
// side: the second waits for the first, then finds nothing left to do.
const migrationLease = "sieverules/migrate-settings"

// MigrateSettings turns the forwarding and vacation settings of every
// account that uses them (forward.to set, or vacation.enabled) into the
// Forwarding and Vacation of its managed script (merged into the rules
// there), stores the script, makes it active unless the account has an
// active script of its own (then it logs a warning: that script decides),
// and only then sets the old settings back to their defaults. A pass cut
// short repeats the rest harmlessly: an account whose settings are not
// cleared yet gets the same script again.
//
// An account whose managed script was edited by hand keeps its settings
// (logged); store errors end the pass. It returns how many accounts were
// migrated.
func MigrateSettings(ctx context.Context, st MigrationStore, log *slog.Logger) (int, error) {
	owner := rand.Text()
	for {
		ok, err := st.AcquireLease(ctx, migrationLease, owner, time.Now().Add(5*time.Minute))
		if err != nil {
			return 0, fmt.Errorf("migrate forwarding and vacation settings: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	defer st.ReleaseLease(context.WithoutCancel(ctx), migrationLease, owner)

	accts, err := st.Accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate forwarding and vacation settings: %w", err)
	}
	n := 0
	for _, a := range accts {
		done, err := migrateAccount(ctx, st, a, log)
		if err != nil {
			return n, fmt.Errorf("migrate the forwarding and vacation settings of %s: %w", a.Email, err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

func migrateAccount(ctx context.Context, st MigrationStore, a store.Account, log *slog.Logger) (bool, error) {
	s, err := st.Settings(ctx, a.ID)
	if err != nil {
		return false, err
	}
	if s.String("forward.to") == "" && !s.Bool("vacation.enabled") {
		return false, nil
	}
	m, err := Load(ctx, st, a.ID)
	if err != nil {
		return false, err
	}
	if m.Edited {
		log.Warn("forwarding and vacation settings not migrated: the account's Sieve script "+ScriptName+
			" was edited by hand; add them to a script, then clear them with mailroom user set", "account", a.Email)
		return false, nil
	}
	r := m.Rules
	if to := s.Addresses("forward.to"); len(to) > 0 {
		r.Forwarding = Forwarding{To: to, Keep: s.Bool("forward.keep")}
	}
	if v := VacationFromSettings(s); v.Enabled || r.Vacation == (Vacation{}) {
		// A notice that is off still keeps its text, for the form.
		r.Vacation = v
	}
	active, err := Save(ctx, st, a.ID, r)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			log.Warn("forwarding and vacation settings not migrated", "account", a.Email, "err", err)
			return false, nil
		}
		return false, err
	}
	if !active {
		log.Warn("forwarding and vacation settings migrated into the Sieve script "+ScriptName+
			", which is not active: the account's own active script decides what happens to its mail", "account", a.Email)
	}
	clear := map[string]string{}
	for _, k := range oldSettings {
		def, _ := store.LookupSetting(k)
		clear[k] = def.Default
	}
	if err := st.SetSettings(ctx, a.ID, clear); err != nil {
		return false, err
	}
	log.Info("forwarding and vacation settings migrated into the Sieve script "+ScriptName, "account", a.Email, "active", active)
	return true, nil
}

// VacationFromSettings is the vacation notice the settings described:
// the dates become days in the server's time zone (vacation.until was
// the last second of the last day), the interval whole days.
func VacationFromSettings(s store.Settings) Vacation {
	v := Vacation{Enabled: s.Bool("vacation.enabled"), Subject: s.String("vacation.subject"), Body: s.String("vacation.body"),
		Days: int(min(max(s.Int("vacation.interval_days"), 1), MaxDays))}
	if t := s.Int("vacation.from"); t > 0 {
		v.From = time.Unix(t, 0).Format(time.DateOnly)
	}
	if t := s.Int("vacation.until"); t > 0 {
		// The notice stopped at until: its last day is the one before
		// that instant.
		v.Until = time.Unix(t-1, 0).Format(time.DateOnly)
	}
	if v.From != "" && v.Until != "" && v.Until < v.From {
		v.Until = v.From
	}
	return v
}
