package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.Contacts = (*Store)(nil)

// RecordContacts implements store.Contacts (migration 30). It is a lazy
// write: a suggestion lost to a power cut costs nothing, and the
// delivery that records it has already been fsynced.
func (s *Store) RecordContacts(ctx context.Context, accountID int64, seen []store.ContactSeen, at time.Time) error {
	rows, err := store.PrepareContacts(seen)
	if err != nil {
		return fmt.Errorf("store: record contacts: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	when := at.Unix()
	err = s.writeLazy(ctx, func(tx *txn) error {
		if err := tx.accountExists(accountID); err != nil {
			return err
		}
		added := false
		for _, r := range rows {
			known := false
			if err := tx.query("SELECT 1 FROM contacts WHERE account_id = ? AND email_key = ?", func(*sqlite.Stmt) error {
				known = true
				return nil
			}, accountID, r.Key); err != nil {
				return err
			}
			added = added || !known
			if err := tx.exec(`INSERT INTO contacts (account_id, email_key, email, name, terms, sent, received, last_seen)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (account_id, email_key) DO UPDATE SET
					email = excluded.email,
					name = CASE WHEN excluded.name != '' THEN excluded.name ELSE contacts.name END,
					terms = CASE WHEN excluded.name != '' THEN excluded.terms ELSE contacts.terms END,
					sent = contacts.sent + excluded.sent,
					received = contacts.received + excluded.received,
					last_seen = max(contacts.last_seen, excluded.last_seen)`,
				accountID, r.Key, r.Email, r.Name, r.Terms, r.Sent, r.Received, when); err != nil {
				return err
			}
			// A known contact seen without a name keeps its name's terms.
			if known && r.Name == "" {
				continue
			}
			if known {
				if err := tx.exec("DELETE FROM contact_terms WHERE account_id = ? AND email_key = ?", accountID, r.Key); err != nil {
					return err
				}
			}
			for _, w := range r.Words {
				if err := tx.exec("INSERT INTO contact_terms (account_id, term, email_key) VALUES (?, ?, ?)", accountID, w, r.Key); err != nil {
					return err
				}
			}
		}
		if !added {
			return nil // the count only grows by new contacts
		}
		var n int64
		if err := tx.query("SELECT count(*) FROM contacts WHERE account_id = ?", func(st *sqlite.Stmt) error {
			n = st.ColumnInt64(0)
			return nil
		}, accountID); err != nil {
			return err
		}
		if n <= store.MaxContacts {
			return nil
		}
		// The least used go first; the addresses just recorded (seen at
		// at or later) last, so that a full list still takes new people.
		return tx.exec(`DELETE FROM contacts WHERE account_id = ? AND email_key IN (
			SELECT email_key FROM contacts WHERE account_id = ?
			ORDER BY last_seen >= ?, sent, received, last_seen, email_key LIMIT ?)`,
			accountID, accountID, when, n-store.MaxContacts)
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
// words is checked on those alone.
func (s *Store) SuggestContacts(ctx context.Context, accountID int64, text string, limit int) ([]store.Contact, error) {
	q, err := store.SuggestQuery(text, limit)
	if err != nil {
		return nil, fmt.Errorf("store: suggest contacts: %w", err)
	}
	var out []store.Contact
	err = s.read(ctx, func(conn *sqlite.Conn) error {
		var n int
		if err := execConn(conn, `SELECT count(*) FROM (SELECT 1 FROM contact_terms
			WHERE account_id = ? AND term >= ? AND term < ? LIMIT ?)`, func(st *sqlite.Stmt) error {
			n = st.ColumnInt(0)
			return nil
		}, accountID, q.From, q.To, store.SuggestDense); err != nil {
			return err
		}
		query := `SELECT email, name, sent, received, last_seen FROM contacts
			WHERE account_id = ? AND email_key IN (
				SELECT email_key FROM contact_terms WHERE account_id = ? AND term >= ? AND term < ?)
			AND (? = '' OR instr(terms, ?) > 0)
			ORDER BY +sent DESC, received DESC, last_seen DESC, email_key LIMIT ?`
		// (+sent: the few are sorted, not found by walking contacts_rank.)
		if n >= store.SuggestDense {
			query = `SELECT email, name, sent, received, last_seen FROM contacts c INDEXED BY contacts_rank
			WHERE account_id = ? AND EXISTS (SELECT 1 FROM contact_terms t INDEXED BY contact_terms_contact
				WHERE t.account_id = ? AND t.email_key = c.email_key AND t.term >= ? AND t.term < ?)
			AND (? = '' OR instr(terms, ?) > 0)
			ORDER BY sent DESC, received DESC, last_seen DESC, email_key LIMIT ?`
		}
		return execConn(conn, query, func(st *sqlite.Stmt) error {
			out = append(out, store.Contact{Email: st.ColumnText(0), Name: st.ColumnText(1), Sent: st.ColumnInt64(2),
				Received: st.ColumnInt64(3), LastSeen: time.Unix(st.ColumnInt64(4), 0)})
			return nil
		}, accountID, accountID, q.From, q.To, q.Phrase, q.Phrase, limit)
	})
	if err != nil {
		return nil, fmt.Errorf("store: suggest contacts of account %d: %w", accountID, err)
	}
	return out, nil
}

// ForgetContact implements store.Contacts.
func (s *Store) ForgetContact(ctx context.Context, accountID int64, email string) (bool, error) {
	var gone bool
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM contacts WHERE account_id = ? AND email_key = ?", accountID, store.ContactKey(email)); err != nil {
			return err
		}
		gone = tx.conn.Changes() > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: forget contact of account %d: %w", accountID, err)
	}
	return gone, nil
}
