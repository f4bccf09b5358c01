package sqlitestore

import (
	"context"
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

var _ store.Delegations = (*Store)(nil)

// GrantDelegation implements store.Delegations. The checks and the
// change are one transaction of the single writer, so an account or
// domain deleted meanwhile cannot leave a grant naming it behind.
func (s *Store) GrantDelegation(ctx context.Context, ownerID int64, grantee string, mode store.DelegationMode) error {
	kind, err := store.CheckDelegation(grantee, mode)
	if err != nil {
		return fmt.Errorf("store: grant delegation: %w", err)
	}
	err = s.write(ctx, func(tx *txn) error {
		var owner string
		if err := tx.query("SELECT email FROM accounts WHERE id = ?", func(st *sqlite.Stmt) error { owner = st.ColumnText(0); return nil }, ownerID); err != nil {
			return err
		}
		if owner == "" {
			return fmt.Errorf("account %d: %w", ownerID, store.ErrNotFound)
		}
		if kind == acl.KindAccount && grantee == owner {
			return fmt.Errorf("%w: %s may always send as itself", store.ErrInvalid, owner)
		}
		if err := tx.identifierExists(grantee, kind, owner); err != nil {
			return err
		}
		var had bool
		if err := tx.query("SELECT 1 FROM delegations WHERE owner_id = ? AND grantee = ?", func(*sqlite.Stmt) error { had = true; return nil }, ownerID, grantee); err != nil {
			return err
		}
		if had {
			return tx.exec("UPDATE delegations SET mode = ? WHERE owner_id = ? AND grantee = ?", int64(mode), ownerID, grantee)
		}
		var n int
		if err := tx.query("SELECT count(*) FROM delegations WHERE owner_id = ?", func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }, ownerID); err != nil {
			return err
		}
		if n >= store.MaxDelegations {
			return fmt.Errorf("%w: %s already has %d delegates, the most there can be", store.ErrInvalid, owner, n)
		}
		return tx.exec("INSERT INTO delegations (owner_id, grantee, mode) VALUES (?, ?, ?)", ownerID, grantee, int64(mode))
	})
	if err != nil {
		return fmt.Errorf("store: grant delegation: %w", err)
	}
	return nil
}

// RevokeDelegation implements store.Delegations.
func (s *Store) RevokeDelegation(ctx context.Context, ownerID int64, grantee string) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM delegations WHERE owner_id = ? AND grantee = ?", ownerID, grantee); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return fmt.Errorf("no grant of account %d to %q: %w", ownerID, grantee, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: revoke delegation: %w", err)
	}
	return nil
}

// Delegations implements store.Delegations.
func (s *Store) Delegations(ctx context.Context, ownerID int64) ([]store.Delegation, error) {
	var out []store.Delegation
	err := s.query(ctx, `SELECT a.email, d.grantee, d.mode FROM delegations d JOIN accounts a ON a.id = d.owner_id
		WHERE d.owner_id = ? ORDER BY d.grantee`, func(st *sqlite.Stmt) error {
		out = append(out, store.Delegation{OwnerID: ownerID, Owner: st.ColumnText(0), Grantee: st.ColumnText(1), Mode: store.DelegationMode(st.ColumnInt64(2))})
		return nil
	}, ownerID)
	if err != nil {
		return nil, fmt.Errorf("store: list delegations: %w", err)
	}
	return out, nil
}

// DelegatedTo implements store.Delegations.
func (s *Store) DelegatedTo(ctx context.Context, accountID int64, email string) ([]store.Delegation, error) {
	email = strings.ToLower(email)
	ids := acl.IdentifiersOf(email)
	args := make([]any, 0, len(ids)+1)
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, accountID)
	var rows []store.Delegation
	err := s.query(ctx, `SELECT d.owner_id, a.email, d.mode FROM delegations d JOIN accounts a ON a.id = d.owner_id
		WHERE d.grantee IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`) AND d.owner_id != ?
		ORDER BY a.email, d.owner_id`, func(st *sqlite.Stmt) error {
		rows = append(rows, store.Delegation{OwnerID: st.ColumnInt64(0), Owner: st.ColumnText(1), Mode: store.DelegationMode(st.ColumnInt64(2))})
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("store: delegations of %s: %w", email, err)
	}
	return store.MergeDelegations(email, rows), nil
}
