package mailapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// /changes (RFC 8620 §5.2) from the store's account history
// (store.AccountChanges): every change of an account's mail takes a new
// account modseq, so "what changed since state S" is the rows and
// records stamped after S, exactly.

// since is a state a client sent back: the account it is of, the
// account's modseq and next message id then, and, inside a page of
// changes that share one modseq, the last message id already reported.
// The account is in the state so that a state of another account is
// refused (cannotCalculateChanges), not taken for a point in this one's
// history.
type since struct {
	account int64
	store.AccountState
	afterID int64
}

// parseSince reads a state of the given account; false for anything else.
func parseSince(account int64, s string) (since, bool) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 && len(parts) != 4 {
		return since{}, false
	}
	var n [4]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 || (len(p) > 1 && p[0] == '0') || p[0] == '+' {
			return since{}, false
		}
		n[i] = v
	}
	if n[0] != account || n[2] < 1 || (len(parts) == 4 && n[3] < 1) {
		return since{}, false
	}
	return since{account: n[0], AccountState: store.AccountState{ModSeq: uint64(n[1]), NextMessageID: n[2]}, afterID: n[3]}, true
}

func (s since) String() string {
	st := formatState(s.account, s.AccountState)
	if s.afterID > 0 {
		st += "-" + strconv.FormatInt(s.afterID, 10)
	}
	return st
}

type changesArgs struct {
	AccountID  string `json:"accountId"`
	SinceState string `json:"sinceState"`
	MaxChanges *int   `json:"maxChanges"`
}

type changesResponse struct {
	AccountID      string   `json:"accountId"`
	OldState       string   `json:"oldState"`
	NewState       string   `json:"newState"`
	HasMoreChanges bool     `json:"hasMoreChanges"`
	Created        []string `json:"created"`
	Updated        []string `json:"updated"`
	Destroyed      []string `json:"destroyed"`
	// UpdatedProperties: Mailbox/changes only (RFC 8621 §2.2).
	UpdatedProperties *[]string `json:"updatedProperties,omitempty"`
}

// defaultMaxChanges bounds a /changes answer when the client sets no
// maxChanges: the rest comes with hasMoreChanges.
const defaultMaxChanges = 5000

func (a *API) changesSetup(ctx context.Context, c *jmap.Call) (*acct, changesArgs, since, int, error) {
	var args changesArgs
	if err := c.Decode(&args); err != nil {
		return nil, args, since{}, 0, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, args, since{}, 0, err
	}
	limit := defaultMaxChanges
	if args.MaxChanges != nil {
		if *args.MaxChanges < 1 {
			return nil, args, since{}, 0, jmap.Errorf(jmap.ErrInvalidArguments, "maxChanges is a positive number")
		}
		limit = min(limit, *args.MaxChanges)
	}
	s, ok := parseSince(ac.id, args.SinceState)
	if !ok {
		return nil, args, since{}, 0, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the state is not one this server gave out")
	}
	if err := a.svc.Barrier(ctx); err != nil {
		return nil, args, since{}, 0, err
	}
	return ac, args, s, limit, nil
}

// emailDelta is what happened to the account's Emails since a state, as
// the user sees them.
type emailDelta struct {
	created, updated, destroyed []int64
	// threads whose Email lists changed (an Email created, destroyed,
	// shown or hidden), for Thread/changes and queryChanges.
	threads map[int64]bool
	next    since // the state the delta reaches
	more    bool
	now     store.AccountState
}

// emailChanges reads at most limit changes since s. A change the user
// cannot see (a mailbox they may not read, \Deleted) is a destruction of
// what they could see before; an Email created and gone again within the
// window is not reported at all.
func (a *API) emailChanges(ctx context.Context, ac *acct, s since, limit int) (*emailDelta, error) {
	page, err := a.st.MessageChangesSince(ctx, ac.id, s.ModSeq, s.afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("jmap: changes of account %d: %w", ac.id, err)
	}
	if s.ModSeq > page.State.ModSeq || s.NextMessageID > page.State.NextMessageID {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the state is newer than the account's")
	}
	d := &emailDelta{threads: map[int64]bool{}, now: page.State, more: page.More}
	visible := map[int64]bool{}   // present and visible now, by message id
	invisible := map[int64]bool{} // present now where the user cannot see it
	threadOf := map[int64]int64{}
	var vanished []int64
	for _, ch := range page.Changes {
		m := ch.Meta
		threadOf[m.ID] = m.ThreadID
		switch {
		case ch.Vanished:
			vanished = append(vanished, m.ID)
		case a.readable(ac, ch.MailboxID) && m.Flags&store.FlagDeleted == 0:
			visible[m.ID] = true
			delete(invisible, m.ID)
		default:
			invisible[m.ID] = true
			delete(visible, m.ID)
		}
	}
	if d.more && len(page.Changes) > 0 {
		last := page.Changes[len(page.Changes)-1].Meta
		d.next = since{account: ac.id, AccountState: store.AccountState{ModSeq: last.ModSeq, NextMessageID: s.NextMessageID}, afterID: last.ID}
	} else {
		d.next = since{account: ac.id, AccountState: page.State}
	}
	// A message that left a mailbox may be in another now, on a later page:
	// ask where it is.
	gone := map[int64]bool{}
	for _, id := range vanished {
		if !visible[id] && !invisible[id] {
			gone[id] = true
		}
	}
	if len(gone) > 0 {
		found, err := a.locate(ctx, ac, gone)
		if err != nil {
			return nil, err
		}
		for id := range found {
			visible[id] = true
		}
		for id := range gone {
			if _, ok := found[id]; !ok {
				invisible[id] = true
			}
		}
	}
	isNew := func(id int64) bool { return id >= s.NextMessageID }
	for id := range visible {
		if isNew(id) {
			d.created = append(d.created, id)
			d.threads[threadOf[id]] = true
		} else {
			d.updated = append(d.updated, id)
		}
	}
	for id := range invisible {
		if !isNew(id) {
			d.destroyed = append(d.destroyed, id)
			d.threads[threadOf[id]] = true
		}
	}
	// Whether an Email was visible before is not recorded: one that was
	// shown or hidden (moved into or out of a folder the user may read,
	// \Deleted set or cleared) changes its thread's list either way.
	for _, ch := range page.Changes {
		if !ch.Vanished && !isNew(ch.Meta.ID) && (ch.Meta.Flags&store.FlagDeleted != 0 || !a.readable(ac, ch.MailboxID)) {
			d.threads[ch.Meta.ThreadID] = true
		}
	}
	for _, l := range [][]int64{d.created, d.updated, d.destroyed} {
		slices.Sort(l)
	}
	return d, nil
}

// readable: the user may read the mailbox's messages.
func (a *API) readable(ac *acct, mailboxID int64) bool {
	i, ok := ac.byID[mailboxID]
	return ok && ac.folders[i].Rights().Has(acl.Read)
}

func emailIDs(ids []int64, format func(int64) string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = format(id)
	}
	return out
}

func (a *API) emailChangesMethod(ctx context.Context, c *jmap.Call) (any, error) {
	ac, args, s, limit, err := a.changesSetup(ctx, c)
	if err != nil {
		return nil, err
	}
	d, err := a.emailChanges(ctx, ac, s, limit)
	if err != nil {
		return nil, err
	}
	return changesResponse{AccountID: ac.jid, OldState: args.SinceState, NewState: d.next.String(), HasMoreChanges: d.more,
		Created: emailIDs(d.created, emailID), Updated: emailIDs(d.updated, emailID), Destroyed: emailIDs(d.destroyed, emailID)}, nil
}

// threadChangesMethod answers Thread/changes (RFC 8621 §3.2): a thread
// changes when an Email joins or leaves it; a thread's id is the id of
// the message that started it, so one not below the state's next message
// id was created since.
func (a *API) threadChangesMethod(ctx context.Context, c *jmap.Call) (any, error) {
	ac, args, s, limit, err := a.changesSetup(ctx, c)
	if err != nil {
		return nil, err
	}
	d, err := a.emailChanges(ctx, ac, s, limit)
	if err != nil {
		return nil, err
	}
	resp := changesResponse{AccountID: ac.jid, OldState: args.SinceState, NewState: d.next.String(), HasMoreChanges: d.more,
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	threads := make([]int64, 0, len(d.threads))
	for t := range d.threads {
		threads = append(threads, t)
	}
	slices.Sort(threads)
	emails, err := a.threadsEmails(ctx, ac, threads)
	if err != nil {
		return nil, err
	}
	for _, t := range threads {
		isNew := t >= s.NextMessageID
		switch {
		case len(emails[t]) == 0 && !isNew:
			resp.Destroyed = append(resp.Destroyed, threadID(t))
		case len(emails[t]) == 0:
		case isNew:
			resp.Created = append(resp.Created, threadID(t))
		default:
			resp.Updated = append(resp.Updated, threadID(t))
		}
	}
	return resp, nil
}

// mailboxCountProperties are what a change of messages alone changes.
var mailboxCountProperties = []string{"totalEmails", "unreadEmails", "totalThreads", "unreadThreads"}

// mailboxChangesMethod answers Mailbox/changes (RFC 8621 §2.2).
func (a *API) mailboxChangesMethod(ctx context.Context, c *jmap.Call) (any, error) {
	ac, args, s, limit, err := a.changesSetup(ctx, c)
	if err != nil {
		return nil, err
	}
	ch, err := a.st.MailboxChangesSince(ctx, ac.id, s.ModSeq)
	if err != nil {
		return nil, fmt.Errorf("jmap: mailbox changes of account %d: %w", ac.id, err)
	}
	if s.ModSeq > ch.State.ModSeq {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the state is newer than the account's")
	}
	resp := changesResponse{AccountID: ac.jid, OldState: args.SinceState, NewState: formatState(ac.id, ch.State),
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	countsOnly := true
	for _, mb := range ch.Changed {
		_, visible := ac.byID[mb.ID]
		switch {
		case !visible && mb.CreatedModSeq <= s.ModSeq:
			resp.Destroyed = append(resp.Destroyed, mailboxID(mb.ID))
		case !visible:
		case mb.CreatedModSeq > s.ModSeq:
			resp.Created = append(resp.Created, mailboxID(mb.ID))
		default:
			resp.Updated = append(resp.Updated, mailboxID(mb.ID))
			if mb.MetaModSeq > s.ModSeq {
				countsOnly = false
			}
		}
	}
	for _, id := range ch.Deleted {
		if !slices.ContainsFunc(ch.Changed, func(mb store.Mailbox) bool { return mb.ID == id }) {
			resp.Destroyed = append(resp.Destroyed, mailboxID(id))
		}
	}
	// A mailbox created and deleted within the window has a tombstone but
	// was never seen: reporting it destroyed is harmless (RFC 8620 §5.2
	// lets a client ignore unknown ids there).
	if len(resp.Created)+len(resp.Updated)+len(resp.Destroyed) > limit {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, fmt.Sprintf("more than %d Mailboxes changed: get them all again", limit))
	}
	if countsOnly && len(resp.Updated) > 0 && len(resp.Created)+len(resp.Destroyed) == 0 {
		props := slices.Clone(mailboxCountProperties)
		resp.UpdatedProperties = &props
	}
	return resp, nil
}
