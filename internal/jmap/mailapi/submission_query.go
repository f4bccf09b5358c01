package mailapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// queryArgs are the arguments of a plain /query (RFC 8620 §5.5).
type queryArgs struct {
	AccountID      string          `json:"accountId"`
	Filter         json.RawMessage `json:"filter"`
	Sort           []comparator    `json:"sort"`
	Position       int             `json:"position"`
	Anchor         *string         `json:"anchor"`
	AnchorOffset   int             `json:"anchorOffset"`
	Limit          *int            `json:"limit"`
	CalculateTotal bool            `json:"calculateTotal"`
}

// page answers a /query from all the ids found, in order.
func page(ac *acct, args *queryArgs, state string, ids []string) (*queryResponse, error) {
	if args.Limit != nil && *args.Limit < 0 {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "limit must not be negative")
	}
	limit := maxQueryLimit
	if args.Limit != nil && *args.Limit < limit {
		limit = *args.Limit
	}
	start := args.Position
	if args.Anchor != nil {
		i := slices.Index(ids, *args.Anchor)
		if i < 0 {
			return nil, jmap.Errorf(jmap.ErrAnchorNotFound, fmt.Sprintf("%q is not in the results", *args.Anchor))
		}
		start = max(0, i+args.AnchorOffset)
	} else if start < 0 {
		start = max(0, len(ids)+start)
	}
	start = min(start, len(ids))
	end := min(len(ids), start+limit)
	resp := &queryResponse{AccountID: ac.jid, QueryState: state, Position: start, IDs: append([]string{}, ids[start:end]...)}
	if args.CalculateTotal {
		n := len(ids)
		resp.Total = &n
	}
	if args.Limit != nil && limit != *args.Limit {
		resp.Limit = &limit
	}
	return resp, nil
}

// submissionFilter is EmailSubmission/query's FilterCondition (RFC 8621
// §7.3), or a FilterOperator.
type submissionFilter struct {
	Operator    string             `json:"operator"`
	Conditions  []submissionFilter `json:"conditions"`
	IdentityIDs []string           `json:"identityIds"`
	EmailIDs    []string           `json:"emailIds"`
	ThreadIDs   []string           `json:"threadIds"`
	UndoStatus  *string            `json:"undoStatus"`
	Before      *time.Time         `json:"before"`
	After       *time.Time         `json:"after"`
}

func (f *submissionFilter) match(s store.EmailSubmission) bool {
	switch f.Operator {
	case "AND":
		for i := range f.Conditions {
			if !f.Conditions[i].match(s) {
				return false
			}
		}
		return true
	case "OR", "NOT":
		any := false
		for i := range f.Conditions {
			if f.Conditions[i].match(s) {
				any = true
				break
			}
		}
		return any == (f.Operator == "OR")
	}
	return (f.IdentityIDs == nil || slices.Contains(f.IdentityIDs, s.IdentityID)) &&
		(f.EmailIDs == nil || slices.Contains(f.EmailIDs, emailID(s.EmailID))) &&
		(f.ThreadIDs == nil || slices.Contains(f.ThreadIDs, threadID(s.ThreadID))) &&
		(f.UndoStatus == nil || *f.UndoStatus == undoStatus(s)) &&
		(f.Before == nil || s.SendAt.Before(*f.Before)) &&
		(f.After == nil || !s.SendAt.Before(*f.After))
}

func (f *submissionFilter) check(depth int) error {
	if depth > 16 {
		return jmap.Errorf(jmap.ErrUnsupportedFilter, "the filter nests too deeply")
	}
	switch f.Operator {
	case "":
		if f.Conditions != nil {
			return jmap.Errorf(jmap.ErrInvalidArguments, "conditions without an operator")
		}
		return nil
	case "AND", "OR", "NOT":
		for i := range f.Conditions {
			if err := f.Conditions[i].check(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	return jmap.Errorf(jmap.ErrUnsupportedFilter, fmt.Sprintf("no operator %q", f.Operator))
}

func (a *API) submissionQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var args queryArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	var f submissionFilter
	if len(args.Filter) > 0 && string(args.Filter) != "null" {
		if err := decodeStrict(args.Filter, &f); err != nil {
			return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, err.Error())
		}
		if err := f.check(0); err != nil {
			return nil, err
		}
	}
	list, err := a.submissions(ctx, ac)
	if err != nil {
		return nil, err
	}
	list = slices.DeleteFunc(list, func(s store.EmailSubmission) bool { return !f.match(s) })
	// Stable sorts, the last criterion first, so the first one decides.
	for i := len(args.Sort) - 1; i >= 0; i-- {
		cmp := args.Sort[i]
		var key func(s store.EmailSubmission) int64
		switch cmp.Property {
		case "emailId":
			key = func(s store.EmailSubmission) int64 { return s.EmailID }
		case "threadId":
			key = func(s store.EmailSubmission) int64 { return s.ThreadID }
		case "sentAt":
			key = func(s store.EmailSubmission) int64 { return s.SendAt.Unix() }
		default:
			return nil, jmap.Errorf(jmap.ErrUnsupportedSort, fmt.Sprintf("cannot sort by %q (emailId, threadId, sentAt)", cmp.Property))
		}
		asc := cmp.IsAscending == nil || *cmp.IsAscending
		slices.SortStableFunc(list, func(x, y store.EmailSubmission) int {
			d := key(x) - key(y)
			if !asc {
				d = -d
			}
			switch {
			case d < 0:
				return -1
			case d > 0:
				return 1
			}
			return 0
		})
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = submissionID(s.ID)
	}
	all, err := a.submissions(ctx, ac)
	if err != nil {
		return nil, err
	}
	return page(ac, &args, submissionState(all), ids)
}

// unchangedQuery answers a /queryChanges honestly for types that do not
// track query results: nothing at the same state, else
// cannotCalculateChanges (the client runs the query again).
func unchangedQuery(ac *acct, since, state string) (any, error) {
	if since != state {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the query state is "+state+"; run the query again")
	}
	return &queryChangesResponse{AccountID: ac.jid, OldQueryState: since, NewQueryState: state, Removed: []string{}, Added: []addedItem{}}, nil
}

func (a *API) submissionQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var args queryChangesArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := a.submissions(ctx, ac)
	if err != nil {
		return nil, err
	}
	return unchangedQuery(ac, args.SinceQueryState, submissionState(list))
}
