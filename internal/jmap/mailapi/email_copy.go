package mailapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

type copyArgs struct {
	FromAccountID            string                     `json:"fromAccountId"`
	IfFromInState            *string                    `json:"ifFromInState"`
	AccountID                string                     `json:"accountId"`
	IfInState                *string                    `json:"ifInState"`
	Create                   map[string]json.RawMessage `json:"create"`
	OnSuccessDestroyOriginal bool                       `json:"onSuccessDestroyOriginal"`
	DestroyFromIfInState     *string                    `json:"destroyFromIfInState"`
}

// emailCopyIn is one Email to copy: its id in the source account and
// the only properties a copy may change (RFC 8621 §4.7).
type emailCopyIn struct {
	ID         string          `json:"id"`
	MailboxIDs map[string]bool `json:"mailboxIds"`
	Keywords   map[string]bool `json:"keywords"`
	ReceivedAt *string         `json:"receivedAt"`
}

// emailCopy is Email/copy (RFC 8620 §5.4, RFC 8621 §4.7) between two
// accounts the user reaches (their own and one sharing folders with
// them). A copy keeping the original's keywords and date is the mailbox
// service's Copy, as IMAP COPY; one with keywords or receivedAt of its
// own is the message appended anew with them.
func (a *API) emailCopy(ctx context.Context, c *jmap.Call) (any, error) {
	var args copyArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if len(args.Create) > c.Limits.MaxObjectsInSet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, "too many Emails in one copy")
	}
	if args.FromAccountID == args.AccountID {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "fromAccountId and accountId are the same: use Email/set to change mailboxIds")
	}
	accounts, err := a.accounts(ctx, c.User)
	if err != nil {
		return nil, err
	}
	var from, to *acct
	for _, ac := range accounts {
		switch ac.jid {
		case args.FromAccountID:
			from = ac
		case args.AccountID:
			to = ac
		}
	}
	if from == nil {
		return nil, jmap.Errorf(jmap.ErrFromAccountNotFound, "no account "+args.FromAccountID)
	}
	if to == nil {
		return nil, jmap.Errorf(jmap.ErrAccountNotFound, "no account "+args.AccountID)
	}
	fromState, err := a.state(ctx, from)
	if err != nil {
		return nil, err
	}
	if args.IfFromInState != nil && *args.IfFromInState != fromState {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state of "+from.jid+" is "+fromState)
	}
	old, err := a.state(ctx, to)
	if err != nil {
		return nil, err
	}
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := &createResponse{FromAccountID: from.jid, AccountID: to.jid, OldState: old}
	cids := make([]string, 0, len(args.Create))
	ins := map[string]*emailCopyIn{}
	want := map[int64]bool{}
	for cid, raw := range args.Create {
		cids = append(cids, cid)
		var in emailCopyIn
		if err := decodeStrict(raw, &in); err != nil {
			resp.add(cid, nil, jmap.NewSetError(jmap.SetInvalidProperties, "a copy has id, mailboxIds, keywords and receivedAt only: "+err.Error()))
			continue
		}
		in.ID, _ = c.ResolveID(in.ID)
		ins[cid] = &in
		if n, ok := parseID('M', in.ID); ok {
			want[n] = true
		}
	}
	sort.Strings(cids)
	found, err := a.locate(ctx, from, want)
	if err != nil {
		return nil, err
	}
	var copied []string
	for _, cid := range cids {
		in := ins[cid]
		if in == nil {
			continue
		}
		n, _ := parseID('M', in.ID)
		loc, ok := found[n]
		if !ok {
			resp.add(cid, nil, jmap.NewSetError(jmap.SetNotFound, "no Email "+in.ID+" in "+from.jid))
			continue
		}
		e, serr := a.copyOne(ctx, c, from, to, loc, in)
		resp.add(cid, e, serr)
		if serr == nil {
			c.Created(cid, e.ID)
			copied = append(copied, in.ID)
		}
	}
	if resp.NewState, err = a.state(ctx, to); err != nil {
		return nil, err
	}
	if args.OnSuccessDestroyOriginal && len(copied) > 0 {
		// The implicit Email/set, answered after this response (RFC 8620
		// §5.4).
		set, err := a.setEmails(ctx, c, from, &setArgs{AccountID: from.jid, IfInState: args.DestroyFromIfInState, Destroy: &copied})
		if err != nil {
			me, ok := jmap.AsMethodError(err)
			if !ok {
				a.log.Error("jmap: Email/copy: destroy originals", "account", from.email, "err", err)
				me = jmap.Errorf(jmap.ErrServerFail, "the originals could not be destroyed; it is logged")
			}
			if err := c.Respond("error", me); err != nil {
				return nil, err
			}
		} else if err := c.Respond("Email/set", set); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func (a *API) copyOne(ctx context.Context, c *jmap.Call, from, to *acct, loc located, in *emailCopyIn) (*createdEmail, *jmap.SetError) {
	mbox, kws, received, serr := mailboxKeywordsDate(in.MailboxIDs, in.Keywords, in.ReceivedAt)
	if serr != nil {
		return nil, serr
	}
	t, serr := a.target(c, to, mbox, kws, received)
	if serr != nil {
		return nil, serr
	}
	src := from.folders[loc.folder]
	if in.Keywords == nil && in.ReceivedAt == nil {
		res, err := to.user.Copy(ctx, src, []uint32{loc.meta.UID}, t.Folder)
		if err != nil || len(res.DestUIDs) != 1 {
			return nil, a.copyError(from, err)
		}
		return a.createdOf(ctx, to, t.Folder, res.DestUIDs[0], 0, loc.meta.Size)
	}
	if in.Keywords == nil {
		// Keywords not given are the original's.
		t.Flags, t.Keywords = flagsOf(keywordList(loc.meta))
	}
	if in.ReceivedAt == nil {
		t.InternalDate = time.Unix(loc.meta.InternalDate, 0)
	}
	body, err := a.svc.OpenBody(ctx, src.ID(), loc.meta.UID)
	if err != nil {
		return nil, a.copyError(from, err)
	}
	staged, err := a.st.Stage(ctx, io.NewSectionReader(body, 0, body.Size()))
	body.Close()
	if err != nil {
		return nil, a.copyError(from, err)
	}
	return a.appendStaged(ctx, to, staged, t)
}

func (a *API) copyError(from *acct, err error) *jmap.SetError {
	if err == nil {
		err = errors.New("no message copied")
	}
	serr, ok := setErrorOf(err)
	if !ok {
		a.log.Error("jmap: Email/copy", "account", from.email, "err", err)
		serr = jmap.NewSetError(jmap.SetForbidden, "the server could not copy the Email; it is logged")
	}
	return serr
}

// keywordList is a message's JMAP keywords as a list.
func keywordList(m store.MessageMeta) []string {
	kws := keywordsOf(m)
	out := make([]string, 0, len(kws))
	for k := range kws {
		out = append(out, k)
	}
	return out
}
