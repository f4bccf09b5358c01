package jmap

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Request-level error types (RFC 8620 §3.6.1), answered as RFC 7807
// problem details.
const (
	ProblemUnknownCapability = "urn:ietf:params:jmap:error:unknownCapability"
	ProblemNotJSON           = "urn:ietf:params:jmap:error:notJSON"
	ProblemNotRequest        = "urn:ietf:params:jmap:error:notRequest"
	ProblemLimit             = "urn:ietf:params:jmap:error:limit"
)

// Problem is a request-level error: the whole request is refused with an
// HTTP status and an RFC 7807 body.
type Problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Limit names the limit exceeded (ProblemLimit only), as the session
	// resource names it.
	Limit string `json:"limit,omitempty"`
}

func (p *Problem) Error() string { return p.Type + ": " + p.Detail }

func limitProblem(limit, detail string) *Problem {
	return &Problem{Type: ProblemLimit, Status: http.StatusBadRequest, Limit: limit, Detail: detail}
}

// writeProblem answers a request-level error.
func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// Method-level error types (RFC 8620 §3.6.2 and the methods' sections).
const (
	ErrServerUnavailable               = "serverUnavailable"
	ErrServerFail                      = "serverFail"
	ErrServerPartialFail               = "serverPartialFail"
	ErrUnknownMethod                   = "unknownMethod"
	ErrInvalidArguments                = "invalidArguments"
	ErrInvalidResultReference          = "invalidResultReference"
	ErrForbidden                       = "forbidden"
	ErrAccountNotFound                 = "accountNotFound"
	ErrAccountNotSupportedByMethod     = "accountNotSupportedByMethod"
	ErrAccountReadOnly                 = "accountReadOnly"
	ErrRequestTooLarge                 = "requestTooLarge"
	ErrCannotCalculateChanges          = "cannotCalculateChanges"
	ErrStateMismatch                   = "stateMismatch"
	ErrFromAccountNotFound             = "fromAccountNotFound"
	ErrFromAccountNotSupportedByMethod = "fromAccountNotSupportedByMethod"
	ErrAnchorNotFound                  = "anchorNotFound"
	ErrUnsupportedSort                 = "unsupportedSort"
	ErrUnsupportedFilter               = "unsupportedFilter"
	ErrTooManyChanges                  = "tooManyChanges"
)

// MethodError is a method's error response: ["error", {type, description}, callId].
type MethodError struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

func (e *MethodError) Error() string {
	if e.Description == "" {
		return e.Type
	}
	return e.Type + ": " + e.Description
}

// Errorf returns a MethodError of the given type.
func Errorf(typ, description string) *MethodError {
	return &MethodError{Type: typ, Description: description}
}

// AsMethodError returns err's MethodError, if it has one.
func AsMethodError(err error) (*MethodError, bool) {
	var me *MethodError
	ok := errors.As(err, &me)
	return me, ok
}

// SetError types (RFC 8620 §5.3 and §5.4, RFC 8621's methods).
const (
	SetForbidden         = "forbidden"
	SetOverQuota         = "overQuota"
	SetTooLarge          = "tooLarge"
	SetRateLimit         = "rateLimit"
	SetNotFound          = "notFound"
	SetInvalidPatch      = "invalidPatch"
	SetWillDestroy       = "willDestroy"
	SetInvalidProperties = "invalidProperties"
	SetSingleton         = "singleton"
	SetAlreadyExists     = "alreadyExists"
	SetMailboxHasChild   = "mailboxHasChild"
	SetMailboxHasEmail   = "mailboxHasEmail"
	SetBlobNotFound      = "blobNotFound"
	SetTooManyKeywords   = "tooManyKeywords"
	SetTooManyMailboxes  = "tooManyMailboxes"
	SetInvalidEmail      = "invalidEmail"
	SetTooManyRecipients = "tooManyRecipients"
	SetNoRecipients      = "noRecipients"
	SetInvalidRecipients = "invalidRecipients"
	SetForbiddenMailFrom = "forbiddenMailFrom"
	SetForbiddenFrom     = "forbiddenFrom"
	SetForbiddenToSend   = "forbiddenToSend"
	SetCannotUnsend      = "cannotUnsend"
	SetNotCreated        = "notCreated"
)

// SetError is why one object of a /set, /copy or /import was not
// created, updated or destroyed.
type SetError struct {
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Properties  []string `json:"properties,omitempty"`
	// ExistingID: alreadyExists (Email/import, Email/copy).
	ExistingID string `json:"existingId,omitempty"`
	// NotFound: blobNotFound's missing blob ids.
	NotFound []string `json:"notFound,omitempty"`
	// MaxRecipients, InvalidRecipients: EmailSubmission's errors.
	MaxRecipients     int      `json:"maxRecipients,omitempty"`
	InvalidRecipients []string `json:"invalidRecipients,omitempty"`
	// MaxSize: tooLarge of EmailSubmission.
	MaxSize int64 `json:"maxSize,omitempty"`
}

func (e *SetError) Error() string { return e.Type + ": " + e.Description }

// NewSetError returns a SetError of typ.
func NewSetError(typ, description string, properties ...string) *SetError {
	return &SetError{Type: typ, Description: description, Properties: properties}
}
