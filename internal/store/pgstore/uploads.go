package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
	"mailroom/internal/store/blob"
)

var _ store.Uploads = (*Store)(nil)

// PutUpload implements store.Uploads. The body is always a blob (chunks
// written as they arrive, durable once Commit returns), whatever its
// size; the row is recorded afterwards under the account's row lock
// (writeAccount), so that the pending total checked there cannot be
// raised meanwhile by a concurrent upload on any node. useBlob makes the
// body young, so a Sweep cannot take it between its Commit and the row.
func (s *Store) PutUpload(ctx context.Context, accountID int64, mediaType string, r io.Reader, maxSize, maxPending int64) (store.Upload, error) {
	u, err := s.putUpload(ctx, accountID, mediaType, r, maxSize, maxPending)
	if err != nil {
		return store.Upload{}, fmt.Errorf("store: put upload: %w", err)
	}
	return u, nil
}

func (s *Store) putUpload(ctx context.Context, accountID int64, mediaType string, r io.Reader, maxSize, maxPending int64) (store.Upload, error) {
	w, err := s.Blobs().Create(ctx)
	if err != nil {
		return store.Upload{}, err
	}
	size, sum, err := store.CopyUpload(ctx, w, r, maxSize)
	if err != nil {
		w.Abort()
		return store.Upload{}, err
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		return store.Upload{}, err
	}
	u := store.Upload{ID: store.NewUploadID(), AccountID: accountID, Type: mediaType, Size: size, SHA256: sum}
	err = s.writeAccount(ctx, accountID, func(tx *txn) error {
		u.Created = time.Unix(tx.now.Unix(), 0)
		if err := tx.useBlob(ref); err != nil {
			return err
		}
		if maxPending > 0 {
			var pending int64
			if err := tx.QueryRow(tx.ctx, "SELECT coalesce(sum(size), 0)::bigint FROM uploads WHERE account_id = $1 AND created >= $2",
				accountID, uploadCutoff(tx.now)).Scan(&pending); err != nil {
				return err
			}
			if pending+size > maxPending {
				return fmt.Errorf("%d octets pending, %d more would exceed %d: %w", pending, size, maxPending, store.ErrUploadQuota)
			}
		}
		_, err := tx.exec("INSERT INTO uploads (account_id, id, blob, type, size, sha256, created) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			accountID, u.ID, ref, mediaType, size, sum[:], u.Created.Unix())
		return err
	})
	if err != nil {
		// Only if no row names it: a commit whose outcome is unknown (the
		// connection broke) may have recorded the upload after all, and
		// then the body is the row's. A body left here is Sweep's.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if id, perr := parseRef(ref); perr == nil {
			_, _ = s.pool.Exec(rctx, "DELETE FROM blobs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM uploads WHERE blob = $2)", id, ref)
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
	u := store.Upload{ID: id, AccountID: accountID}
	if !store.ValidUploadID(id) {
		return u, "", fmt.Errorf("store: upload %q: %w", id, store.ErrNotFound)
	}
	var ref string
	var sum []byte
	var created int64
	err := s.pool.QueryRow(ctx, "SELECT blob, type, size, sha256, created FROM uploads WHERE account_id = $1 AND id = $2 AND created >= $3",
		accountID, id, uploadCutoff(time.Now())).Scan(&ref, &u.Type, &u.Size, &sum, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, "", fmt.Errorf("store: upload %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return u, "", fmt.Errorf("store: upload %s: %w", id, unavailable(err))
	}
	copy(u.SHA256[:], sum)
	u.Created = time.Unix(created, 0)
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
	br, err := s.Blobs().Open(ctx, ref)
	if err != nil {
		// Expired or deleted with its account between the query and the
		// open (the body goes in that transaction): gone for the caller.
		// A row without its body is damage.
		if errors.Is(err, blob.ErrNotFound) {
			if _, _, rerr := s.uploadRow(ctx, accountID, id); errors.Is(rerr, store.ErrNotFound) {
				return nil, rerr
			}
		}
		return nil, fmt.Errorf("store: body of upload %s: %w", id, err)
	}
	return &body{r: br, closer: br, obs: s.opts.Observer, size: br.Size()}, nil
}

// DeleteExpiredUploads implements store.Uploads: the rows and their
// bodies in one transaction (a "pg:" body is rows too, releaseBlob).
func (s *Store) DeleteExpiredUploads(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		var err error
		n, err = tx.dropUploads("created < $1", before.Unix())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired uploads: %w", err)
	}
	return n, nil
}

// dropUploads deletes the uploads where (a condition with $1 = arg)
// holds, with their bodies, and returns how many.
func (tx *txn) dropUploads(where string, arg any) (int, error) {
	rows, _ := tx.Query(tx.ctx, "DELETE FROM uploads WHERE "+where+" RETURNING blob", arg)
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("delete uploads: %w", err)
	}
	for _, ref := range refs {
		if err := tx.releaseBlob(ref); err != nil {
			return 0, err
		}
	}
	return len(refs), nil
}
