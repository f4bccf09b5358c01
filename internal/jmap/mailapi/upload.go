package mailapi

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mailroom/internal/jmap"
)

// Upload implements jmap.Blobs: not yet, until uploads are in the store.
func (a *API) Upload(ctx context.Context, u jmap.User, accountID, mediaType string, body io.Reader, limit int64) (jmap.UploadResult, error) {
	return jmap.UploadResult{}, errors.New("uploads are not stored yet")
}

func (a *API) downloadUpload(ctx context.Context, ac *acct, id string) (jmap.Blob, error) {
	return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
}
