package mailapi

import (
	"context"
	"fmt"
	"io"

	"mailroom/internal/jmap"
)

// Upload implements jmap.Blobs. Uploads need a place in the store that
// every node sees (store.Uploads, being added); until then the endpoint
// answers 501 and says so.
func (a *API) Upload(ctx context.Context, u jmap.User, accountID, mediaType string, body io.Reader, limit int64) (jmap.UploadResult, error) {
	return jmap.UploadResult{}, jmap.ErrUploadUnavailable
}

func (a *API) downloadUpload(ctx context.Context, ac *acct, id string) (jmap.Blob, error) {
	return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
}
