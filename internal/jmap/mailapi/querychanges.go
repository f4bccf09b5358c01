package mailapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// /queryChanges (RFC 8620 §5.6). The query state is the account state,
// so the Emails changed since it are known exactly; every one of them, and
// every Email of a thread one of them is in (a thread's representative
// under collapseThreads, and thread keyword conditions, depend on the
// others), is reported removed, and those of them in the results now are
// added back at their index. RFC 8620 §5.6 allows removed to hold ids that
// were not in the results; the client's list ends up exactly right.

type queryChangesArgs struct {
	AccountID       string          `json:"accountId"`
	Filter          json.RawMessage `json:"filter"`
	Sort            []comparator    `json:"sort"`
	SinceQueryState string          `json:"sinceQueryState"`
	MaxChanges      *int            `json:"maxChanges"`
	UpToID          *string         `json:"upToId"`
	CalculateTotal  bool            `json:"calculateTotal"`
	CollapseThreads bool            `json:"collapseThreads"`
}

type addedItem struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
}

type queryChangesResponse struct {
	AccountID     string      `json:"accountId"`
	OldQueryState string      `json:"oldQueryState"`
	NewQueryState string      `json:"newQueryState"`
	Total         *int        `json:"total,omitempty"`
	Removed       []string    `json:"removed"`
	Added         []addedItem `json:"added"`
}

// maxQueryChanges is how many changed Emails a queryChanges follows
// before it answers cannotCalculateChanges (the client queries again).
const maxQueryChanges = 10_000

func (a *API) emailQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var args queryChangesArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	if err := checkSort(c, args.Sort); err != nil {
		return nil, err
	}
	f, err := parseFilter(c, ac, args.Filter)
	if err != nil {
		return nil, err
	}
	s, ok := parseSince(ac.id, args.SinceQueryState)
	if !ok || s.afterID != 0 {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the query state is not one this server gave out for this account")
	}
	if err := a.svc.Barrier(ctx); err != nil {
		return nil, err
	}
	if len(f.queries) > 0 {
		// A mailroomQuery's folders (in:, the Junk and Trash rule) follow
		// the mailboxes' names and roles: if one was created, renamed or
		// deleted since, Emails that did not change may have come in or
		// gone out of the results.
		ch, err := a.st.MailboxChangesSince(ctx, ac.id, s.ModSeq)
		if err != nil {
			return nil, fmt.Errorf("jmap: mailbox changes of account %d: %w", ac.id, err)
		}
		if len(ch.Deleted) > 0 || slices.ContainsFunc(ch.Changed, func(mb store.Mailbox) bool {
			return mb.CreatedModSeq > s.ModSeq || mb.MetaModSeq > s.ModSeq
		}) {
			return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "a mailbox was created, renamed or deleted since: query again")
		}
	}
	d, err := a.emailChanges(ctx, ac, s, maxQueryChanges)
	if err != nil {
		return nil, err
	}
	if d.more {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, fmt.Sprintf("more than %d Emails changed: query again", maxQueryChanges))
	}
	// Everything changed, and the Emails of the threads they are in.
	changed := map[int64]bool{}
	for _, l := range [][]int64{d.created, d.updated, d.destroyed} {
		for _, id := range l {
			changed[id] = true
		}
	}
	if len(changed) > 0 {
		threads := map[int64]bool{}
		found, err := a.locate(ctx, ac, changed)
		if err != nil {
			return nil, err
		}
		for _, l := range found {
			threads[l.meta.ThreadID] = true
		}
		for t := range d.threads {
			threads[t] = true
		}
		for t := range threads {
			members, err := a.svc.Thread(ctx, ac.id, t)
			if err != nil {
				return nil, err
			}
			for _, m := range members {
				changed[m.ID] = true
			}
		}
	}
	if len(changed) > maxQueryChanges {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, fmt.Sprintf("more than %d Emails changed: query again", maxQueryChanges))
	}
	hits, err := a.runQuery(ctx, ac, f, args.Sort)
	if err != nil {
		return nil, err
	}
	hits = collapse(hits, args.CollapseThreads)
	resp := queryChangesResponse{AccountID: ac.jid, OldQueryState: args.SinceQueryState, NewQueryState: formatState(ac.id, d.now),
		Removed: []string{}, Added: []addedItem{}}
	ids := make([]int64, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		resp.Removed = append(resp.Removed, emailID(id))
	}
	for i, h := range hits {
		if changed[h.meta.ID] {
			resp.Added = append(resp.Added, addedItem{ID: emailID(h.meta.ID), Index: i})
		}
		if args.UpToID != nil && emailID(h.meta.ID) == *args.UpToID {
			break
		}
	}
	if args.MaxChanges != nil && len(resp.Removed)+len(resp.Added) > *args.MaxChanges {
		return nil, jmap.Errorf(jmap.ErrTooManyChanges, fmt.Sprintf("%d changes", len(resp.Removed)+len(resp.Added)))
	}
	if args.CalculateTotal {
		n := len(hits)
		resp.Total = &n
	}
	return resp, nil
}

// collapse keeps the first Email of each thread (collapseThreads).
func collapse(hits []hit, on bool) []hit {
	if !on {
		return hits
	}
	seen := newIDSet(len(hits))
	return slices.DeleteFunc(hits, func(h hit) bool { return !seen.add(h.meta.ThreadID) })
}

// mailboxQueryChanges answers Mailbox/queryChanges: every Mailbox
// created, changed or destroyed since is removed, and those in the
// results now added back at their index.
func (a *API) mailboxQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(c.Args, &raw); err != nil {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, err.Error())
	}
	var args struct {
		AccountID       string  `json:"accountId"`
		SinceQueryState string  `json:"sinceQueryState"`
		MaxChanges      *int    `json:"maxChanges"`
		UpToID          *string `json:"upToId"`
		CalculateTotal  bool    `json:"calculateTotal"`
	}
	if err := json.Unmarshal(c.Args, &args); err != nil {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, err.Error())
	}
	// The query itself: the same arguments as Mailbox/query.
	delete(raw, "sinceQueryState")
	delete(raw, "maxChanges")
	delete(raw, "upToId")
	b, _ := json.Marshal(raw)
	qc := *c
	qc.Args = b
	res, err := a.mailboxQuery(ctx, &qc)
	if err != nil {
		return nil, err
	}
	q := res.(queryResponse)
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	s, ok := parseSince(ac.id, args.SinceQueryState)
	if !ok || s.afterID != 0 {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the query state is not one this server gave out for this account")
	}
	ch, err := a.st.MailboxChangesSince(ctx, ac.id, s.ModSeq)
	if err != nil {
		return nil, fmt.Errorf("jmap: mailbox changes of account %d: %w", ac.id, err)
	}
	changed := map[string]bool{}
	for _, mb := range ch.Changed {
		changed[mailboxID(mb.ID)] = true
	}
	for _, id := range ch.Deleted {
		changed[mailboxID(id)] = true
	}
	resp := queryChangesResponse{AccountID: ac.jid, OldQueryState: args.SinceQueryState, NewQueryState: q.QueryState, Removed: []string{}, Added: []addedItem{}}
	for id := range changed {
		resp.Removed = append(resp.Removed, id)
	}
	slices.Sort(resp.Removed)
	for i, id := range q.IDs {
		if changed[id] {
			resp.Added = append(resp.Added, addedItem{ID: id, Index: q.Position + i})
		}
		if args.UpToID != nil && id == *args.UpToID {
			break
		}
	}
	if args.MaxChanges != nil && len(resp.Removed)+len(resp.Added) > *args.MaxChanges {
		return nil, jmap.Errorf(jmap.ErrTooManyChanges, fmt.Sprintf("%d changes", len(resp.Removed)+len(resp.Added)))
	}
	if args.CalculateTotal {
		resp.Total = q.Total
		if resp.Total == nil {
			n := len(q.IDs)
			resp.Total = &n
		}
	}
	return resp, nil
}
