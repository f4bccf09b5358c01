package mailapi

import (
	"context"
	"errors"
	"fmt"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// blobCopy answers Blob/copy (RFC 8620 §6.3): each blob of one account the
// user reaches becomes an upload of another, streamed from one to the
// other, so an Email of a shared account can be attached or imported in
// the user's own.
func (a *API) blobCopy(ctx context.Context, c *jmap.Call) (any, error) {
	var args struct {
		FromAccountID string   `json:"fromAccountId"`
		AccountID     string   `json:"accountId"`
		BlobIDs       []string `json:"blobIds"`
	}
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if len(args.BlobIDs) > c.Limits.MaxObjectsInSet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d blobs", c.Limits.MaxObjectsInSet))
	}
	from, err := a.account(ctx, c, args.FromAccountID)
	if err != nil {
		if me, ok := jmap.AsMethodError(err); ok && me.Type == jmap.ErrAccountNotFound {
			return nil, jmap.Errorf(jmap.ErrFromAccountNotFound, me.Description)
		}
		return nil, err
	}
	to, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	if !to.personal && to.readOnly() {
		return nil, jmap.Errorf(jmap.ErrAccountReadOnly, "the account is read-only for you")
	}
	resp := struct {
		FromAccountID string                    `json:"fromAccountId"`
		AccountID     string                    `json:"accountId"`
		Copied        map[string]string         `json:"copied"`
		NotCopied     map[string]*jmap.SetError `json:"notCopied"`
	}{FromAccountID: from.jid, AccountID: to.jid, Copied: map[string]string{}, NotCopied: map[string]*jmap.SetError{}}
	for _, id := range args.BlobIDs {
		blob, err := a.openBlob(ctx, from, id)
		if errors.Is(err, jmap.ErrBlobNotFound) {
			resp.NotCopied[id] = jmap.NewSetError(jmap.SetBlobNotFound, "no such blob")
			continue
		}
		if err != nil {
			return nil, err
		}
		up, err := a.st.PutUpload(ctx, to.id, "application/octet-stream", blob.Content, c.Limits.MaxSizeUpload, max(c.Limits.MaxSizeUpload, maxPendingUploads))
		blob.Content.Close()
		switch {
		case errors.Is(err, store.ErrUploadTooLarge):
			resp.NotCopied[id] = &jmap.SetError{Type: jmap.SetTooLarge, Description: "the blob is larger than an upload may be", MaxSize: c.Limits.MaxSizeUpload}
		case errors.Is(err, store.ErrUploadQuota):
			resp.NotCopied[id] = jmap.NewSetError(jmap.SetOverQuota, "the account holds as many uploads as it may")
		case err != nil:
			return nil, fmt.Errorf("jmap: copy blob: %w", err)
		default:
			resp.Copied[id] = up.ID
		}
	}
	return resp, nil
}
