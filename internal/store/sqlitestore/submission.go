package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.EmailSubmissions = (*Store)(nil)

// AddEmailSubmission implements store.EmailSubmissions (migration 28).
func (s *Store) AddEmailSubmission(ctx context.Context, sub store.EmailSubmission) (store.EmailSubmission, error) {
	sub.SendAt = sub.SendAt.Truncate(time.Second)
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(sub.AccountID); err != nil {
			return err
		}
		if err := tx.exec(`INSERT INTO email_submissions (account_id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, sub.AccountID, sub.IdentityID, sub.EmailID, sub.ThreadID, sub.MailFrom,
			strings.Join(sub.RcptTo, "\n"), sub.SendAt.Unix()); err != nil {
			return err
		}
		sub.ID = tx.conn.LastInsertRowID()
		return nil
	})
	if err != nil {
		return store.EmailSubmission{}, fmt.Errorf("store: add email submission: %w", err)
	}
	return sub, nil
}

// EmailSubmissions implements store.EmailSubmissions.
func (s *Store) EmailSubmissions(ctx context.Context, accountID int64) ([]store.EmailSubmission, error) {
	var out []store.EmailSubmission
	err := s.query(ctx, `SELECT id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at
		FROM email_submissions WHERE account_id = ? ORDER BY id`, func(st *sqlite.Stmt) error {
		sub := store.EmailSubmission{ID: st.ColumnInt64(0), AccountID: accountID, IdentityID: st.ColumnText(1),
			EmailID: st.ColumnInt64(2), ThreadID: st.ColumnInt64(3), MailFrom: st.ColumnText(4),
			SendAt: time.Unix(st.ColumnInt64(6), 0)}
		if r := st.ColumnText(5); r != "" {
			sub.RcptTo = strings.Split(r, "\n")
		}
		out = append(out, sub)
		return nil
	}, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: email submissions of account %d: %w", accountID, err)
	}
	return out, nil
}

// PruneEmailSubmissions implements store.EmailSubmissions.
func (s *Store) PruneEmailSubmissions(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM email_submissions WHERE send_at < ?", before.Unix()); err != nil {
			return err
		}
		n = int64(tx.conn.Changes())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune email submissions: %w", err)
	}
	return n, nil
}
