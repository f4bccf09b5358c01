package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// Sources to collect mail from (store.FetchSources) follow
// sqlitestore/fetch.go. AddFetchSource runs under the account's row lock
// (writeAccount), so two nodes adding at once cannot pass the count
// together; the other changes touch one source row each.

var _ store.FetchSources = (*Store)(nil)

const fetchColumns = `id, account_id, protocol, host, port, security, username, password, folder, mailbox,
	delete_after, mark_read, enabled, created, last_attempt, last_success, last_error, failures, fetched,
	uid_validity, last_uid`

func unixTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func scanFetch(row pgx.CollectableRow) (store.FetchSource, error) {
	var src store.FetchSource
	var created, attempt, success, validity, last int64
	err := row.Scan(&src.ID, &src.AccountID, &src.Protocol, &src.Host, &src.Port, &src.Security, &src.Username,
		&src.Password, &src.Folder, &src.Mailbox, &src.Delete, &src.MarkRead, &src.Enabled, &created, &attempt,
		&success, &src.LastError, &src.Failures, &src.Fetched, &validity, &last)
	src.Created, src.LastAttempt, src.LastSuccess = unixTime(created), unixTime(attempt), unixTime(success)
	src.UIDValidity, src.LastUID = uint32(validity), uint32(last)
	return src, err
}

// FetchSources implements store.FetchSources.
func (s *Store) FetchSources(ctx context.Context, accountID int64) ([]store.FetchSource, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+fetchColumns+" FROM fetch_sources WHERE account_id = $1 OR $1 = 0 ORDER BY id", accountID)
	out, err := pgx.CollectRows(rows, scanFetch)
	if err != nil {
		return nil, fmt.Errorf("store: list fetch sources: %w", unavailable(err))
	}
	return out, nil
}

// FetchSource implements store.FetchSources.
func (s *Store) FetchSource(ctx context.Context, id int64) (store.FetchSource, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+fetchColumns+" FROM fetch_sources WHERE id = $1", id)
	src, err := pgx.CollectExactlyOneRow(rows, scanFetch)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.FetchSource{}, fmt.Errorf("store: fetch source %d: %w", id, unavailable(err))
	}
	return src, nil
}

// AddFetchSource implements store.FetchSources.
func (s *Store) AddFetchSource(ctx context.Context, src store.FetchSource) (store.FetchSource, error) {
	if err := store.CheckFetchSource(&src); err != nil {
		return store.FetchSource{}, fmt.Errorf("store: add fetch source: %w", err)
	}
	err := s.writeAccount(ctx, src.AccountID, func(tx *txn) error {
		var n int
		if err := tx.QueryRow(tx.ctx, "SELECT count(*) FROM fetch_sources WHERE account_id = $1", src.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxFetchSources {
			return fmt.Errorf("%w: account %d has %d", store.ErrFetchTooMany, src.AccountID, n)
		}
		src.Created = time.Unix(tx.now.Unix(), 0)
		return tx.QueryRow(tx.ctx, `INSERT INTO fetch_sources (account_id, protocol, host, port, security, username, password,
			folder, mailbox, delete_after, mark_read, enabled, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			RETURNING id`,
			src.AccountID, src.Protocol, src.Host, src.Port, src.Security, src.Username, src.Password, src.Folder,
			src.Mailbox, src.Delete, src.MarkRead, src.Enabled, src.Created.Unix()).Scan(&src.ID)
	})
	if err != nil {
		return store.FetchSource{}, fmt.Errorf("store: add fetch source: %w", err)
	}
	src.FetchStatus, src.Fetched, src.UIDValidity, src.LastUID = store.FetchStatus{}, 0, 0, 0
	return src, nil
}

// UpdateFetchSource implements store.FetchSources. The row lock (FOR
// UPDATE) orders it with a fetcher's writes of the same source.
func (s *Store) UpdateFetchSource(ctx context.Context, src store.FetchSource) error {
	if err := store.CheckFetchSource(&src); err != nil {
		return fmt.Errorf("store: update fetch source %d: %w", src.ID, err)
	}
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		rows, _ := tx.Query(tx.ctx, "SELECT "+fetchColumns+" FROM fetch_sources WHERE id = $1 AND account_id = $2 FOR UPDATE", src.ID, src.AccountID)
		old, err := pgx.CollectExactlyOneRow(rows, scanFetch)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !store.SameFetchRemote(old, src) {
			if _, err := tx.exec("DELETE FROM fetch_uids WHERE source_id = $1", src.ID); err != nil {
				return err
			}
			if _, err := tx.exec("UPDATE fetch_sources SET uid_validity = 0, last_uid = 0 WHERE id = $1", src.ID); err != nil {
				return err
			}
		}
		_, err = tx.exec(`UPDATE fetch_sources SET protocol = $1, host = $2, port = $3, security = $4, username = $5,
			password = $6, folder = $7, mailbox = $8, delete_after = $9, mark_read = $10, enabled = $11 WHERE id = $12`,
			src.Protocol, src.Host, src.Port, src.Security, src.Username, src.Password, src.Folder, src.Mailbox,
			src.Delete, src.MarkRead, src.Enabled, src.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: update fetch source %d: %w", src.ID, err)
	}
	return nil
}

// execOne runs a statement that must touch one row, ErrNotFound if it
// touched none.
func (s *Store) execOne(ctx context.Context, sql string, args ...any) error {
	return s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		tag, err := tx.exec(sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// DeleteFetchSource implements store.FetchSources.
func (s *Store) DeleteFetchSource(ctx context.Context, accountID, id int64) error {
	if err := s.execOne(ctx, "DELETE FROM fetch_sources WHERE id = $1 AND account_id = $2", id, accountID); err != nil {
		return fmt.Errorf("store: delete fetch source %d: %w", id, err)
	}
	return nil
}

// SetFetchStatus implements store.FetchSources.
func (s *Store) SetFetchStatus(ctx context.Context, id int64, st store.FetchStatus) error {
	err := s.execOne(ctx, "UPDATE fetch_sources SET last_attempt = $1, last_success = $2, last_error = $3, failures = $4 WHERE id = $5",
		unixOrZero(st.LastAttempt), unixOrZero(st.LastSuccess), store.TruncateFetchError(st.LastError), st.Failures, id)
	if err != nil {
		return fmt.Errorf("store: set status of fetch source %d: %w", id, err)
	}
	return nil
}

// SetFetchCursor implements store.FetchSources.
func (s *Store) SetFetchCursor(ctx context.Context, id int64, uidValidity, lastUID uint32, collected int) error {
	err := s.execOne(ctx, "UPDATE fetch_sources SET uid_validity = $1, last_uid = $2, fetched = fetched + $3 WHERE id = $4",
		int64(uidValidity), int64(lastUID), collected, id)
	if err != nil {
		return fmt.Errorf("store: set cursor of fetch source %d: %w", id, err)
	}
	return nil
}

// FetchedUIDs implements store.FetchSources.
func (s *Store) FetchedUIDs(ctx context.Context, id int64) ([]string, error) {
	rows, _ := s.pool.Query(ctx, "SELECT uid FROM fetch_uids WHERE source_id = $1 ORDER BY uid", id)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: fetched ids of source %d: %w", id, unavailable(err))
	}
	return out, nil
}

// MarkFetched implements store.FetchSources. The insert and the count
// are one statement: the count moves only when the id is new.
func (s *Store) MarkFetched(ctx context.Context, id int64, uid string) error {
	if err := store.CheckFetchUID(uid); err != nil {
		return fmt.Errorf("store: mark fetched: %w", err)
	}
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		ok, err := tx.exists("SELECT 1 FROM fetch_sources WHERE id = $1 FOR UPDATE", id)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		tag, err := tx.exec("INSERT INTO fetch_uids (source_id, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING", id, uid)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.exec("UPDATE fetch_sources SET fetched = fetched + 1 WHERE id = $1", id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: mark %q fetched from source %d: %w", uid, id, err)
	}
	return nil
}

// ForgetFetchedUIDs implements store.FetchSources.
func (s *Store) ForgetFetchedUIDs(ctx context.Context, id int64, uids []string) error {
	for len(uids) > 0 {
		n := min(len(uids), 1000)
		batch := uids[:n]
		uids = uids[n:]
		err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
			_, err := tx.exec("DELETE FROM fetch_uids WHERE source_id = $1 AND uid = ANY($2)", id, batch)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: forget fetched ids of source %d: %w", id, err)
		}
	}
	return nil
}
