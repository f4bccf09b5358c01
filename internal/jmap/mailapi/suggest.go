package mailapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// Address suggestions, a vendor extension (RFC 8620 §2 lets a server
// add capabilities under its own URI, and §9 methods with them): the
// compose form asks Suggestion/query for the people the user writes to
// and hears from whose address, or a word of whose name, starts with what
// was typed (store.Contacts, collected by the delivery agent), and
// Suggestion/forget drops one. They exist for the user's own account
// only: an account that merely shares folders with the user is
// forbidden, one the user does not reach accountNotFound.

// CapabilitySuggest is the extension's capability.
const CapabilitySuggest = "urn:mailroom:params:jmap:suggest"

// suggestCapability is the capability's session value: the bounds of a
// Suggestion/query.
type suggestCapability struct {
	MaxTextLength int `json:"maxTextLength"`
	MaxLimit      int `json:"maxLimit"`
}

// defaultSuggestLimit is a Suggestion/query's limit when none is given.
const defaultSuggestLimit = 10

func (a *API) registerSuggest(reg *jmap.Registry) {
	reg.Capability(CapabilitySuggest, suggestCapability{MaxTextLength: store.MaxSuggestText, MaxLimit: store.MaxSuggestLimit})
	reg.Handle(CapabilitySuggest, "Suggestion/query", a.suggestionQuery)
	reg.Handle(CapabilitySuggest, "Suggestion/forget", a.suggestionForget)
}

// ownAccount is the account a Suggestion call names, which must be the
// user's own.
func (a *API) ownAccount(ctx context.Context, c *jmap.Call, id string) (*acct, error) {
	ac, err := a.account(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if !ac.personal {
		return nil, jmap.Errorf(jmap.ErrForbidden, "address suggestions are the user's own: "+id+" is another account")
	}
	return ac, nil
}

// suggestion is one entry of a Suggestion/query's list.
type suggestion struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	SentCount     int64  `json:"sentCount"`
	ReceivedCount int64  `json:"receivedCount"`
	LastSeen      string `json:"lastSeen"` // UTCDate
}

type suggestionQueryArgs struct {
	AccountID string  `json:"accountId"`
	Text      *string `json:"text"`
	Limit     *int    `json:"limit"`
}

type suggestionQueryResponse struct {
	AccountID string       `json:"accountId"`
	List      []suggestion `json:"list"`
}

func (a *API) suggestionQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var args suggestionQueryArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if args.Text == nil {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "text is required")
	}
	text := *args.Text
	if n := utf8.RuneCountInString(text); n < 1 || n > store.MaxSuggestText || strings.TrimSpace(text) == "" {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("text must be 1 to %d characters, not all white space", store.MaxSuggestText))
	}
	limit := defaultSuggestLimit
	if args.Limit != nil {
		limit = *args.Limit
		if limit < 1 || limit > store.MaxSuggestLimit {
			return nil, jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("limit must be 1 to %d", store.MaxSuggestLimit))
		}
	}
	ac, err := a.ownAccount(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	found, err := a.st.SuggestContacts(ctx, ac.id, text, limit)
	if errors.Is(err, store.ErrInvalid) {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("jmap: suggestions for %s: %w", ac.email, err)
	}
	resp := suggestionQueryResponse{AccountID: ac.jid, List: make([]suggestion, 0, len(found))}
	for _, f := range found {
		resp.List = append(resp.List, suggestion{Email: f.Email, Name: f.Name, SentCount: f.Sent, ReceivedCount: f.Received,
			LastSeen: f.LastSeen.UTC().Format(time.RFC3339)})
	}
	return resp, nil
}

type suggestionForgetArgs struct {
	AccountID string   `json:"accountId"`
	Emails    []string `json:"emails"`
}

// suggestionForgetResponse says which addresses were forgotten and which
// were not among the suggestions (the call succeeds either way: what the
// client wanted gone is gone).
type suggestionForgetResponse struct {
	AccountID string   `json:"accountId"`
	Forgotten []string `json:"forgotten"`
	NotFound  []string `json:"notFound"`
}

func (a *API) suggestionForget(ctx context.Context, c *jmap.Call) (any, error) {
	var args suggestionForgetArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if len(args.Emails) == 0 {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "emails must list at least one address")
	}
	if len(args.Emails) > c.Limits.MaxObjectsInSet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d emails in one Suggestion/forget", c.Limits.MaxObjectsInSet))
	}
	for _, e := range args.Emails {
		if e == "" || len(e) > store.MaxContactEmail {
			return nil, jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("each email must be 1 to %d octets", store.MaxContactEmail))
		}
	}
	ac, err := a.ownAccount(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	resp := suggestionForgetResponse{AccountID: ac.jid, Forgotten: []string{}, NotFound: []string{}}
	for _, e := range args.Emails {
		gone, err := a.st.ForgetContact(ctx, ac.id, e)
		if err != nil {
			return nil, fmt.Errorf("jmap: forget suggestion of %s: %w", ac.email, err)
		}
		if gone {
			resp.Forgotten = append(resp.Forgotten, e)
		} else {
			resp.NotFound = append(resp.NotFound, e)
		}
	}
	return resp, nil
}
