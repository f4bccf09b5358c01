package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
	"mailroom/internal/store/blobfs"
)

var _ store.Uploads = (*Store)(nil)

// PutUpload implements store.Uploads. The body is always a file, whatever
// its size (an upload is not worth a place in the database's pages): it
// is written and fsynced before the row, as Stage's are, and the row's
// transaction fsyncs its directory first (writeSync). The quota is
// checked in that transaction: the single writer makes check and insert
// one step.
func (s *Store) PutUpload(ctx context.Context, accountID int64, mediaType string, r io.Reader, maxSize, maxPending int64) (store.Upload, error) {
	u, err := s.putUpload(ctx, accountID, mediaType, r, maxSize, maxPending)
	if err != nil {
		return store.Upload{}, storageFull(fmt.Errorf("store: put upload: %w", err))
	}
	return u, nil
}

func (s *Store) putUpload(ctx context.Context, accountID int64, mediaType string, r io.Reader, maxSize, maxPending int64) (store.Upload, error) {
	w, err := s.blobs.Create()
	if err != nil {
		return store.Upload{}, err
	}
	size, sum, err := store.CopyUpload(ctx, w, r, maxSize)
	if err != nil {
		w.Abort()
		return store.Upload{}, err
	}
	ref, err := w.Commit()
	if err != nil {
		return store.Upload{}, err
	}
	u := store.Upload{ID: store.NewUploadID(), AccountID: accountID, Type: mediaType, Size: size, SHA256: sum}
	err = s.writeSync(ctx, blobfs.Dir(ref), func(tx *txn) error {
		u.Created = time.Unix(tx.now.Unix(), 0)
		found := false
		if err := tx.query("SELECT 1 FROM accounts WHERE id = ?", func(*sqlite.Stmt) error { found = true; return nil }, accountID); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		if maxPending > 0 {
			var pending int64
			if err := tx.query("SELECT coalesce(sum(size), 0) FROM uploads WHERE account_id = ? AND created >= ?", func(st *sqlite.Stmt) error {
				pending = st.ColumnInt64(0)
				return nil
			}, accountID, uploadCutoff(tx.now)); err != nil {
				return err
			}
			if pending+size > maxPending {
				return fmt.Errorf("%d octets pending, %d more would exceed %d: %w", pending, size, maxPending, store.ErrUploadQuota)
			}
		}
		return tx.exec("INSERT INTO uploads (account_id, id, blob, type, size, sha256, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
			accountID, u.ID, ref, mediaType, size, sum[:], u.Created.Unix())
	})
	if err != nil {
		// No row names the file (the write failed as a whole, in its
		// savepoint): it is in no database, so no backup can refer to
		// it and it may go at once.
		if rerr := s.blobs.Remove(ref); rerr != nil {
			s.log.Warn("remove the body of a failed upload", "blob", ref, "err", rerr)
		}
		return store.Upload{}, err
	}
	return u, nil
}

// uploadCutoff is the creation time (Unix seconds) before which an upload
// has expired at now.
func uploadCutoff(now time.Time) int64 { return now.Add(-store.UploadLifetime).Unix() }

// uploadRow reads one unexpired upload of the account and its body's
// reference.
func (s *Store) uploadRow(ctx context.Context, accountID int64, id string) (store.Upload, string, error) {
	var u store.Upload
	var ref string
	found := false
	if store.ValidUploadID(id) {
		err := s.query(ctx, "SELECT blob, type, size, sha256, created FROM uploads WHERE account_id = ? AND id = ? AND created >= ?", func(st *sqlite.Stmt) error {
			found = true
			ref = st.ColumnText(0)
			u = store.Upload{ID: id, AccountID: accountID, Type: st.ColumnText(1), Size: st.ColumnInt64(2), Created: time.Unix(st.ColumnInt64(4), 0)}
			st.ColumnBytes(3, u.SHA256[:])
			return nil
		}, accountID, id, uploadCutoff(time.Now()))
		if err != nil {
			return u, "", fmt.Errorf("store: upload %s: %w", id, err)
		}
	}
	if !found {
		return u, "", fmt.Errorf("store: upload %q: %w", id, store.ErrNotFound)
	}
	return u, ref, nil
}

// Upload implements store.Uploads.
func (s *Store) Upload(ctx context.Context, accountID int64, id string) (store.Upload, error) {
	u, _, err := s.uploadRow(ctx, accountID, id)
	return u, err
}

// OpenUpload implements store.Uploads.
func (s *Store) OpenUpload(ctx context.Context, accountID int64, id string) (store.Body, error) {
	_, ref, err := s.uploadRow(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	f, err := s.blobs.Open(ref)
	if err != nil {
		// Expired or deleted with its account between the query and the
		// open: gone for the caller. A row without its file is damage.
		if errors.Is(err, fs.ErrNotExist) {
			if _, _, rerr := s.uploadRow(ctx, accountID, id); errors.Is(rerr, store.ErrNotFound) {
				return nil, rerr
			}
		}
		return nil, fmt.Errorf("store: body of upload %s: %w", id, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: body of upload %s: %w", id, err)
	}
	return &body{f: f, obs: s.opts.Observer, size: info.Size()}, nil
}

// DeleteExpiredUploads implements store.Uploads. The files go after the
// commit, through blob_trash, as an expunged message's do: a backup
// holding removals off keeps them until its copy is done.
func (s *Store) DeleteExpiredUploads(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *txn) error {
		n = 0
		return tx.dropUploads("created < ?", before.Unix(), &n)
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired uploads: %w", err)
	}
	return n, nil
}

// dropUploads deletes the uploads where (a condition with one ? = arg)
// holds and queues their files for removal after the commit; n counts
// them.
func (tx *txn) dropUploads(where string, arg any, n *int) error {
	var refs []string
	if err := tx.query("SELECT blob FROM uploads WHERE "+where, func(st *sqlite.Stmt) error {
		refs = append(refs, st.ColumnText(0))
		return nil
	}, arg); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	if err := tx.exec("DELETE FROM uploads WHERE "+where, arg); err != nil {
		return err
	}
	for _, ref := range refs {
		if err := tx.exec("INSERT OR IGNORE INTO blob_trash (blob) VALUES (?)", ref); err != nil {
			return err
		}
	}
	tx.trash = append(tx.trash, refs...)
	if n != nil {
		*n += len(refs)
	}
	return nil
}
