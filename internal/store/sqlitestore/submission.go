package sqlitestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.EmailSubmissions = (*Store)(nil)

// submissionColumns are what scanSubmission reads, in order.
const submissionColumns = "id, account_id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at, undo_status, created, modseq, owners, auth_user"

func scanSubmission(st *sqlite.Stmt) store.EmailSubmission {
	sub := store.EmailSubmission{ID: st.ColumnInt64(0), AccountID: st.ColumnInt64(1), IdentityID: st.ColumnText(2),
		EmailID: st.ColumnInt64(3), ThreadID: st.ColumnInt64(4), MailFrom: st.ColumnText(5),
		SendAt: time.Unix(st.ColumnInt64(7), 0), UndoStatus: st.ColumnText(8), Created: st.ColumnInt64(9),
		Mod: st.ColumnInt64(10), Owners: parseOwners(st.ColumnText(11)), AuthUser: st.ColumnText(12)}
	if r := st.ColumnText(6); r != "" {
		sub.RcptTo = strings.Split(r, "\n")
	}
	return sub
}

func formatOwners(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, "\n")
}

func parseOwners(s string) []int64 {
	var out []int64
	for _, f := range strings.Fields(s) {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// nextSubmissionMod is the Mod of the account's next submission change:
// above every one before, and the time in ms when that is higher, so that
// Mods keep increasing even after pruning removed every row.
func (tx *txn) nextSubmissionMod(accountID int64) (int64, error) {
	next := ms(tx.now)
	err := tx.query("SELECT coalesce(max(modseq), 0) + 1 FROM email_submissions WHERE account_id = ?", func(st *sqlite.Stmt) error {
		next = max(next, st.ColumnInt64(0))
		return nil
	}, accountID)
	return next, err
}

// submissionChanged tells the account's JMAP clients (push) and the other
// processes that its submissions changed.
func (tx *txn) submissionChanged(accountID int64) {
	tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: accountID})
	tx.changed(accountID, 0, 0, changeAccount)
}

// addSubmission inserts sub with status and msg.
func (s *Store) addSubmission(ctx context.Context, sub store.EmailSubmission, status string, msg []byte) (store.EmailSubmission, error) {
	sub.SendAt = sub.SendAt.Truncate(time.Second)
	sub.UndoStatus = status
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(sub.AccountID); err != nil {
			return err
		}
		mod, err := tx.nextSubmissionMod(sub.AccountID)
		if err != nil {
			return err
		}
		var body any
		if msg != nil {
			body = msg
		}
		if err := tx.exec(`INSERT INTO email_submissions (account_id, identity_id, email_id, thread_id, mail_from, rcpt_to, send_at,
			undo_status, created, modseq, owners, auth_user, msg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sub.AccountID, sub.IdentityID, sub.EmailID,
			sub.ThreadID, sub.MailFrom, strings.Join(sub.RcptTo, "\n"), sub.SendAt.Unix(), status, mod, mod, formatOwners(sub.Owners), sub.AuthUser, body); err != nil {
			return err
		}
		sub.ID, sub.Created, sub.Mod = tx.conn.LastInsertRowID(), mod, mod
		tx.submissionChanged(sub.AccountID)
		return nil
	})
	if err != nil {
		return store.EmailSubmission{}, err
	}
	return sub, nil
}

// AddEmailSubmission implements store.EmailSubmissions (migrations 28, 29).
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
	var out []store.EmailSubmission
	err := s.query(ctx, "SELECT "+submissionColumns+" FROM email_submissions WHERE account_id = ? ORDER BY id", func(st *sqlite.Stmt) error {
		out = append(out, scanSubmission(st))
		return nil
	}, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: email submissions of account %d: %w", accountID, err)
	}
	return out, nil
}

// NextEmailSubmission implements store.EmailSubmissions.
func (s *Store) NextEmailSubmission(ctx context.Context) (time.Time, error) {
	var next time.Time
	err := s.query(ctx, "SELECT min(send_at) FROM email_submissions WHERE undo_status = 'pending'", func(st *sqlite.Stmt) error {
		if st.ColumnType(0) != sqlite.TypeNull {
			next = time.Unix(st.ColumnInt64(0), 0)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: next email submission: %w", err)
	}
	return next, nil
}

// ClaimEmailSubmission implements store.EmailSubmissions: the writer runs
// one transaction at a time, so one claim sees the other's lease.
func (s *Store) ClaimEmailSubmission(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.EmailSubmission, []byte, bool, error) {
	var sub store.EmailSubmission
	var msg []byte
	found := false
	err := s.write(ctx, func(tx *txn) error {
		found = false
		if err := tx.query(`UPDATE email_submissions SET lease_owner = ?, lease_until = ?
			WHERE id = (SELECT id FROM email_submissions WHERE undo_status = 'pending' AND send_at <= ? AND lease_until <= ?
				ORDER BY send_at, id LIMIT 1)
			RETURNING `+submissionColumns+`, msg`, func(st *sqlite.Stmt) error {
			sub, found = scanSubmission(st), true
			msg = make([]byte, st.ColumnLen(13))
			st.ColumnBytes(13, msg)
			return nil
		}, owner, ms(now.Add(lease)), now.Unix(), ms(now)); err != nil {
			return err
		}
		return nil
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
	err := s.write(ctx, func(tx *txn) error {
		mod, err := tx.nextSubmissionMod(sub.AccountID)
		if err != nil {
			return err
		}
		if err := tx.exec(`UPDATE email_submissions SET undo_status = ?, modseq = ?, msg = NULL, lease_owner = '', lease_until = 0
			WHERE id = ? AND undo_status = 'pending' AND lease_owner = ?`, status, mod, sub.ID, owner); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return store.ErrNotPending
		}
		tx.submissionChanged(sub.AccountID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: finish email submission %d: %w", sub.ID, err)
	}
	return nil
}

// CancelEmailSubmission implements store.EmailSubmissions.
func (s *Store) CancelEmailSubmission(ctx context.Context, accountID, id int64, now time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		status, leased := "", false
		if err := tx.query("SELECT undo_status, lease_until > ? FROM email_submissions WHERE id = ? AND account_id = ?", func(st *sqlite.Stmt) error {
			status, leased = st.ColumnText(0), st.ColumnBool(1)
			return nil
		}, ms(now), id, accountID); err != nil {
			return err
		}
		switch {
		case status == "":
			return store.ErrNotFound
		case status != store.UndoPending || leased:
			return store.ErrNotPending
		}
		mod, err := tx.nextSubmissionMod(accountID)
		if err != nil {
			return err
		}
		if err := tx.exec(`UPDATE email_submissions SET undo_status = 'canceled', modseq = ?, msg = NULL, lease_owner = '', lease_until = 0
			WHERE id = ?`, mod, id); err != nil {
			return err
		}
		tx.submissionChanged(accountID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: cancel email submission %d: %w", id, err)
	}
	return nil
}

// PruneEmailSubmissions implements store.EmailSubmissions.
func (s *Store) PruneEmailSubmissions(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM email_submissions WHERE send_at < ? AND undo_status != 'pending'", before.Unix()); err != nil {
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
