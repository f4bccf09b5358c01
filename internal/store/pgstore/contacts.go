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
// rows, and no two of them prune the same list at once. The commit does
// not wait for the WAL's flush (synchronous_commit off), as SQLite's lazy
// writes: a crash may lose the last suggestions, never a message.
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
		if _, err := tx.exec("SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		// xmax is 0 on a row this statement inserted, not on one it
		// updated: which contacts are new.
		added := map[string]bool{}
		res, _ := tx.Query(tx.ctx, `INSERT INTO contacts (account_id, email_key, email, name, terms, sent, received, last_seen)
			SELECT $1, k, e, n, t, s, r, $8
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS u(k, e, n, t, s, r)
			ON CONFLICT (account_id, email_key) DO UPDATE SET
				email = excluded.email,
				name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE contacts.name END,
				terms = CASE WHEN excluded.name <> '' THEN excluded.terms ELSE contacts.terms END,
				sent = contacts.sent + excluded.sent,
				received = contacts.received + excluded.received,
				last_seen = greatest(contacts.last_seen, excluded.last_seen)
			RETURNING email_key, xmax = 0`,
			accountID, keys, emails, names, terms, sent, received, when)
		var key string
		var isNew bool
		if _, err := pgx.ForEachRow(res, []any{&key, &isNew}, func() error {
			added[key] = isNew
			return nil
		}); err != nil {
			return err
		}
		// The terms of the new contacts, and of the known ones seen with
		// a name (which replaces theirs); a known contact seen without a
		// name keeps its name's terms.
		var redo, termKeys, termWords []string
		for _, r := range rows {
			if !added[r.Key] {
				if r.Name == "" {
					continue
				}
				redo = append(redo, r.Key)
			}
			for _, w := range r.Words {
				termKeys, termWords = append(termKeys, r.Key), append(termWords, w)
			}
		}
		if len(redo) > 0 {
			if _, err := tx.exec("DELETE FROM contact_terms WHERE account_id = $1 AND email_key = ANY($2)", accountID, redo); err != nil {
				return err
			}
		}
		if len(termKeys) > 0 {
			if _, err := tx.exec(`INSERT INTO contact_terms (account_id, term, email_key)
				SELECT $1, w, k FROM unnest($2::text[], $3::text[]) AS u(w, k)`, accountID, termWords, termKeys); err != nil {
				return err
			}
		}
		grew := false
		for _, isNew := range added {
			grew = grew || isNew
		}
		if !grew {
			return nil // the count only grows by new contacts
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

// SuggestContacts implements store.Contacts: the contacts with a term
// that starts with the first word, found by a range of contact_terms'
// primary key when they are few, by a walk of contacts_rank that stops at
// limit when they are many (store.SuggestDense); the phrase of several
// words is checked on those alone. Both reads are in one snapshot.
func (s *Store) SuggestContacts(ctx context.Context, accountID int64, text string, limit int) ([]store.Contact, error) {
	q, err := store.SuggestQuery(text, limit)
	if err != nil {
		return nil, fmt.Errorf("store: suggest contacts: %w", err)
	}
	var out []store.Contact
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM contact_terms
			WHERE account_id = $1 AND term >= $2 AND term < $3 LIMIT $4) AS few`, accountID, q.From, q.To, store.SuggestDense).Scan(&n); err != nil {
			return err
		}
		query := `SELECT email, name, sent, received, last_seen FROM contacts
			WHERE account_id = $1 AND email_key IN (
				SELECT email_key FROM contact_terms WHERE account_id = $1 AND term >= $2 AND term < $3)
			AND ($4 = '' OR strpos(terms, $4) > 0)
			ORDER BY sent DESC, received DESC, last_seen DESC, email_key LIMIT $5`
		if n >= store.SuggestDense {
			query = `SELECT email, name, sent, received, last_seen FROM contacts c
			WHERE account_id = $1 AND EXISTS (SELECT 1 FROM contact_terms t
				WHERE t.account_id = $1 AND t.email_key = c.email_key AND t.term >= $2 AND t.term < $3)
			AND ($4 = '' OR strpos(terms, $4) > 0)
			ORDER BY sent DESC, received DESC, last_seen DESC, email_key LIMIT $5`
		}
		rows, _ := tx.Query(ctx, query, accountID, q.From, q.To, q.Phrase, limit)
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Contact, error) {
			var c store.Contact
			var seen int64
			err := row.Scan(&c.Email, &c.Name, &c.Sent, &c.Received, &seen)
			c.LastSeen = time.Unix(seen, 0)
			return c, err
		})
		return err
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
