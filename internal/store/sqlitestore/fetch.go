package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

var _ store.FetchSources = (*Store)(nil)

// Sources to collect mail from (store.FetchSources) live in fetch_sources
// and fetch_uids (migration 24). Each change is one request of the single
// writer, so the count check of AddFetchSource and its insert cannot be
// overtaken. Nothing is published: only the fetcher and the settings page
// read these rows, and both read them afresh.

const fetchColumns = `id, account_id, protocol, host, port, security, username, password, folder, mailbox,
	delete_after, mark_read, enabled, created, last_attempt, last_success, last_error, failures, fetched,
	uid_validity, last_uid`

func scanFetch(st *sqlite.Stmt) store.FetchSource {
	unix := func(col int) time.Time {
		if v := st.ColumnInt64(col); v != 0 {
			return time.Unix(v, 0)
		}
		return time.Time{}
	}
	return store.FetchSource{
		ID: st.ColumnInt64(0), AccountID: st.ColumnInt64(1), Protocol: st.ColumnText(2), Host: st.ColumnText(3),
		Port: st.ColumnInt(4), Security: st.ColumnText(5), Username: st.ColumnText(6), Password: st.ColumnText(7),
		Folder: st.ColumnText(8), Mailbox: st.ColumnText(9), Delete: st.ColumnBool(10), MarkRead: st.ColumnBool(11),
		Enabled: st.ColumnBool(12), Created: unix(13),
		FetchStatus: store.FetchStatus{LastAttempt: unix(14), LastSuccess: unix(15), LastError: st.ColumnText(16), Failures: st.ColumnInt(17)},
		Fetched:     st.ColumnInt64(18), UIDValidity: uint32(st.ColumnInt64(19)), LastUID: uint32(st.ColumnInt64(20)),
	}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// FetchSources implements store.FetchSources.
func (s *Store) FetchSources(ctx context.Context, accountID int64) ([]store.FetchSource, error) {
	var out []store.FetchSource
	q := "SELECT " + fetchColumns + " FROM fetch_sources WHERE account_id = ? OR ? = 0 ORDER BY id"
	err := s.query(ctx, q, func(st *sqlite.Stmt) error {
		out = append(out, scanFetch(st))
		return nil
	}, accountID, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: list fetch sources: %w", err)
	}
	return out, nil
}

// FetchSource implements store.FetchSources.
func (s *Store) FetchSource(ctx context.Context, id int64) (store.FetchSource, error) {
	var src store.FetchSource
	found := false
	err := s.query(ctx, "SELECT "+fetchColumns+" FROM fetch_sources WHERE id = ?", func(st *sqlite.Stmt) error {
		src, found = scanFetch(st), true
		return nil
	}, id)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.FetchSource{}, fmt.Errorf("store: fetch source %d: %w", id, err)
	}
	return src, nil
}

// AddFetchSource implements store.FetchSources.
func (s *Store) AddFetchSource(ctx context.Context, src store.FetchSource) (store.FetchSource, error) {
	if err := store.CheckFetchSource(&src); err != nil {
		return store.FetchSource{}, fmt.Errorf("store: add fetch source: %w", err)
	}
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.accountExists(src.AccountID); err != nil {
			return err
		}
		var n int
		if err := tx.query("SELECT count(*) FROM fetch_sources WHERE account_id = ?", func(st *sqlite.Stmt) error { n = st.ColumnInt(0); return nil }, src.AccountID); err != nil {
			return err
		}
		if n >= store.MaxFetchSources {
			return fmt.Errorf("%w: account %d has %d", store.ErrFetchTooMany, src.AccountID, n)
		}
		if err := tx.exec(`INSERT INTO fetch_sources (account_id, protocol, host, port, security, username, password, folder,
			mailbox, delete_after, mark_read, enabled, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			src.AccountID, src.Protocol, src.Host, src.Port, src.Security, src.Username, src.Password, src.Folder,
			src.Mailbox, src.Delete, src.MarkRead, src.Enabled, tx.now.Unix()); err != nil {
			return err
		}
		src.ID = tx.conn.LastInsertRowID()
		src.Created = time.Unix(tx.now.Unix(), 0)
		return nil
	})
	if err != nil {
		return store.FetchSource{}, fmt.Errorf("store: add fetch source: %w", err)
	}
	src.FetchStatus, src.Fetched, src.UIDValidity, src.LastUID = store.FetchStatus{}, 0, 0, 0
	return src, nil
}

// UpdateFetchSource implements store.FetchSources.
func (s *Store) UpdateFetchSource(ctx context.Context, src store.FetchSource) error {
	if err := store.CheckFetchSource(&src); err != nil {
		return fmt.Errorf("store: update fetch source %d: %w", src.ID, err)
	}
	err := s.write(ctx, func(tx *txn) error {
		var old store.FetchSource
		found := false
		if err := tx.query("SELECT "+fetchColumns+" FROM fetch_sources WHERE id = ? AND account_id = ?", func(st *sqlite.Stmt) error {
			old, found = scanFetch(st), true
			return nil
		}, src.ID, src.AccountID); err != nil {
			return err
		}
		if !found {
			return store.ErrNotFound
		}
		if !store.SameFetchRemote(old, src) {
			if err := tx.exec("DELETE FROM fetch_uids WHERE source_id = ?", src.ID); err != nil {
				return err
			}
			if err := tx.exec("UPDATE fetch_sources SET uid_validity = 0, last_uid = 0 WHERE id = ?", src.ID); err != nil {
				return err
			}
		}
		return tx.exec(`UPDATE fetch_sources SET protocol = ?, host = ?, port = ?, security = ?, username = ?, password = ?,
			folder = ?, mailbox = ?, delete_after = ?, mark_read = ?, enabled = ? WHERE id = ?`,
			src.Protocol, src.Host, src.Port, src.Security, src.Username, src.Password, src.Folder, src.Mailbox,
			src.Delete, src.MarkRead, src.Enabled, src.ID)
	})
	if err != nil {
		return fmt.Errorf("store: update fetch source %d: %w", src.ID, err)
	}
	return nil
}

// DeleteFetchSource implements store.FetchSources.
func (s *Store) DeleteFetchSource(ctx context.Context, accountID, id int64) error {
	err := s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM fetch_sources WHERE id = ? AND account_id = ?", id, accountID); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete fetch source %d: %w", id, err)
	}
	return nil
}

// updateOne runs an UPDATE of one source, ErrNotFound if it is gone.
// Like MarkFetched, it is a lazy write: see there.
func (s *Store) updateOne(ctx context.Context, what string, id int64, query string, args ...any) error {
	err := s.writeLazy(ctx, func(tx *txn) error {
		if err := tx.exec(query, args...); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %s of fetch source %d: %w", what, id, err)
	}
	return nil
}

// SetFetchStatus implements store.FetchSources.
func (s *Store) SetFetchStatus(ctx context.Context, id int64, st store.FetchStatus) error {
	return s.updateOne(ctx, "set status", id, "UPDATE fetch_sources SET last_attempt = ?, last_success = ?, last_error = ?, failures = ? WHERE id = ?",
		unixOrZero(st.LastAttempt), unixOrZero(st.LastSuccess), store.TruncateFetchError(st.LastError), st.Failures, id)
}

// SetFetchCursor implements store.FetchSources.
func (s *Store) SetFetchCursor(ctx context.Context, id int64, uidValidity, lastUID uint32, collected int) error {
	return s.updateOne(ctx, "set cursor", id, "UPDATE fetch_sources SET uid_validity = ?, last_uid = ?, fetched = fetched + ? WHERE id = ?",
		int64(uidValidity), int64(lastUID), collected, id)
}

// FetchedUIDs implements store.FetchSources.
func (s *Store) FetchedUIDs(ctx context.Context, id int64) ([]string, error) {
	var out []string
	err := s.query(ctx, "SELECT uid FROM fetch_uids WHERE source_id = ? ORDER BY uid", func(st *sqlite.Stmt) error {
		out = append(out, st.ColumnText(0))
		return nil
	}, id)
	if err != nil {
		return nil, fmt.Errorf("store: fetched ids of source %d: %w", id, err)
	}
	return out, nil
}

// MarkFetched implements store.FetchSources. It is a lazy write
// (writeLazy): no fsync of its own. The collection is at least once
// anyway (a crash between the delivery and the record collects the
// message again); a power loss can undo only the records after the last
// fsynced commit, that is the last collected message's (the next
// delivery's commit syncs the WAL up to it), and that one is then
// collected again. It halves the fsyncs of a collection.
func (s *Store) MarkFetched(ctx context.Context, id int64, uid string) error {
	if err := store.CheckFetchUID(uid); err != nil {
		return fmt.Errorf("store: mark fetched: %w", err)
	}
	err := s.writeLazy(ctx, func(tx *txn) error {
		found := false
		if err := tx.query("SELECT 1 FROM fetch_sources WHERE id = ?", func(*sqlite.Stmt) error { found = true; return nil }, id); err != nil {
			return err
		}
		if !found {
			return store.ErrNotFound
		}
		if err := tx.exec("INSERT OR IGNORE INTO fetch_uids (source_id, uid) VALUES (?, ?)", id, uid); err != nil {
			return err
		}
		if tx.conn.Changes() == 0 {
			return nil // recorded before: counted before
		}
		return tx.exec("UPDATE fetch_sources SET fetched = fetched + 1 WHERE id = ?", id)
	})
	if err != nil {
		return fmt.Errorf("store: mark %q fetched from source %d: %w", uid, id, err)
	}
	return nil
}

// ForgetFetchedUIDs implements store.FetchSources. Forgetting needs no
// fsync of its own: a power loss that undoes it leaves ids of messages
// no longer on the remote, pruned again on the next run.
func (s *Store) ForgetFetchedUIDs(ctx context.Context, id int64, uids []string) error {
	for len(uids) > 0 {
		n := min(len(uids), 500)
		batch := uids[:n]
		uids = uids[n:]
		err := s.writeLazy(ctx, func(tx *txn) error {
			for _, u := range batch {
				if err := tx.exec("DELETE FROM fetch_uids WHERE source_id = ? AND uid = ?", id, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: forget fetched ids of source %d: %w", id, err)
		}
	}
	return nil
}
