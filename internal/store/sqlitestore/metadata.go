package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.Metadata = (*Store)(nil)

// metadataPlace is the table and condition that select one place's
// entries: a mailbox's (mailbox_metadata) or the server's
// (server_metadata), of one owner (store.MetadataOwner).
func metadataPlace(mailboxID, owner int64) (where string, args []any) {
	if mailboxID == 0 {
		return "server_metadata WHERE owner_id = ?", []any{owner}
	}
	return "mailbox_metadata WHERE mailbox_id = ? AND owner_id = ?", []any{mailboxID, owner}
}

// GetMetadata implements store.Metadata.
func (s *Store) GetMetadata(ctx context.Context, mailboxID, accountID int64, names []string, depth store.MetadataDepth) ([]store.MetadataEntry, error) {
	for _, n := range names {
		if err := store.CheckMetadataName(n, true); err != nil {
			return nil, err
		}
	}
	var out []store.MetadataEntry
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		tx := txn{conn: conn}
		if mailboxID != 0 {
			if _, err := tx.mailboxByID(mailboxID); err != nil {
				return err
			}
		}
		seen := map[string]bool{}
		for _, n := range names {
			where, args := metadataPlace(mailboxID, store.MetadataOwner(n, accountID))
			// The entry and, unless DEPTH 0, the range of names below
			// it: those after n+"/" and before n+"0" ("0" follows "/").
			q := "SELECT name, value FROM " + where + " AND name = ?"
			args = append(args, n)
			if depth != store.MetadataDepth0 {
				q = "SELECT name, value FROM " + where + " AND (name = ? OR (name > ? AND name < ?))"
				args = append(args, n+"/", n+"0")
			}
			if err := tx.query(q, func(st *sqlite.Stmt) error {
				name := st.ColumnText(0)
				if seen[name] || !depth.Matches(n, name) {
					return nil
				}
				seen[name] = true
				v := make([]byte, st.ColumnLen(1))
				st.ColumnBytes(1, v)
				out = append(out, store.MetadataEntry{Name: name, Value: v})
				return nil
			}, args...); err != nil {
				return fmt.Errorf("store: read annotations: %w", err)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// SetMetadata implements store.Metadata.
func (s *Store) SetMetadata(ctx context.Context, mailboxID, accountID int64, changes []store.MetadataEntry) error {
	if err := store.CheckMetadataChanges(changes); err != nil {
		return err
	}
	return s.write(ctx, func(tx *txn) error {
		if mailboxID != 0 {
			if _, err := tx.mailboxByID(mailboxID); err != nil {
				return err
			}
		}
		var touched []int64 // the places changed, in the order first met
		for _, c := range changes {
			owner := store.MetadataOwner(c.Name, accountID)
			if !slices.Contains(touched, owner) {
				if owner != 0 {
					if err := tx.accountExists(owner); err != nil {
						return err
					}
				}
				touched = append(touched, owner)
			}
			var err error
			switch {
			case c.Value == nil && mailboxID == 0:
				err = tx.exec("DELETE FROM server_metadata WHERE owner_id = ? AND name = ?", owner, c.Name)
			case c.Value == nil:
				err = tx.exec("DELETE FROM mailbox_metadata WHERE mailbox_id = ? AND owner_id = ? AND name = ?", mailboxID, owner, c.Name)
			case mailboxID == 0:
				// coalesce: an empty value binds as NULL.
				err = tx.exec(`INSERT INTO server_metadata (owner_id, name, value) VALUES (?, ?, coalesce(?, x''))
					ON CONFLICT (owner_id, name) DO UPDATE SET value = excluded.value`, owner, c.Name, c.Value)
			default:
				err = tx.exec(`INSERT INTO mailbox_metadata (mailbox_id, owner_id, name, value) VALUES (?, ?, ?, coalesce(?, x''))
					ON CONFLICT (mailbox_id, owner_id, name) DO UPDATE SET value = excluded.value`, mailboxID, owner, c.Name, c.Value)
			}
			if err != nil {
				return fmt.Errorf("store: set annotation %s: %w", c.Name, err)
			}
		}
		// The limits, against what is stored now that the changes are
		// in: within this transaction, so two sessions cannot both fit.
		for _, owner := range touched {
			where, args := metadataPlace(mailboxID, owner)
			var count int
			var total int64
			if err := tx.query("SELECT count(*), coalesce(sum(length(name) + length(value)), 0) FROM "+where, func(st *sqlite.Stmt) error {
				count, total = st.ColumnInt(0), st.ColumnInt64(1)
				return nil
			}, args...); err != nil {
				return fmt.Errorf("store: count annotations: %w", err)
			}
			if err := store.MetadataOverLimit(changes, accountID, owner, count, total); err != nil {
				return err
			}
		}
		return nil
	})
}
