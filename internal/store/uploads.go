package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors of PutUpload.
var (
	// ErrUploadTooLarge: the body was longer than the caller's maxSize
	// (JMAP's maxSizeUpload). Nothing was kept.
	ErrUploadTooLarge = errors.New("upload too large")
	// ErrUploadQuota: the account's pending uploads would exceed the
	// caller's maxPending octets in total. Nothing was kept; the same
	// upload can succeed once older ones are used or expire.
	ErrUploadQuota = errors.New("too many pending uploads")
)

// UploadLifetime is how long an upload is kept after it was created.
// RFC 8620 §6.1 asks for at least an hour; a day lets a client upload an
// attachment, keep the draft open over lunch and still send it, while a
// client that never uses what it uploaded costs at most a day of it
// (bounded by maxPending). Both backends' periodic maintenance removes the
// expired ones (DeleteExpiredUploads), and Upload/OpenUpload treat one
// past its lifetime as gone even before that.
const UploadLifetime = 24 * time.Hour

// Uploads keeps blobs a JMAP client uploaded until they are used or expire.
type Uploads interface {
	// PutUpload streams r into the body store (durably: fsynced before it
	// returns, like Stage) and records it for the account with its media
	// type. It fails with ErrUploadTooLarge once more than maxSize octets
	// were read (the partial body is removed; what is left of r is not
	// read), and with ErrUploadQuota when the account's pending uploads
	// would exceed maxPending octets in total. maxSize or maxPending 0 or
	// less: no limit. An unknown account is ErrNotFound.
	PutUpload(ctx context.Context, accountID int64, mediaType string, r io.Reader, maxSize, maxPending int64) (Upload, error)
	// Upload returns the record of one upload of the account (ErrNotFound
	// if none or expired).
	Upload(ctx context.Context, accountID int64, id string) (Upload, error)
	// OpenUpload opens its bytes (ErrNotFound as Upload).
	OpenUpload(ctx context.Context, accountID int64, id string) (Body, error)
	// DeleteExpiredUploads removes uploads created before the cutoff (and
	// their bodies), returning how many.
	DeleteExpiredUploads(ctx context.Context, before time.Time) (int, error)
}

// Upload is one uploaded blob.
type Upload struct {
	// ID is opaque, URL-safe and unguessable: "u" and 128 bits of
	// crypto/rand in lower-case base32 without padding (27 characters).
	// Unguessable, because the JMAP blobId is all a request shows of it
	// and the account check is the only other gate.
	ID        string
	AccountID int64
	Type      string // the media type the client gave
	Size      int64
	// SHA256 is of the bytes, computed while streaming: a caller may
	// de-duplicate with it.
	SHA256  [32]byte
	Created time.Time
}

// uploadIDEncoding is base32 in lower case without padding: only
// [a-z2-7], safe in a URL path and in a JMAP Id (RFC 8620 §1.2).
var uploadIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewUploadID returns a new upload id (see Upload.ID).
func NewUploadID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand's documented contract since Go 1.24)
	return "u" + uploadIDEncoding.EncodeToString(b[:])
}

// ValidUploadID reports whether id has the form NewUploadID gives. The
// backends look only such ids up, so a client's arbitrary string never
// reaches a query.
func ValidUploadID(id string) bool {
	if len(id) != 27 || id[0] != 'u' {
		return false
	}
	for _, c := range id[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// CopyUpload streams r (stopped when ctx ends) into w and returns the
// number of octets and their SHA-256. More than maxSize octets (maxSize > 0)
// is ErrUploadTooLarge, found after reading at most maxSize+1 octets: a
// client's oversized body is not read to its end, nor written beyond it.
// Both backends' PutUpload stream through it, so the limit and the digest
// mean the same on either.
func CopyUpload(ctx context.Context, w io.Writer, r io.Reader, maxSize int64) (int64, [32]byte, error) {
	var sum [32]byte
	r = ContextReader(ctx, r)
	if maxSize > 0 {
		r = io.LimitReader(r, maxSize+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), r)
	if err != nil {
		return n, sum, fmt.Errorf("upload: %w", err)
	}
	if maxSize > 0 && n > maxSize {
		return n, sum, fmt.Errorf("upload: more than %d octets: %w", maxSize, ErrUploadTooLarge)
	}
	h.Sum(sum[:0])
	return n, sum, nil
}
