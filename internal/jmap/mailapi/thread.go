package mailapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// threadGet answers Thread/get (RFC 8621 §3.1): a thread's Emails, oldest
// first, among those the user can see in the account.
func (a *API) threadGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args getArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	if _, err := propertySet(args.Properties, []string{"id", "emailIds"}, []string{"emailIds"}); err != nil {
		return nil, err
	}
	if args.IDs == nil {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, "Thread/get needs ids")
	}
	if len(*args.IDs) > c.Limits.MaxObjectsInGet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d ids", c.Limits.MaxObjectsInGet))
	}
	state, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	resp := getResponse{AccountID: ac.jid, State: state, List: []any{}, NotFound: []string{}}
	for _, id := range *args.IDs {
		id, _ = c.ResolveID(id)
		n, ok := parseID('T', id)
		var emails []string
		if ok {
			if emails, err = a.threadEmails(ctx, ac, n); err != nil {
				return nil, err
			}
		}
		if len(emails) == 0 {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		resp.List = append(resp.List, map[string]any{"id": id, "emailIds": emails})
	}
	return resp, nil
}

// threadEmails lists a thread's visible Emails, oldest first: the store's
// thread index finds the members, the mailbox service's state says which
// the user sees (not \Deleted, in a folder they may read).
func (a *API) threadEmails(ctx context.Context, ac *acct, thread int64) ([]string, error) {
	members, err := a.svc.Thread(ctx, ac.id, thread)
	if err != nil {
		return nil, err
	}
	ids := map[int64]bool{}
	for _, m := range members {
		if _, ok := ac.byID[m.MailboxID]; ok {
			ids[m.ID] = true
		}
	}
	found, err := a.locate(ctx, ac, ids)
	if err != nil {
		return nil, err
	}
	metas := make([]store.MessageMeta, 0, len(found))
	for _, l := range found {
		if l.meta.ThreadID == thread {
			metas = append(metas, l.meta)
		}
	}
	slices.SortFunc(metas, func(x, y store.MessageMeta) int {
		if r := cmp.Compare(x.InternalDate, y.InternalDate); r != 0 {
			return r
		}
		return cmp.Compare(x.ID, y.ID)
	})
	out := make([]string, len(metas))
	for i, m := range metas {
		out[i] = emailID(m.ID)
	}
	return out, nil
}
