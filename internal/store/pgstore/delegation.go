package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Delegations (store.Delegations) follow sqlitestore/delegation.go. What
// SQLite gets from its single writer, GrantDelegation gets from write's
// SERIALIZABLE transaction: the checks (the owner and the account or
// domain named exist, the owner has room for one more grant) and the
// insert commit together or not at all, whichever node deletes that
// account or domain at the same time (DeleteAccount and DeleteDomain
// remove the grants naming them, in SERIALIZABLE transactions too).

var _ store.Delegations = (*Store)(nil)

// GrantDelegation implements store.Delegations.
func (s *Store) GrantDelegation(ctx context.Context, ownerID int64, grantee string, mode store.DelegationMode) error {
	kind, err := store.CheckDelegation(grantee, mode)
	if err != nil {
		return fmt.Errorf("store: grant delegation: %w", err)
	}
	err = s.write(ctx, func(tx *txn) error {
		var owner string
		err := tx.QueryRow(tx.ctx, "SELECT email FROM accounts WHERE id = $1", ownerID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("account %d: %w", ownerID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if kind == acl.KindAccount && grantee == owner {
			return fmt.Errorf("%w: %s may always send as itself", store.ErrInvalid, owner)
		}
		if err := tx.identifierExists(grantee, kind, owner); err != nil {
			return err
		}
		tag, err := tx.exec("UPDATE delegations SET mode = $3 WHERE owner_id = $1 AND grantee = $2", ownerID, grantee, int64(mode))
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		// Counted only for a new grant, as ModifyACL counts.
		var n int
		if err := tx.QueryRow(tx.ctx, "SELECT count(*) FROM delegations WHERE owner_id = $1", ownerID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxDelegations {
			return fmt.Errorf("%w: %s already has %d delegates, the most there can be", store.ErrInvalid, owner, n)
		}
		_, err = tx.exec("INSERT INTO delegations (owner_id, grantee, mode) VALUES ($1, $2, $3)", ownerID, grantee, int64(mode))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: grant delegation: %w", err)
	}
	return nil
}

// RevokeDelegation implements store.Delegations.
func (s *Store) RevokeDelegation(ctx context.Context, ownerID int64, grantee string) error {
	err := s.write(ctx, func(tx *txn) error {
		tag, err := tx.exec("DELETE FROM delegations WHERE owner_id = $1 AND grantee = $2", ownerID, grantee)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
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
	rows, _ := s.pool.Query(ctx, `SELECT d.owner_id, a.email, d.grantee, d.mode FROM delegations d JOIN accounts a ON a.id = d.owner_id
		WHERE d.owner_id = $1 ORDER BY d.grantee`, ownerID)
	out, err := pgx.CollectRows(rows, scanDelegation)
	if err != nil {
		return nil, fmt.Errorf("store: list delegations: %w", err)
	}
	return out, nil
}

// DelegatedTo implements store.Delegations.
func (s *Store) DelegatedTo(ctx context.Context, accountID int64, email string) ([]store.Delegation, error) {
	email = strings.ToLower(email)
	rows, _ := s.pool.Query(ctx, `SELECT d.owner_id, a.email, d.grantee, d.mode FROM delegations d JOIN accounts a ON a.id = d.owner_id
		WHERE d.grantee = ANY($1) AND d.owner_id <> $2 ORDER BY a.email, d.owner_id`, acl.IdentifiersOf(email), accountID)
	out, err := pgx.CollectRows(rows, scanDelegation)
	if err != nil {
		return nil, fmt.Errorf("store: delegations of %s: %w", email, err)
	}
	return store.MergeDelegations(email, out), nil
}

func scanDelegation(row pgx.CollectableRow) (store.Delegation, error) {
	var d store.Delegation
	var mode int64
	err := row.Scan(&d.OwnerID, &d.Owner, &d.Grantee, &mode)
	d.Mode = store.DelegationMode(mode)
	return d, err
}
