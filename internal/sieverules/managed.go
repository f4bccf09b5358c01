package sieverules

import (
	"context"
	"errors"
	"fmt"

	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// Scripts is what the managed script needs of the store.
type Scripts interface {
	SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error)
	SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error)
	PutSieveScript(ctx context.Context, accountID int64, name, content string) error
	SetActiveSieveScript(ctx context.Context, accountID int64, name string) error
}

// Managed is the account's managed script as the forms see it.
type Managed struct {
	Rules Rules // the model; empty when the script is missing or Edited
	// Exists: the account has a script named ScriptName.
	Exists bool
	// Edited: that script is not one Generate wrote (changed by hand or
	// over ManageSieve): the forms cannot show or change it.
	Edited bool
	Text   string // the script as stored
	// Active names the account's active script, "" for none: delivery
	// runs the managed script only when it is ScriptName.
	Active string
}

// IsActive reports whether the managed script is the one delivery runs.
func (m Managed) IsActive() bool { return m.Active == ScriptName }

// Load reads the account's managed script and which script is active.
func Load(ctx context.Context, st Scripts, accountID int64) (Managed, error) {
	list, err := st.SieveScripts(ctx, accountID)
	if err != nil {
		return Managed{}, fmt.Errorf("list the Sieve scripts: %w", err)
	}
	var m Managed
	for _, s := range list {
		if s.Active {
			m.Active = s.Name
		}
		if s.Name == ScriptName {
			m.Exists = true
		}
	}
	if !m.Exists {
		return m, nil
	}
	s, err := st.SieveScript(ctx, accountID, ScriptName)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted since the list: as if it never was.
		m.Exists = false
		return m, nil
	}
	if err != nil {
		return Managed{}, fmt.Errorf("read the Sieve script %s: %w", ScriptName, err)
	}
	m.Text = s.Content
	m.Rules, m.Exists = Parse(s.Content)
	m.Edited = !m.Exists
	m.Exists = true
	return m, nil
}

// Save writes r as the managed script, checked by sieve.Check first, and
// makes it the active one when the account has no active script; an
// active script of the user's own stays active (the caller tells the
// user). It reports whether the managed script is active afterwards.
func Save(ctx context.Context, st Scripts, accountID int64, r Rules) (active bool, err error) {
	text, err := Generate(r)
	if err != nil {
		return false, err
	}
	if err := sieve.Check(text); err != nil {
		// Generate writes only what compiles: a bug, not the user's.
		return false, fmt.Errorf("sieverules: the generated script does not compile: %w", err)
	}
	if err := st.PutSieveScript(ctx, accountID, ScriptName, text); err != nil {
		return false, fmt.Errorf("store the Sieve script %s: %w", ScriptName, err)
	}
	return activateUnlessOther(ctx, st, accountID)
}

// activateUnlessOther makes the managed script active unless another
// script is.
func activateUnlessOther(ctx context.Context, st Scripts, accountID int64) (bool, error) {
	list, err := st.SieveScripts(ctx, accountID)
	if err != nil {
		return false, fmt.Errorf("list the Sieve scripts: %w", err)
	}
	for _, s := range list {
		if s.Active {
			return s.Name == ScriptName, nil
		}
	}
	if err := st.SetActiveSieveScript(ctx, accountID, ScriptName); err != nil {
		return false, fmt.Errorf("activate the Sieve script %s: %w", ScriptName, err)
	}
	return true, nil
}

// Update changes the model of the managed script with fn and saves it
// (see Save). A script edited by hand is not changed: ErrEdited.
func Update(ctx context.Context, st Scripts, accountID int64, fn func(*Rules) error) (active bool, err error) {
	m, err := Load(ctx, st, accountID)
	if err != nil {
		return false, err
	}
	if m.Edited {
		return false, ErrEdited
	}
	if err := fn(&m.Rules); err != nil {
		return false, err
	}
	return Save(ctx, st, accountID, m.Rules)
}

// ErrEdited is returned for a change to a managed script that was edited
// by hand: the model would overwrite the edits.
var ErrEdited = errors.New("the filter script was edited by hand: change it in the script editor")
