package mailapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/jmap"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// getArgs are the arguments of every /get (RFC 8620 §5.1).
type getArgs struct {
	AccountID  string    `json:"accountId"`
	IDs        *[]string `json:"ids"`
	Properties *[]string `json:"properties"`
}

// getResponse is what every /get answers.
type getResponse struct {
	AccountID string   `json:"accountId"`
	State     string   `json:"state"`
	List      []any    `json:"list"`
	NotFound  []string `json:"notFound"`
}

// propertySet checks the properties asked for against those a type has:
// nil asks for defaults. "id" is always returned.
func propertySet(asked *[]string, known []string, defaults []string) (map[string]bool, error) {
	props := map[string]bool{"id": true}
	if asked == nil {
		for _, p := range defaults {
			props[p] = true
		}
		return props, nil
	}
	for _, p := range *asked {
		if !slices.Contains(known, p) {
			return nil, jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("unknown property %q", p))
		}
		props[p] = true
	}
	return props, nil
}

// mailboxRights is Mailbox.myRights (RFC 8621 §2), from the ACL rights as
// RFC 8621 §2's table maps them to IMAP's.
type mailboxRights struct {
	MayReadItems   bool `json:"mayReadItems"`
	MayAddItems    bool `json:"mayAddItems"`
	MayRemoveItems bool `json:"mayRemoveItems"`
	MaySetSeen     bool `json:"maySetSeen"`
	MaySetKeywords bool `json:"maySetKeywords"`
	MayCreateChild bool `json:"mayCreateChild"`
	MayRename      bool `json:"mayRename"`
	MayDelete      bool `json:"mayDelete"`
	MaySubmit      bool `json:"maySubmit"`
}

func rightsOf(r acl.Rights, inbox bool) mailboxRights {
	return mailboxRights{
		MayReadItems:   r.Has(acl.Read),
		MayAddItems:    r.Has(acl.Insert),
		MayRemoveItems: r.Has(acl.DeleteMessages) && r.Has(acl.Expunge),
		MaySetSeen:     r.Has(acl.Seen),
		MaySetKeywords: r.Has(acl.Write),
		MayCreateChild: r.Has(acl.Create),
		MayRename:      r.Has(acl.DeleteMailbox) && !inbox,
		MayDelete:      r.Has(acl.DeleteMailbox) && !inbox,
		MaySubmit:      r.Has(acl.Post),
	}
}

// roles maps special uses to Mailbox roles (the IANA registry of RFC 8457).
var roles = map[store.SpecialUse]string{
	store.SpecialSent: "sent", store.SpecialDrafts: "drafts", store.SpecialTrash: "trash",
	store.SpecialJunk: "junk", store.SpecialArchive: "archive", store.SpecialAll: "all",
	store.SpecialFlagged: "flagged",
}

// roleOrder puts the role folders first, in the order people expect.
var roleOrder = map[string]int{"inbox": 1, "drafts": 2, "sent": 3, "archive": 4, "junk": 5, "trash": 6, "all": 7, "flagged": 8}

func roleOf(f mailbox.Folder) string {
	if f.Owner() == "" && f.Name() == "INBOX" {
		return "inbox"
	}
	return roles[f.Mailbox().SpecialUse]
}

var mailboxProperties = []string{"id", "name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails",
	"totalThreads", "unreadThreads", "myRights", "isSubscribed"}

// mailboxCounts are a mailbox's counts as JMAP has them: messages with
// \Deleted are not counted, a thread is unread if any of its messages in
// the mailbox is.
type mailboxCounts struct{ total, unread, threads, unreadThreads int }

func (a *API) counts(ctx context.Context, ac *acct, f mailbox.Folder) (mailboxCounts, error) {
	var c mailboxCounts
	if !f.Rights().Has(acl.Read) {
		return c, nil
	}
	// Sets of ids rather than a map: an INBOX of 100,000 made this a tenth
	// of the first screen's request.
	scope := []int{ac.byID[f.ID()]}
	n := a.countMessages(ctx, ac, scope)
	threads, unreadThreads := newIDSet(n), newIDSet(0)
	err := a.eachMessage(ctx, ac, scope, func(_ int, m store.MessageMeta) bool {
		c.total++
		threads.add(m.ThreadID)
		if m.Flags&store.FlagSeen == 0 {
			c.unread++
			unreadThreads.add(m.ThreadID)
		}
		return true
	})
	if err != nil {
		return c, err
	}
	c.threads, c.unreadThreads = threads.len(), unreadThreads.len()
	return c, nil
}

// parentOf returns the id of the folder's parent in the account, "" if it
// has none the user can see.
func parentOf(ac *acct, f mailbox.Folder) string {
	name := f.Name()
	i := strings.LastIndex(name, store.Delimiter)
	if i < 0 {
		return ""
	}
	parent := name[:i]
	for _, g := range ac.folders {
		if g.Name() == parent {
			return mailboxID(g.ID())
		}
	}
	return ""
}

func leafName(f mailbox.Folder) string {
	name := ownerName(f)
	if i := strings.LastIndex(name, store.Delimiter); i >= 0 {
		return name[i+1:]
	}
	return name
}

func (a *API) mailboxObject(ctx context.Context, ac *acct, f mailbox.Folder, props map[string]bool) (map[string]any, error) {
	o := map[string]any{"id": mailboxID(f.ID())}
	role := roleOf(f)
	if props["name"] {
		o["name"] = leafName(f)
	}
	if props["parentId"] {
		if p := parentOf(ac, f); p != "" {
			o["parentId"] = p
		} else {
			o["parentId"] = nil
		}
	}
	if props["role"] {
		if role != "" {
			o["role"] = role
		} else {
			o["role"] = nil
		}
	}
	if props["sortOrder"] {
		o["sortOrder"] = roleOrder[role] // 0 for the rest: sorted by name after the roles
		if role == "" {
			o["sortOrder"] = 10
		}
	}
	if props["totalEmails"] || props["unreadEmails"] || props["totalThreads"] || props["unreadThreads"] {
		c, err := a.counts(ctx, ac, f)
		if err != nil {
			return nil, err
		}
		for k, v := range map[string]int{"totalEmails": c.total, "unreadEmails": c.unread, "totalThreads": c.threads, "unreadThreads": c.unreadThreads} {
			if props[k] {
				o[k] = v
			}
		}
	}
	if props["myRights"] {
		o["myRights"] = rightsOf(f.Rights(), role == "inbox")
	}
	if props["isSubscribed"] {
		o["isSubscribed"] = f.Mailbox().Subscribed
	}
	return o, nil
}

func (a *API) mailboxGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args getArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := propertySet(args.Properties, mailboxProperties, mailboxProperties)
	if err != nil {
		return nil, err
	}
	state, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	resp := getResponse{AccountID: ac.jid, State: state, List: []any{}, NotFound: []string{}}
	var folders []mailbox.Folder
	if args.IDs == nil {
		folders = ac.folders
	} else {
		if len(*args.IDs) > c.Limits.MaxObjectsInGet {
			return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d ids", c.Limits.MaxObjectsInGet))
		}
		for _, id := range *args.IDs {
			id, _ = c.ResolveID(id)
			f, ok := ac.folder(id)
			if !ok {
				resp.NotFound = append(resp.NotFound, id)
				continue
			}
			folders = append(folders, f)
		}
	}
	for _, f := range folders {
		o, err := a.mailboxObject(ctx, ac, f, props)
		if err != nil {
			return nil, err
		}
		resp.List = append(resp.List, o)
	}
	return resp, nil
}

// decodeStrict unmarshals raw into v, refusing unknown properties.
func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// storeError turns a mailbox-service error into what JMAP calls it.
func setErrorOf(err error) (*jmap.SetError, bool) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return jmap.NewSetError(jmap.SetNotFound, "not found"), true
	case errors.Is(err, mailbox.ErrNoPermission):
		return jmap.NewSetError(jmap.SetForbidden, err.Error()), true
	case errors.Is(err, store.ErrExists):
		return jmap.NewSetError(jmap.SetInvalidProperties, "a mailbox of that name exists", "name"), true
	case errors.Is(err, store.ErrHasChildren):
		return jmap.NewSetError(jmap.SetMailboxHasChild, "the mailbox has child mailboxes"), true
	case errors.Is(err, store.ErrProtected):
		return jmap.NewSetError(jmap.SetForbidden, "this mailbox cannot be changed so"), true
	case errors.Is(err, store.ErrOverQuota):
		return jmap.NewSetError(jmap.SetOverQuota, "the account is over its quota"), true
	case errors.Is(err, store.ErrInvalid):
		return jmap.NewSetError(jmap.SetInvalidProperties, err.Error()), true
	}
	return nil, false
}
