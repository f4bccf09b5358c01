package mailapi

import (
	"context"
	"fmt"
	"io"
	"strings"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/store"
)

// Blob ids: "B<message id>" is a whole message as stored (RFC 8621's
// Email.blobId); "P<message id>_<part>" (part "1_2" for IMAP section
// 1.2) one part's decoded content; "u…" an upload (store.Uploads).

// bodyReader is a message's bytes served as a blob: seekable, so
// downloads answer ranges.
type bodyReader struct {
	*io.SectionReader
	body store.Body
}

func (b bodyReader) Close() error { return b.body.Close() }

// userAccount finds the account of a blob URL among those the user reaches.
func (a *API) userAccount(ctx context.Context, u jmap.User, accountID string) (*acct, error) {
	accounts, err := a.accounts(ctx, u)
	if err != nil {
		return nil, err
	}
	for _, ac := range accounts {
		if ac.jid == accountID {
			return ac, nil
		}
	}
	return nil, fmt.Errorf("account %q: %w", accountID, jmap.ErrBlobNotFound)
}

// Download implements jmap.Blobs.
func (a *API) Download(ctx context.Context, u jmap.User, accountID, id string) (jmap.Blob, error) {
	ac, err := a.userAccount(ctx, u, accountID)
	if err != nil {
		return jmap.Blob{}, err
	}
	return a.openBlob(ctx, ac, id)
}

// partContent// partContent is one part's decoded content, streamed from the message.
type partContent struct {
	io.Reader
	body store.Body
}

func (p partContent) Close() error { return p.body.Close() }

// downloadOther serves part blobs and uploads.
func (a *API) downloadOther(ctx context.Context, ac *acct, id string) (jmap.Blob, error) {
	if strings.HasPrefix(id, "u") {
		return a.downloadUpload(ctx, ac, id)
	}
	n, partID, ok := parsePartBlobID(id)
	if !ok {
		return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
	}
	found, err := a.locate(ctx, ac, map[int64]bool{n: true})
	if err != nil {
		return jmap.Blob{}, err
	}
	loc, ok := found[n]
	if !ok {
		return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
	}
	mbox := ac.folders[loc.folder].ID()
	st, err := a.svc.Structure(ctx, mbox, loc.meta.UID)
	if err != nil {
		return jmap.Blob{}, fmt.Errorf("structure of message %d: %w", n, err)
	}
	p, ok := emailprops.PartByID(st, partID)
	if !ok {
		return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
	}
	body, err := a.svc.OpenBody(ctx, mbox, loc.meta.UID)
	if err != nil {
		return jmap.Blob{}, fmt.Errorf("open message %d: %w", n, err)
	}
	return jmap.Blob{Content: partContent{emailprops.PartReader(body, p), body}, Size: -1}, nil
}

// openBlob opens any blob of the account for reading (an Email to import
// or parse, an attachment of an Email being created): a whole message, a
// part's decoded content, or an upload. jmap.ErrBlobNotFound if there is
// none.
func (a *API) openBlob(ctx context.Context, ac *acct, id string) (jmap.Blob, error) {
	if n, ok := parseID('B', id); ok {
		found, err := a.locate(ctx, ac, map[int64]bool{n: true})
		if err != nil {
			return jmap.Blob{}, err
		}
		loc, ok := found[n]
		if !ok {
			return jmap.Blob{}, fmt.Errorf("blob %q: %w", id, jmap.ErrBlobNotFound)
		}
		body, err := a.svc.OpenBody(ctx, ac.folders[loc.folder].ID(), loc.meta.UID)
		if err != nil {
			return jmap.Blob{}, fmt.Errorf("open message %d: %w", n, err)
		}
		return jmap.Blob{Content: bodyReader{io.NewSectionReader(body, 0, body.Size()), body}, Size: body.Size()}, nil
	}
	return a.downloadOther(ctx, ac, id)
}
