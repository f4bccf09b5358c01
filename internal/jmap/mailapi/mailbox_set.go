package mailapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"mailroom/internal/jmap"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

type mailboxQueryArgs struct {
	AccountID string `json:"accountId"`
	Filter    *struct {
		ParentID     *string `json:"parentId"`
		Name         *string `json:"name"`
		Role         *string `json:"role"`
		HasAnyRole   *bool   `json:"hasAnyRole"`
		IsSubscribed *bool   `json:"isSubscribed"`
	} `json:"filter"`
	Sort           []comparator `json:"sort"`
	Position       int          `json:"position"`
	Anchor         *string      `json:"anchor"`
	AnchorOffset   int          `json:"anchorOffset"`
	Limit          *int         `json:"limit"`
	CalculateTotal bool         `json:"calculateTotal"`
	SortAsTree     bool         `json:"sortAsTree"`
	FilterAsTree   bool         `json:"filterAsTree"`
}

// mailboxQuery answers Mailbox/query (RFC 8621 §2.3). Its filter is a
// single FilterCondition (operators are refused as unsupportedFilter):
// folder lists are short, and clients filter them themselves.
func (a *API) mailboxQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var args mailboxQueryArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	state, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	var list []mailbox.Folder
	for _, f := range ac.folders {
		if fl := args.Filter; fl != nil {
			if fl.ParentID != nil && parentOf(ac, f) != *fl.ParentID {
				continue
			}
			if fl.Name != nil && !strings.Contains(strings.ToLower(leafName(f)), strings.ToLower(*fl.Name)) {
				continue
			}
			role := roleOf(f)
			if fl.Role != nil && role != *fl.Role {
				continue
			}
			if fl.HasAnyRole != nil && (role != "") != *fl.HasAnyRole {
				continue
			}
			if fl.IsSubscribed != nil && f.Mailbox().Subscribed != *fl.IsSubscribed {
				continue
			}
		}
		list = append(list, f)
	}
	for _, s := range args.Sort {
		if s.Property != "name" && s.Property != "sortOrder" {
			return nil, jmap.Errorf(jmap.ErrUnsupportedSort, fmt.Sprintf("cannot sort Mailboxes by %q", s.Property))
		}
	}
	slices.SortStableFunc(list, func(x, y mailbox.Folder) int {
		for _, s := range args.Sort {
			var r int
			if s.Property == "name" {
				r = cmp.Compare(leafName(x), leafName(y))
			} else {
				r = cmp.Compare(sortOrderOf(x), sortOrderOf(y))
			}
			if s.IsAscending != nil && !*s.IsAscending {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	if args.SortAsTree {
		// Parents before their children, siblings in the sorted order:
		// the full names sort that way once each level is replaced by its
		// rank among its siblings; a stable sort by depth-first path does it.
		rank := map[int64]int{}
		for i, f := range list {
			rank[f.ID()] = i
		}
		path := func(f mailbox.Folder) []int {
			var p []int
			name := f.Name()
			for {
				for _, g := range list {
					if g.Name() == name {
						p = append([]int{rank[g.ID()]}, p...)
					}
				}
				i := strings.LastIndex(name, store.Delimiter)
				if i < 0 {
					return p
				}
				name = name[:i]
			}
		}
		slices.SortStableFunc(list, func(x, y mailbox.Folder) int { return slices.Compare(path(x), path(y)) })
	}
	ids := make([]string, len(list))
	for i, f := range list {
		ids[i] = mailboxID(f.ID())
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
	end := len(ids)
	if args.Limit != nil {
		if *args.Limit < 0 {
			return nil, jmap.Errorf(jmap.ErrInvalidArguments, "limit is not negative")
		}
		end = min(end, start+*args.Limit)
	}
	resp := queryResponse{AccountID: ac.jid, QueryState: state, CanCalculateChanges: true, Position: start, IDs: ids[start:end]}
	if args.CalculateTotal {
		n := len(ids)
		resp.Total = &n
	}
	return resp, nil
}

func sortOrderOf(f mailbox.Folder) int {
	if o, ok := roleOrder[roleOf(f)]; ok {
		return o
	}
	return 10
}

// mailboxCreate is a Mailbox to create.
type mailboxCreate struct {
	Name         string  `json:"name"`
	ParentID     *string `json:"parentId"`
	Role         *string `json:"role"`
	SortOrder    *int    `json:"sortOrder"`
	IsSubscribed *bool   `json:"isSubscribed"`
}

type mailboxSetArgs struct {
	setArgs
	OnDestroyRemoveEmails bool `json:"onDestroyRemoveEmails"`
}

// mailboxSet answers Mailbox/set (RFC 8621 §2.5) through the mailbox
// service, as IMAP's CREATE, RENAME, DELETE and SUBSCRIBE.
func (a *API) mailboxSet(ctx context.Context, c *jmap.Call) (any, error) {
	var args mailboxSetArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if err := checkSetSize(c, &args.setArgs); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	// The calls after this one see the folders as it leaves them.
	defer forgetAccounts(ctx, c.User)
	if !ac.personal {
		// Folders of another account are created and renamed by its owner.
		if len(args.Create) > 0 || (args.Destroy != nil && len(*args.Destroy) > 0) {
			return nil, jmap.Errorf(jmap.ErrAccountReadOnly, "folders of a shared account are created and deleted by its owner")
		}
	}
	old, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := newSetResponse(ac, old)
	fail := func(m map[string]*jmap.SetError, id string, err error) {
		serr, ok := setErrorOf(err)
		if !ok {
			a.log.Error("jmap: Mailbox/set", "account", ac.email, "err", err)
			serr = jmap.NewSetError(jmap.SetForbidden, "the server could not make this change")
		}
		m[id] = serr
	}
	// Creations in an order where parents created in the same call come first.
	cids := make([]string, 0, len(args.Create))
	for cid := range args.Create {
		cids = append(cids, cid)
	}
	sort.Strings(cids)
	for pass := 0; pass < len(cids)+1 && len(cids) > 0; pass++ {
		var later []string
		for _, cid := range cids {
			var mc mailboxCreate
			if err := decodeStrict(args.Create[cid], &mc); err != nil {
				resp.NotCreated[cid] = jmap.NewSetError(jmap.SetInvalidProperties, err.Error())
				continue
			}
			if mc.ParentID != nil && strings.HasPrefix(*mc.ParentID, "#") {
				if _, ok := c.ResolveID(*mc.ParentID); !ok {
					later = append(later, cid)
					continue
				}
			}
			id, serr := a.createMailbox(ctx, c, ac, mc)
			if serr != nil {
				resp.NotCreated[cid] = serr
				continue
			}
			c.Created(cid, id)
			resp.Created[cid] = map[string]any{"id": id}
			forgetAccounts(ctx, c.User)
			ac, err = a.account(ctx, c, args.AccountID) // the new folder is listed now
			if err != nil {
				return nil, err
			}
		}
		if len(later) == len(cids) {
			for _, cid := range later {
				resp.NotCreated[cid] = jmap.NewSetError(jmap.SetInvalidProperties, "parentId refers to a Mailbox that is not created", "parentId")
			}
			break
		}
		cids = later
	}
	for id, raw := range args.Update {
		f, ok := ac.folder(id)
		if !ok {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetNotFound, "no such Mailbox")
			continue
		}
		if serr := a.updateMailbox(ctx, c, ac, f, raw); serr != nil {
			resp.NotUpdated[id] = serr
			continue
		}
		resp.Updated[id] = nil
	}
	if args.Destroy != nil {
		for _, id := range *args.Destroy {
			id, _ = c.ResolveID(id)
			f, ok := ac.folder(id)
			if !ok {
				resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetNotFound, "no such Mailbox")
				continue
			}
			if !args.OnDestroyRemoveEmails {
				st, err := ac.user.Status(ctx, f)
				if err == nil && st.Messages > 0 {
					resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetMailboxHasEmail, "the Mailbox has Emails; destroy them first or set onDestroyRemoveEmails")
					continue
				}
			}
			if err := ac.user.DeleteMailbox(ctx, f.Name()); err != nil {
				fail(resp.NotDestroyed, id, err)
				continue
			}
			resp.Destroyed = append(resp.Destroyed, id)
		}
	}
	if resp.NewState, err = a.state(ctx, ac); err != nil {
		return nil, err
	}
	return resp, nil
}

func (a *API) createMailbox(ctx context.Context, c *jmap.Call, ac *acct, mc mailboxCreate) (string, *jmap.SetError) {
	if mc.Role != nil {
		return "", jmap.NewSetError(jmap.SetInvalidProperties, "the role folders exist already; a new one has no role", "role")
	}
	if serr := checkMailboxName(mc.Name); serr != nil {
		return "", serr
	}
	name := mc.Name
	if mc.ParentID != nil {
		pid, _ := c.ResolveID(*mc.ParentID)
		p, ok := ac.folder(pid)
		if !ok {
			return "", jmap.NewSetError(jmap.SetInvalidProperties, "no such parent Mailbox", "parentId")
		}
		name = p.Name() + store.Delimiter + mc.Name
	}
	f, err := ac.user.CreateMailbox(ctx, name, "")
	if err != nil {
		serr, ok := setErrorOf(err)
		if !ok {
			a.log.Error("jmap: Mailbox/set create", "account", ac.email, "err", err)
			serr = jmap.NewSetError(jmap.SetForbidden, "the server could not create the Mailbox")
		}
		return "", serr
	}
	if mc.IsSubscribed == nil || *mc.IsSubscribed {
		if err := ac.user.SetSubscribed(ctx, f.Name(), true); err != nil {
			a.log.Warn("jmap: subscribe new mailbox", "account", ac.email, "err", err)
		}
	}
	return mailboxID(f.ID()), nil
}

// checkMailboxName: a Mailbox's name is one level, so no delimiter.
func checkMailboxName(name string) *jmap.SetError {
	if name == "" || strings.Contains(name, store.Delimiter) || len(name) > store.MaxMailboxNameLength {
		return jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("a name is 1 to %d octets without %q", store.MaxMailboxNameLength, store.Delimiter), "name")
	}
	return nil
}

func (a *API) updateMailbox(ctx context.Context, c *jmap.Call, ac *acct, f mailbox.Folder, raw json.RawMessage) *jmap.SetError {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return jmap.NewSetError(jmap.SetInvalidPatch, "the patch is not an object")
	}
	newName := f.Name()
	for prop, v := range m {
		switch prop {
		case "name":
			var name string
			if json.Unmarshal(v, &name) != nil {
				return jmap.NewSetError(jmap.SetInvalidProperties, "name is a string", "name")
			}
			if serr := checkMailboxName(name); serr != nil {
				return serr
			}
			if i := strings.LastIndex(newName, store.Delimiter); i >= 0 {
				newName = newName[:i+1] + name
			} else {
				newName = name
			}
		case "parentId":
			var pid *string
			if json.Unmarshal(v, &pid) != nil {
				return jmap.NewSetError(jmap.SetInvalidProperties, "parentId is an id or null", "parentId")
			}
			leaf := newName[strings.LastIndex(newName, store.Delimiter)+1:]
			if pid == nil {
				newName = leaf
				continue
			}
			id, _ := c.ResolveID(*pid)
			p, ok := ac.folder(id)
			if !ok {
				return jmap.NewSetError(jmap.SetInvalidProperties, "no such parent Mailbox", "parentId")
			}
			if p.ID() == f.ID() || strings.HasPrefix(p.Name()+store.Delimiter, f.Name()+store.Delimiter) {
				return jmap.NewSetError(jmap.SetInvalidProperties, "a Mailbox cannot be its own descendant", "parentId")
			}
			newName = p.Name() + store.Delimiter + leaf
		case "isSubscribed":
			var on bool
			if json.Unmarshal(v, &on) != nil {
				return jmap.NewSetError(jmap.SetInvalidProperties, "isSubscribed is true or false", "isSubscribed")
			}
			if err := ac.user.SetSubscribed(ctx, f.Name(), on); err != nil {
				serr, _ := setErrorOf(err)
				if serr == nil {
					serr = jmap.NewSetError(jmap.SetForbidden, "the server could not change the subscription")
				}
				return serr
			}
		case "sortOrder":
			// Role folders come first, the rest by name: the order is
			// the server's and not stored (RFC 8621 §2 lets it ignore it).
		case "role":
			if string(v) != "null" && roleOf(f) == "" {
				return jmap.NewSetError(jmap.SetInvalidProperties, "roles belong to the folders made with the account", "role")
			}
		default:
			return jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("%s cannot be changed", prop), prop)
		}
	}
	if newName != f.Name() {
		if roleOf(f) == "inbox" {
			return jmap.NewSetError(jmap.SetForbidden, "the inbox keeps its name")
		}
		if err := ac.user.RenameMailbox(ctx, f.Name(), newName); err != nil {
			serr, ok := setErrorOf(err)
			if !ok {
				a.log.Error("jmap: Mailbox/set rename", "account", ac.email, "err", err)
				serr = jmap.NewSetError(jmap.SetForbidden, "the server could not rename the Mailbox")
			}
			return serr
		}
	}
	return nil
}
