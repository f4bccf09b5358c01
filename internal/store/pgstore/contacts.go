package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

var _ store.Contacts = (*Store)(nil)

// RecordContacts implements store.Contacts (migration 23): one upsert of
// every row, under the account's row lock (writeAccount) so that the
// count and the pruning that follows see every concurrent delivery's
// rows, and no two of them prune the same list at once.
func (s *Store) RecordContacts(ctx context.Context, accountID int64, seen []store.ContactSeen, at time.Time) error {
	rows, err := store.PrepareContacts(seen)
	if err != nil {
		return fmt.Errorf("store: record contacts: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	keys, emails, names, terms := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sent, received := make([]int64, n), make([]int64, n)
	for i, r := range rows {
		keys[i], emails[i], names[i], terms[i], sent[i], received[i] = r.Key, r.Email, r.Name, r.Terms, r.Sent, r.Received
	}
	when := at.Unix()
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		if _, err := tx.exec(`INSERT INTO contacts (account_id, email_key, email, name, terms, sent, received, last_seen)
			SELECT $1, k, e, n, t, s, r, $8
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS u(k, e, n, t, s, r)
			ON CONFLICT (account_id, email_key) DO UPDATE SET
				email = excluded.email,
				name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE contacts.name END,
				terms = CASE WHEN excluded.name <> '' THEN excluded.terms ELSE contacts.terms END,
				sent = contacts.sent + excluded.sent,
				received = contacts.received + excluded.received,
				last_seen = greatest(contacts.last_seen, excluded.last_seen)`,
			accountID, keys, emails, names, terms, sent, received, when); err != nil {
			return err
		}
		var count int64
		if err := tx.QueryRow(tx.ctx, "SELECT count(*) FROM contacts WHERE account_id = $1", accountID).Scan(&count); err != nil {
			return err
		}
		if count <= store.MaxContacts {
			return nil
		}
		// The least used go first; the addresses just recorded (seen at
		// at or later) last, so that a full list still takes new people.
		_, err := tx.exec(`DELETE FROM contacts WHERE account_id = $1 AND email_key IN (
			SELECT email_key FROM contacts WHERE account_id = $1
			ORDER BY last_seen >= $2, sent, received, last_seen, email_key LIMIT $3)`,
			accountID, when, count-store.MaxContacts)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record contacts of account %d: %w", accountID, err)
	}
	return nil
}

// SuggestContacts implements store.Contacts. The index contacts_rank
// gives the account's contacts in rank order, so the scan stops at limit
// matches: at most MaxContacts rows, no sort.
func (s *Store) SuggestContacts(ctx context.Context, accountID int64, text string, limit int) ([]store.Contact, error) {
	q, err := store.SuggestQuery(text, limit)
	if err != nil {
		return nil, fmt.Errorf("store: suggest contacts: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `SELECT email, name, sent, received, last_seen FROM contacts
		WHERE account_id = $1 AND strpos(terms, $2) > 0
		ORDER BY sent DESC, received DESC, last_seen DESC, email_key LIMIT $3`, accountID, q, limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Contact, error) {
		var c store.Contact
		var seen int64
		err := row.Scan(&c.Email, &c.Name, &c.Sent, &c.Received, &seen)
		c.LastSeen = time.Unix(seen, 0)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: suggest contacts of account %d: %w", accountID, unavailable(err))
	}
	return out, nil
}

// ForgetContact implements store.Contacts.
func (s *Store) ForgetContact(ctx context.Context, accountID int64, email string) (bool, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM contacts WHERE account_id = $1 AND email_key = $2", accountID, store.ContactKey(email))
	if err != nil {
		return false, fmt.Errorf("store: forget contact of account %d: %w", accountID, unavailable(err))
	}
	return tag.RowsAffected() > 0, nil
}
