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
	var threads []int64
	for _, id := range *args.IDs {
		id, _ = c.ResolveID(id)
		if n, ok := parseID('T', id); ok {
			threads = append(threads, n)
		}
	}
	emails, err := a.threadsEmails(ctx, ac, threads)
	if err != nil {
		return nil, err
	}
	for _, id := range *args.IDs {
		id, _ = c.ResolveID(id)
		n, _ := parseID('T', id)
		if len(emails[n]) == 0 {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		resp.List = append(resp.List, map[string]any{"id": id, "emailIds": emails[n]})
	}
	return resp, nil
}

// threadsEmails lists the visible Emails of threads, oldest first: the
// store's thread index finds the members, one pass over the mailbox
// service's state says which the user sees (not \Deleted, in a folder
// they may read).
func (a *API) threadsEmails(ctx context.Context, ac *acct, threads []int64) (map[int64][]string, error) {
	ids := map[int64]bool{}
	// The thread index says where each member is: noted as this request's
	// hints, locate (here, and in the Email/get that usually follows)
	// checks them there instead of scanning the account.
	h := a.hints(ctx, ac)
	for _, t := range threads {
		members, err := a.svc.Thread(ctx, ac.id, t)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		for _, m := range members {
			if _, ok := ac.byID[m.MailboxID]; ok {
				ids[m.ID] = true
				h.at[m.ID] = where{mailbox: m.MailboxID, uid: m.UID}
			}
		}
		h.mu.Unlock()
	}
	found, err := a.locate(ctx, ac, ids)
	if err != nil {
		return nil, err
	}
	byThread := map[int64][]store.MessageMeta{}
	for _, l := range found {
		byThread[l.meta.ThreadID] = append(byThread[l.meta.ThreadID], l.meta)
	}
	out := make(map[int64][]string, len(threads))
	for _, t := range threads {
		metas := byThread[t]
		slices.SortFunc(metas, func(x, y store.MessageMeta) int {
			if r := cmp.Compare(x.InternalDate, y.InternalDate); r != 0 {
				return r
			}
			return cmp.Compare(x.ID, y.ID)
		})
		list := make([]string, len(metas))
		for i, m := range metas {
			list[i] = emailID(m.ID)
		}
		out[t] = list
	}
	return out, nil
}
