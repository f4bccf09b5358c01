package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

var _ store.EmailSubmissions = (*Store)(nil)

// submissionColumns are what scanSubmission reads, in order.
const submissionColumns = "id, account_id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at, undo_status, created, modseq, owners, auth_user"

func scanSubmission(row pgx.Row, extra ...any) (store.EmailSubmission, error) {
	var sub store.EmailSubmission
	var rcpt, owners string
	var at int64
	dest := append([]any{&sub.ID, &sub.AccountID, &sub.IdentityID, &sub.EmailID, &sub.ThreadID, &sub.MailFrom, &rcpt, &at,
		&sub.UndoStatus, &sub.Created, &sub.Mod, &owners, &sub.AuthUser}, extra...)
	if err := row.Scan(dest...); err != nil {
		return sub, err
	}
	if rcpt != "" {
		sub.RcptTo = strings.Split(rcpt, "\n")
	}
	sub.SendAt = time.Unix(at, 0)
	for _, f := range strings.Fields(owners) {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			sub.Owners = append(sub.Owners, id)
		}
	}
	return sub, nil
}

func formatOwners(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, "\n")
}

// nextSubmissionMod is the Mod of the account's next submission change:
// above every one before, and the time in ms when that is higher, so that
// Mods keep increasing even after pruning removed every row. The caller
// holds the account's row lock (writeAccount): the account's changes take
// their Mods one after another.
func (tx *txn) nextSubmissionMod(accountID int64) (int64, error) {
	var next int64
	err := tx.QueryRow(tx.ctx, "SELECT coalesce(max(modseq), 0) + 1 FROM email_submissions WHERE account_id = $1", accountID).Scan(&next)
	return max(next, ms(tx.now)), err
}

// addSubmission inserts sub with status and msg, under the account's lock.
func (s *Store) addSubmission(ctx context.Context, sub store.EmailSubmission, status string, msg []byte) (store.EmailSubmission, error) {
	sub.SendAt = sub.SendAt.Truncate(time.Second)
	sub.UndoStatus = status
	err := s.writeAccount(ctx, sub.AccountID, func(tx *txn) error {
		mod, err := tx.nextSubmissionMod(sub.AccountID)
		if err != nil {
			return err
		}
		sub.Created, sub.Mod = mod, mod
		if err := tx.QueryRow(tx.ctx, `INSERT INTO email_submissions (account_id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at,
			undo_status, created, modseq, owners, auth_user, msg) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12) RETURNING id`,
			sub.AccountID, sub.IdentityID, sub.EmailID, sub.ThreadID, sub.MailFrom, strings.Join(sub.RcptTo, "\n"), sub.SendAt.Unix(),
			status, mod, formatOwners(sub.Owners), sub.AuthUser, msg).Scan(&sub.ID); err != nil {
			return err
		}
		return tx.changed(sub.AccountID, 0, 0, changeAccount)
	})
	if err != nil {
		return store.EmailSubmission{}, err
	}
	return sub, nil
}

// AddEmailSubmission implements store.EmailSubmissions (migrations 21, 22).
func (s *Store) AddEmailSubmission(ctx context.Context, sub store.EmailSubmission) (store.EmailSubmission, error) {
	sub, err := s.addSubmission(ctx, sub, store.UndoFinal, nil)
	if err != nil {
		return store.EmailSubmission{}, fmt.Errorf("store: add email submission: %w", err)
	}
	return sub, nil
}

// HoldEmailSubmission implements store.EmailSubmissions.
func (s *Store) HoldEmailSubmission(ctx context.Context, sub store.EmailSubmission, msg []byte) (store.EmailSubmission, error) {
	if msg == nil {
		msg = []byte{}
	}
	sub, err := s.addSubmission(ctx, sub, store.UndoPending, msg)
	if err != nil {
		return store.EmailSubmission{}, fmt.Errorf("store: hold email submission: %w", err)
	}
	return sub, nil
}

// EmailSubmissions implements store.EmailSubmissions.
func (s *Store) EmailSubmissions(ctx context.Context, accountID int64) ([]store.EmailSubmission, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+submissionColumns+" FROM email_submissions WHERE account_id = $1 ORDER BY id", accountID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.EmailSubmission, error) { return scanSubmission(row) })
	if err != nil {
		return nil, fmt.Errorf("store: email submissions of account %d: %w", accountID, err)
	}
	return out, nil
}

// NextEmailSubmission implements store.EmailSubmissions.
func (s *Store) NextEmailSubmission(ctx context.Context) (time.Time, error) {
	var at *int64
	if err := s.pool.QueryRow(ctx, "SELECT min(send_at) FROM email_submissions WHERE undo_status = 'pending'").Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("store: next email submission: %w", err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return time.Unix(*at, 0), nil
}

// ClaimEmailSubmission implements store.EmailSubmissions: FOR UPDATE SKIP
// LOCKED lets nodes claiming at once take different rows, as the queue
// does; a cancel waits for the claim's row lock and then sees the lease.
func (s *Store) ClaimEmailSubmission(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.EmailSubmission, []byte, bool, error) {
	var sub store.EmailSubmission
	var msg []byte
	found := false
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		var err error
		sub, err = scanSubmission(tx.QueryRow(tx.ctx, `UPDATE email_submissions SET lease_owner = $1, lease_until = $2
			WHERE id = (SELECT id FROM email_submissions WHERE undo_status = 'pending' AND send_at <= $3 AND lease_until <= $4
				ORDER BY send_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING `+submissionColumns+`, msg`, owner, ms(now.Add(lease)), now.Unix(), ms(now)), &msg)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return store.EmailSubmission{}, nil, false, fmt.Errorf("store: claim email submission: %w", err)
	}
	return sub, msg, found, nil
}

// FinishEmailSubmission implements store.EmailSubmissions.
func (s *Store) FinishEmailSubmission(ctx context.Context, sub store.EmailSubmission, owner, status string, now time.Time) error {
	if status != store.UndoFinal && status != store.UndoCanceled {
		return fmt.Errorf("store: finish email submission %d: %w: status %q", sub.ID, store.ErrInvalid, status)
	}
	err := s.writeAccount(ctx, sub.AccountID, func(tx *txn) error {
		mod, err := tx.nextSubmissionMod(sub.AccountID)
		if err != nil {
			return err
		}
		tag, err := tx.exec(`UPDATE email_submissions SET undo_status = $1, modseq = $2, msg = NULL, lease_owner = '', lease_until = 0
			WHERE id = $3 AND undo_status = 'pending' AND lease_owner = $4`, status, mod, sub.ID, owner)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotPending
		}
		return tx.changed(sub.AccountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: finish email submission %d: %w", sub.ID, err)
	}
	return nil
}

// CancelEmailSubmission implements store.EmailSubmissions. The row lock
// (FOR UPDATE) orders it with a claim: whichever comes second sees the
// other's outcome.
func (s *Store) CancelEmailSubmission(ctx context.Context, accountID, id int64, now time.Time) error {
	err := s.writeAccount(ctx, accountID, func(tx *txn) error {
		var status string
		var leased bool
		err := tx.QueryRow(tx.ctx, "SELECT undo_status, lease_until > $1 FROM email_submissions WHERE id = $2 AND account_id = $3 FOR UPDATE",
			ms(now), id, accountID).Scan(&status, &leased)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case status != store.UndoPending || leased:
			return store.ErrNotPending
		}
		mod, err := tx.nextSubmissionMod(accountID)
		if err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE email_submissions SET undo_status = 'canceled', modseq = $1, msg = NULL, lease_owner = '', lease_until = 0
			WHERE id = $2`, mod, id); err != nil {
			return err
		}
		return tx.changed(accountID, 0, 0, changeAccount)
	})
	if err != nil {
		return fmt.Errorf("store: cancel email submission %d: %w", id, err)
	}
	return nil
}

// PruneEmailSubmissions implements store.EmailSubmissions.
func (s *Store) PruneEmailSubmissions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM email_submissions WHERE send_at < $1 AND undo_status != 'pending'", before.Unix())
	if err != nil {
		return 0, fmt.Errorf("store: prune email submissions: %w", err)
	}
	return tag.RowsAffected(), nil
}
