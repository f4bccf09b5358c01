package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Annotations (store.Metadata) follow sqlitestore/metadata.go. What
// SQLite gets from its single writer, SetMetadata gets from a lock held
// until its commit: two sessions that each fit the limits alone cannot
// both commit when together they would not.

var _ store.Metadata = (*Store)(nil)

// serverMetadataLock is the advisory lock key held while the server's
// annotations change ("mailmeta" in ASCII; migrate's is "mailroom").
const serverMetadataLock int64 = 0x6d61696c6d657461

// metadataPlace is the table and condition that select one place's
// entries: a mailbox's (mailbox_metadata) or the server's
// (server_metadata), of one owner (store.MetadataOwner); the condition's
// parameters are $1 and, for a mailbox, $2.
func metadataPlace(mailboxID, owner int64) (where string, args []any) {
	if mailboxID == 0 {
		return "server_metadata WHERE owner_id = $1", []any{owner}
	}
	return "mailbox_metadata WHERE mailbox_id = $1 AND owner_id = $2", []any{mailboxID, owner}
}

// GetMetadata implements store.Metadata.
func (s *Store) GetMetadata(ctx context.Context, mailboxID, accountID int64, names []string, depth store.MetadataDepth) ([]store.MetadataEntry, error) {
	for _, n := range names {
		if err := store.CheckMetadataName(n, true); err != nil {
			return nil, err
		}
	}
	if mailboxID != 0 {
		var one int
		err := s.pool.QueryRow(ctx, "SELECT 1 FROM mailboxes WHERE id = $1", mailboxID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("store: read annotations: %w", unavailable(err))
		}
	}
	var out []store.MetadataEntry
	seen := map[string]bool{}
	for _, n := range names {
		where, args := metadataPlace(mailboxID, store.MetadataOwner(n, accountID))
		p := len(args)
		// The entry and, unless DEPTH 0, the range of names below it:
		// those after n+"/" and before n+"0" ("0" follows "/").
		q := fmt.Sprintf("SELECT name, value FROM %s AND name = $%d", where, p+1)
		args = append(args, n)
		if depth != store.MetadataDepth0 {
			q = fmt.Sprintf("SELECT name, value FROM %s AND (name = $%d OR (name > $%d AND name < $%d))", where, p+1, p+2, p+3)
			args = append(args, n+"/", n+"0")
		}
		rows, _ := s.pool.Query(ctx, q, args...)
		var name string
		var value []byte
		_, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
			if seen[name] || !depth.Matches(n, name) {
				return nil
			}
			seen[name] = true
			v := make([]byte, len(value)) // value's buffer is reused for the next row
			copy(v, value)
			out = append(out, store.MetadataEntry{Name: name, Value: v})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: read annotations: %w", unavailable(err))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetMetadata implements store.Metadata.
func (s *Store) SetMetadata(ctx context.Context, mailboxID, accountID int64, changes []store.MetadataEntry) error {
	if err := store.CheckMetadataChanges(changes); err != nil {
		return err
	}
	// READ COMMITTED under a lock, as writeAccount does: every statement
	// after the lock sees what the previous writer of the place committed,
	// so the count below is the truth, and many sessions setting entries
	// at once wait for each other instead of aborting each other as
	// SERIALIZABLE transactions would. The lock is the mailbox's row
	// (which also says it exists) or, for the server's entries, an
	// advisory lock: they are rare.
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		if mailboxID != 0 {
			ok, err := tx.exists("SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE", mailboxID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
			}
		} else if _, err := tx.exec("SELECT pg_advisory_xact_lock($1)", serverMetadataLock); err != nil {
			return err
		}
		var touched []int64 // the places changed, in the order first met
		for _, c := range changes {
			owner := store.MetadataOwner(c.Name, accountID)
			if !slices.Contains(touched, owner) {
				if owner != 0 {
					// FOR KEY SHARE: an account being deleted is waited
					// for, then not found.
					ok, err := tx.exists("SELECT 1 FROM accounts WHERE id = $1 FOR KEY SHARE", owner)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("account %d: %w", owner, store.ErrNotFound)
					}
				}
				touched = append(touched, owner)
			}
			var err error
			switch {
			case c.Value == nil && mailboxID == 0:
				_, err = tx.exec("DELETE FROM server_metadata WHERE owner_id = $1 AND name = $2", owner, c.Name)
			case c.Value == nil:
				_, err = tx.exec("DELETE FROM mailbox_metadata WHERE mailbox_id = $1 AND owner_id = $2 AND name = $3", mailboxID, owner, c.Name)
			case mailboxID == 0:
				_, err = tx.exec(`INSERT INTO server_metadata (owner_id, name, value) VALUES ($1, $2, $3)
					ON CONFLICT (owner_id, name) DO UPDATE SET value = excluded.value`, owner, c.Name, c.Value)
			default:
				_, err = tx.exec(`INSERT INTO mailbox_metadata (mailbox_id, owner_id, name, value) VALUES ($1, $2, $3, $4)
					ON CONFLICT (mailbox_id, owner_id, name) DO UPDATE SET value = excluded.value`, mailboxID, owner, c.Name, c.Value)
			}
			if err != nil {
				return fmt.Errorf("set annotation %s: %w", c.Name, err)
			}
		}
		// The limits, against what is stored now that the changes are
		// in, in the same transaction.
		for _, owner := range touched {
			where, args := metadataPlace(mailboxID, owner)
			var count int
			var total int64
			if err := tx.QueryRow(tx.ctx, "SELECT count(*), coalesce(sum(octet_length(name) + octet_length(value)), 0) FROM "+where, args...).Scan(&count, &total); err != nil {
				return fmt.Errorf("count annotations: %w", err)
			}
			if err := store.MetadataOverLimit(changes, accountID, owner, count, total); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set annotations: %w", err)
	}
	return nil
}
