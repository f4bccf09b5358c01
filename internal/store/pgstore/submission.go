package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

var _ store.EmailSubmissions = (*Store)(nil)

// AddEmailSubmission implements store.EmailSubmissions (migration 21).
func (s *Store) AddEmailSubmission(ctx context.Context, sub store.EmailSubmission) (store.EmailSubmission, error) {
	sub.SendAt = sub.SendAt.Truncate(time.Second)
	err := s.write(ctx, func(tx *txn) error {
		ok, err := tx.exists("SELECT 1 FROM accounts WHERE id = $1", sub.AccountID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("account %d: %w", sub.AccountID, store.ErrNotFound)
		}
		return tx.QueryRow(tx.ctx, `INSERT INTO email_submissions (account_id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, sub.AccountID, sub.IdentityID, sub.EmailID, sub.ThreadID, sub.MailFrom,
			strings.Join(sub.RcptTo, "\n"), sub.SendAt.Unix()).Scan(&sub.ID)
	})
	if err != nil {
		return store.EmailSubmission{}, fmt.Errorf("store: add email submission: %w", err)
	}
	return sub, nil
}

// EmailSubmissions implements store.EmailSubmissions.
func (s *Store) EmailSubmissions(ctx context.Context, accountID int64) ([]store.EmailSubmission, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at
		FROM email_submissions WHERE account_id = $1 ORDER BY id`, accountID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.EmailSubmission, error) {
		sub := store.EmailSubmission{AccountID: accountID}
		var rcpt string
		var at int64
		if err := row.Scan(&sub.ID, &sub.IdentityID, &sub.EmailID, &sub.ThreadID, &sub.MailFrom, &rcpt, &at); err != nil {
			return sub, err
		}
		if rcpt != "" {
			sub.RcptTo = strings.Split(rcpt, "\n")
		}
		sub.SendAt = time.Unix(at, 0)
		return sub, nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: email submissions of account %d: %w", accountID, err)
	}
	return out, nil
}

// PruneEmailSubmissions implements store.EmailSubmissions.
func (s *Store) PruneEmailSubmissions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM email_submissions WHERE send_at < $1", before.Unix())
	if err != nil {
		return 0, fmt.Errorf("store: prune email submissions: %w", err)
	}
	return tag.RowsAffected(), nil
}
