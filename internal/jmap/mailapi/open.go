package mailapi

import (
	"context"
	"errors"
	"fmt"

	"mailroom/internal/jmap"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

var (
	// ErrBadID: an account or Email id that is not one at all.
	ErrBadID = errors.New("mailapi: malformed id")
	// ErrNoEmail: the user reaches no such Email: an unknown account or
	// message, another user's, deleted, or in a folder without the read
	// right. The cases are not told apart, as JMAP's notFound does not.
	ErrNoEmail = errors.New("mailapi: no such email")
)

// OpenedEmail is one Email opened for reading outside a method call: for
// the webmail's render and zip endpoints, which must find messages and
// check rights exactly as Email/get and downloads do.
type OpenedEmail struct {
	AccountID, EmailID string
	Meta               store.MessageMeta
	Structure          *mime.Message
	// Body is the message as stored; the caller closes it.
	Body store.Body
	// PartBlobID names a part's blob (Email/get's blobId of a body part),
	// downloadable at the JMAP download URL.
	PartBlobID func(partID string) string
}

// OpenEmail opens the Email emailID of the JMAP account accountID as the
// user reaches it (their own, or one that shares folders with them).
func (a *API) OpenEmail(ctx context.Context, u jmap.User, accountID, emailID string) (*OpenedEmail, error) {
	n, okMsg := parseID('M', emailID)
	if _, ok := parseID('A', accountID); !ok || !okMsg {
		return nil, fmt.Errorf("open email %q of %q: %w", emailID, accountID, ErrBadID)
	}
	ac, err := a.userAccount(ctx, u, accountID)
	if errors.Is(err, jmap.ErrBlobNotFound) {
		return nil, fmt.Errorf("open email %q of %q: %w", emailID, accountID, ErrNoEmail)
	}
	if err != nil {
		return nil, err
	}
	found, err := a.locate(ctx, ac, map[int64]bool{n: true})
	if err != nil {
		return nil, fmt.Errorf("open email %q: %w", emailID, err)
	}
	loc, ok := found[n]
	if !ok {
		return nil, fmt.Errorf("open email %q of %q: %w", emailID, accountID, ErrNoEmail)
	}
	mbox := ac.folders[loc.folder].ID()
	st, err := a.svc.Structure(ctx, mbox, loc.meta.UID)
	if err != nil {
		return nil, fmt.Errorf("structure of email %q: %w", emailID, err)
	}
	body, err := a.svc.OpenBody(ctx, mbox, loc.meta.UID)
	if err != nil {
		return nil, fmt.Errorf("open email %q: %w", emailID, err)
	}
	return &OpenedEmail{AccountID: accountID, EmailID: emailID, Meta: loc.meta, Structure: st, Body: body,
		PartBlobID: partBlobID(n)}, nil
}
