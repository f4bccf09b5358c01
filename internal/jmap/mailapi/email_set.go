package mailapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// setArgs are the arguments of every /set (RFC 8620 §5.3).
type setArgs struct {
	AccountID string                     `json:"accountId"`
	IfInState *string                    `json:"ifInState"`
	Create    map[string]json.RawMessage `json:"create"`
	Update    map[string]json.RawMessage `json:"update"`
	Destroy   *[]string                  `json:"destroy"`
}

// setResponse is what every /set answers.
type setResponse struct {
	AccountID    string                    `json:"accountId"`
	OldState     string                    `json:"oldState"`
	NewState     string                    `json:"newState"`
	Created      map[string]any            `json:"created"`
	Updated      map[string]any            `json:"updated"`
	Destroyed    []string                  `json:"destroyed"`
	NotCreated   map[string]*jmap.SetError `json:"notCreated"`
	NotUpdated   map[string]*jmap.SetError `json:"notUpdated"`
	NotDestroyed map[string]*jmap.SetError `json:"notDestroyed"`
}

func newSetResponse(ac *acct, oldState string) *setResponse {
	return &setResponse{AccountID: ac.jid, OldState: oldState, Created: map[string]any{}, Updated: map[string]any{},
		Destroyed: []string{}, NotCreated: map[string]*jmap.SetError{}, NotUpdated: map[string]*jmap.SetError{},
		NotDestroyed: map[string]*jmap.SetError{}}
}

// checkSetSize applies maxObjectsInSet to a /set as a whole.
func checkSetSize(c *jmap.Call, args *setArgs) error {
	n := len(args.Create) + len(args.Update)
	if args.Destroy != nil {
		n += len(*args.Destroy)
	}
	if n > c.Limits.MaxObjectsInSet {
		return jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("%d objects; at most %d in one /set", n, c.Limits.MaxObjectsInSet))
	}
	return nil
}

// emailPatch is an Email update (RFC 8620 §5.3 PatchObject): either whole
// keywords/mailboxIds or single entries of them.
type emailPatch struct {
	keywords   map[string]bool // replace all (nil: not given)
	addKw      []string
	removeKw   []string
	mailboxes  map[string]bool // replace all (nil: not given)
	addMbox    []string
	removeMbox []string
}

func parsePatch(raw json.RawMessage) (*emailPatch, *jmap.SetError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, jmap.NewSetError(jmap.SetInvalidPatch, "the patch is not an object")
	}
	p := &emailPatch{}
	for path, v := range m {
		null := string(v) == "null"
		var on bool
		switch {
		case path == "keywords":
			if err := json.Unmarshal(v, &p.keywords); err != nil || p.keywords == nil {
				return nil, jmap.NewSetError(jmap.SetInvalidProperties, "keywords is an object of keyword: true", "keywords")
			}
			for k, on := range p.keywords {
				if !on || !validKeyword(k) {
					return nil, jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("%q is not a keyword set to true", k), "keywords")
				}
			}
		case path == "mailboxIds":
			if err := json.Unmarshal(v, &p.mailboxes); err != nil || p.mailboxes == nil {
				return nil, jmap.NewSetError(jmap.SetInvalidProperties, "mailboxIds is an object of id: true", "mailboxIds")
			}
		case strings.HasPrefix(path, "keywords/"):
			kw := jsonPointerUnescape(strings.TrimPrefix(path, "keywords/"))
			if !validKeyword(kw) || (!null && (json.Unmarshal(v, &on) != nil || !on)) {
				return nil, jmap.NewSetError(jmap.SetInvalidPatch, fmt.Sprintf("%s is true or null", path), "keywords")
			}
			if null {
				p.removeKw = append(p.removeKw, strings.ToLower(kw))
			} else {
				p.addKw = append(p.addKw, strings.ToLower(kw))
			}
		case strings.HasPrefix(path, "mailboxIds/"):
			id := jsonPointerUnescape(strings.TrimPrefix(path, "mailboxIds/"))
			if !null && (json.Unmarshal(v, &on) != nil || !on) {
				return nil, jmap.NewSetError(jmap.SetInvalidPatch, fmt.Sprintf("%s is true or null", path), "mailboxIds")
			}
			if null {
				p.removeMbox = append(p.removeMbox, id)
			} else {
				p.addMbox = append(p.addMbox, id)
			}
		default:
			prop, _, _ := strings.Cut(path, "/")
			if slices.Contains(emailProperties, prop) {
				return nil, jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("%s cannot be changed: an Email is immutable but for keywords and mailboxIds", prop), prop)
			}
			return nil, jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("no property %q", prop), prop)
		}
	}
	if (p.keywords != nil && len(p.addKw)+len(p.removeKw) > 0) || (p.mailboxes != nil && len(p.addMbox)+len(p.removeMbox) > 0) {
		return nil, jmap.NewSetError(jmap.SetInvalidPatch, "a property and a path inside it are both patched")
	}
	return p, nil
}

func jsonPointerUnescape(s string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}

// flagsOf splits JMAP keywords into IMAP system flags and keywords.
func flagsOf(kws []string) (store.Flags, []string) {
	var f store.Flags
	var rest []string
	for _, k := range kws {
		switch strings.ToLower(k) {
		case "$seen":
			f |= store.FlagSeen
		case "$flagged":
			f |= store.FlagFlagged
		case "$answered":
			f |= store.FlagAnswered
		case "$draft":
			f |= store.FlagDraft
		default:
			rest = append(rest, k)
		}
	}
	return f, rest
}

// flagChange is one UpdateFlags call: every message of a folder getting
// the same change goes in one (a "mark 3,000 read" is one commit).
type flagChange struct {
	folder int
	op     store.StoreOp
	flags  store.Flags
	kws    []string
	emails []string
	uids   []uint32
}

func (a *API) emailSet(ctx context.Context, c *jmap.Call) (any, error) {
	var args setArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if err := checkSetSize(c, &args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	return a.setEmails(ctx, c, ac, &args)
}

// setEmails is Email/set on an account: the method's body, and what
// EmailSubmission/set's onSuccessUpdateEmail and onSuccessDestroyEmail
// run as their implicit Email/set (RFC 8621 §7.5).
func (a *API) setEmails(ctx context.Context, c *jmap.Call, ac *acct, args *setArgs) (*setResponse, error) {
	old, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := newSetResponse(ac, old)
	a.createEmails(ctx, c, ac, args.Create, resp)
	// Find every message named.
	want := map[int64]bool{}
	for id := range args.Update {
		if id, ok := c.ResolveID(id); ok {
			if n, ok := parseID('M', id); ok {
				want[n] = true
			}
		}
	}
	var destroy []string
	if args.Destroy != nil {
		destroy = *args.Destroy
	}
	for _, id := range destroy {
		if id, ok := c.ResolveID(id); ok {
			if n, ok := parseID('M', id); ok {
				want[n] = true
			}
		}
	}
	found, err := a.locate(ctx, ac, want)
	if err != nil {
		return nil, err
	}
	a.updateEmails(ctx, c, ac, args.Update, found, resp)
	a.destroyEmails(ctx, c, ac, destroy, found, resp)
	if resp.NewState, err = a.state(ctx, ac); err != nil {
		return nil, err
	}
	return resp, nil
}

func (a *API) updateEmails(ctx context.Context, c *jmap.Call, ac *acct, updates map[string]json.RawMessage, found map[int64]located, resp *setResponse) {
	changes := map[string]*flagChange{}
	type move struct {
		src, dst int
		emails   []string
		uids     []uint32
	}
	moves := map[[2]int]*move{}
	ids := make([]string, 0, len(updates))
	for id := range updates {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, key := range ids {
		id, _ := c.ResolveID(key)
		n, _ := parseID('M', id)
		loc, ok := found[n]
		if !ok {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetNotFound, "no such Email")
			continue
		}
		p, serr := parsePatch(updates[key])
		if serr != nil {
			resp.NotUpdated[id] = serr
			continue
		}
		// Where the Email is to be.
		cur := mailboxID(ac.folders[loc.folder].ID())
		dst := loc.folder
		if p.mailboxes != nil || len(p.addMbox)+len(p.removeMbox) > 0 {
			set := map[string]bool{cur: true}
			if p.mailboxes != nil {
				set = p.mailboxes
			}
			for _, m := range p.removeMbox {
				delete(set, m)
			}
			for _, m := range p.addMbox {
				set[m] = true
			}
			if len(set) == 0 {
				resp.NotUpdated[id] = jmap.NewSetError(jmap.SetInvalidProperties, "an Email is in one Mailbox", "mailboxIds")
				continue
			}
			if len(set) > 1 {
				resp.NotUpdated[id] = jmap.NewSetError(jmap.SetTooManyMailboxes, "an Email is in exactly one Mailbox here (maxMailboxesPerEmail 1)", "mailboxIds")
				continue
			}
			for m := range set {
				f, ok := ac.folder(m)
				if !ok {
					resp.NotUpdated[id] = jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("no Mailbox %q", m), "mailboxIds")
					break
				}
				dst = ac.byID[f.ID()]
			}
			if resp.NotUpdated[id] != nil {
				continue
			}
		}
		// Keywords, grouped by change.
		addKws := func(op store.StoreOp, kws []string) {
			if len(kws) == 0 && op != store.FlagsReplace {
				return
			}
			slices.Sort(kws)
			flags, rest := flagsOf(kws)
			key := fmt.Sprintf("%d|%d|%s", loc.folder, op, strings.Join(kws, " "))
			ch := changes[key]
			if ch == nil {
				ch = &flagChange{folder: loc.folder, op: op, flags: flags, kws: rest}
				changes[key] = ch
			}
			ch.emails = append(ch.emails, id)
			ch.uids = append(ch.uids, loc.meta.UID)
		}
		if p.keywords != nil {
			var kws []string
			for k := range p.keywords {
				kws = append(kws, strings.ToLower(k))
			}
			addKws(store.FlagsReplace, kws)
		}
		addKws(store.FlagsAdd, p.addKw)
		addKws(store.FlagsRemove, p.removeKw)
		if dst != loc.folder {
			k := [2]int{loc.folder, dst}
			mv := moves[k]
			if mv == nil {
				mv = &move{src: loc.folder, dst: dst}
				moves[k] = mv
			}
			mv.emails = append(mv.emails, id)
			mv.uids = append(mv.uids, loc.meta.UID)
		}
		resp.Updated[id] = nil
	}
	// Flags first, then moves: a moved message keeps its flags.
	for _, ch := range changes {
		f := ac.folders[ch.folder]
		upd := store.FlagUpdate{UIDs: ch.uids, Op: ch.op, Flags: ch.flags, Keywords: ch.kws}
		if ch.op == store.FlagsReplace {
			// \Deleted is not a JMAP keyword: keep it as it is (visible
			// messages have none).
			upd.Flags &^= store.FlagDeleted
		}
		if _, err := ac.user.UpdateFlags(ctx, f, upd); err != nil {
			serr, ok := setErrorOf(err)
			if !ok {
				a.log.Error("jmap: Email/set keywords", "account", ac.email, "err", err)
				serr = jmap.NewSetError(jmap.SetForbidden, "the server could not change the keywords")
			}
			for _, id := range ch.emails {
				delete(resp.Updated, id)
				resp.NotUpdated[id] = serr
			}
		}
	}
	for _, mv := range moves {
		if _, err := ac.user.Move(ctx, ac.folders[mv.src], mv.uids, ac.folders[mv.dst]); err != nil {
			serr, ok := setErrorOf(err)
			if !ok {
				a.log.Error("jmap: Email/set move", "account", ac.email, "err", err)
				serr = jmap.NewSetError(jmap.SetForbidden, "the server could not move the Email")
			}
			for _, id := range mv.emails {
				delete(resp.Updated, id)
				resp.NotUpdated[id] = serr
			}
		}
	}
}

func (a *API) destroyEmails(ctx context.Context, c *jmap.Call, ac *acct, destroy []string, found map[int64]located, resp *setResponse) {
	byFolder := map[int][]uint32{}
	emails := map[int][]string{}
	for _, key := range destroy {
		id, _ := c.ResolveID(key)
		n, _ := parseID('M', id)
		loc, ok := found[n]
		if !ok {
			resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetNotFound, "no such Email")
			continue
		}
		byFolder[loc.folder] = append(byFolder[loc.folder], loc.meta.UID)
		emails[loc.folder] = append(emails[loc.folder], id)
	}
	for folder, uids := range byFolder {
		if _, err := ac.user.Expunge(ctx, ac.folders[folder], uids); err != nil {
			serr, ok := setErrorOf(err)
			if !ok {
				a.log.Error("jmap: Email/set destroy", "account", ac.email, "err", err)
				serr = jmap.NewSetError(jmap.SetForbidden, "the server could not destroy the Email")
			}
			for _, id := range emails[folder] {
				resp.NotDestroyed[id] = serr
			}
			continue
		}
		resp.Destroyed = append(resp.Destroyed, emails[folder]...)
	}
}
