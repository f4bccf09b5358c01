package mailapi

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// maxPendingUploads bounds what one account keeps uploaded and not yet
// used (each upload lives store.UploadLifetime): four full-size uploads.
const maxPendingUploads = 4 * (50 << 20)

// Upload implements jmap.Blobs: the body is streamed into the store's
// body store, durably, and recorded for the account (store.Uploads), so
// any node answers for it until it expires.
func (a *API) Upload(ctx context.Context, u jmap.User, accountID, mediaType string, body io.Reader, limit int64) (jmap.UploadResult, error) {
	ac, err := a.userAccount(ctx, u, accountID)
	if err != nil {
		return jmap.UploadResult{}, err
	}
	if !ac.personal && ac.readOnly() {
		return jmap.UploadResult{}, jmap.ErrAccountReadOnlyUpload
	}
	up, err := a.st.PutUpload(ctx, ac.id, mediaType, body, limit, max(limit, maxPendingUploads))
	switch {
	case errors.Is(err, store.ErrUploadTooLarge):
		return jmap.UploadResult{}, jmap.ErrUploadTooLarge
	case errors.Is(err, store.ErrUploadQuota):
		return jmap.UploadResult{}, jmap.ErrUploadQuota
	case err != nil:
		return jmap.UploadResult{}, fmt.Errorf("jmap: upload: %w", err)
	}
	return jmap.UploadResult{AccountID: ac.jid, BlobID: up.ID, Type: up.Type, Size: up.Size}, nil
}

func (a *API) downloadUpload(ctx context.Context, ac *acct, id string) (jmap.Blob, error) {
	body, err := a.st.OpenUpload(ctx, ac.id, id)
	if errors.Is(err, store.ErrNotFound) {
		return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
	}
	if err != nil {
		return jmap.Blob{}, fmt.Errorf("jmap: open upload: %w", err)
	}
	return jmap.Blob{Content: bodyReader{io.NewSectionReader(body, 0, body.Size()), body}, Size: body.Size()}, nil
}
