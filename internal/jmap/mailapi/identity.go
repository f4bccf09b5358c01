package mailapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"mailroom/internal/address"
	"mailroom/internal/jmap"
	"mailroom/internal/sendas"
	"mailroom/internal/store"
)

// Identities (RFC 8621 §6). A user's identities are the addresses they
// may send as, by the rule SMTP submission applies (internal/sendas):
// their own address, every alias that delivers to them, and the address
// of every account that granted them a delegation. Those are listed
// whatever the client does (mayDelete false); Identity/set may add more
// for addresses the rule allows (a plus-address, the same address with
// another name), and change the name, replyTo, bcc and signatures of
// any. What a client sets is kept in the account's identity.profiles
// setting, one JSON document, so that it travels with the account.

// CapabilitySubmission is JMAP's submission capability (RFC 8621 §1.3.2).
const CapabilitySubmission = "urn:ietf:params:jmap:submission"

// emailAddress is RFC 8621's EmailAddress.
type emailAddress struct {
	Name  *string `json:"name"`
	Email string  `json:"email"`
}

// profile is what the account stores of one identity.
type profile struct {
	ID            string         `json:"id"`
	Email         string         `json:"email"`
	Name          string         `json:"name,omitempty"`
	ReplyTo       []emailAddress `json:"replyTo,omitempty"`
	Bcc           []emailAddress `json:"bcc,omitempty"`
	TextSignature string         `json:"textSignature,omitempty"`
	HTMLSignature string         `json:"htmlSignature,omitempty"`
	// Added: made by Identity/set create, so it may be destroyed.
	Added bool `json:"added,omitempty"`
}

// profiles is the identity.profiles setting.
type profiles struct {
	Next int       `json:"next,omitempty"` // the number of the next identity added
	List []profile `json:"list,omitempty"`
}

// identity is an Identity object.
type identity struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Email         string         `json:"email"`
	ReplyTo       []emailAddress `json:"replyTo"`
	Bcc           []emailAddress `json:"bcc"`
	TextSignature string         `json:"textSignature"`
	HTMLSignature string         `json:"htmlSignature"`
	MayDelete     bool           `json:"mayDelete"`

	right sendas.Right
}

// autoIdentityID names the identity of an address the user may always
// send as: stable while the address is theirs, and never one of an added
// identity ("C<n>").
func autoIdentityID(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return "I" + hex.EncodeToString(sum[:8])
}

func (a *API) loadProfiles(ctx context.Context, accountID int64) (profiles, error) {
	settings, err := a.st.Settings(ctx, accountID)
	if err != nil {
		return profiles{}, fmt.Errorf("jmap: settings of account %d: %w", accountID, err)
	}
	var p profiles
	if v := settings.String("identity.profiles"); v != "" {
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			// Written only by Identity/set: a broken one is logged and
			// read as empty rather than locking the user out of sending.
			a.log.Warn("jmap: identity.profiles is not JSON; ignored", "account", accountID, "err", err)
			return profiles{}, nil
		}
	}
	return p, nil
}

func (a *API) saveProfiles(ctx context.Context, accountID int64, p profiles) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("jmap: marshal identities: %w", err)
	}
	return a.st.SetSettings(ctx, accountID, map[string]string{"identity.profiles": string(b)})
}

// right applies the sending rule to one address of the user's.
func (a *API) right(ctx context.Context, ac *acct, addr string, grants func() ([]store.Delegation, error)) (sendas.Right, error) {
	parsed, err := address.Parse(addr)
	if err != nil {
		return sendas.Right{}, nil
	}
	return sendas.Check(ctx, a.st, a.plusSep, ac.email, parsed, grants)
}

// lazyGrants reads the user's delegations once, when first needed.
func (a *API) lazyGrants(ctx context.Context, ac *acct) func() ([]store.Delegation, error) {
	var grants []store.Delegation
	read := false
	return func() ([]store.Delegation, error) {
		if read {
			return grants, nil
		}
		g, err := a.st.DelegatedTo(ctx, ac.id, ac.email)
		if err != nil {
			return nil, fmt.Errorf("jmap: delegations of %s: %w", ac.email, err)
		}
		grants, read = g, true
		return grants, nil
	}
}

// identities lists the user's identities, the automatic ones first (own
// address, aliases, delegations), then the added ones still allowed.
func (a *API) identities(ctx context.Context, ac *acct) ([]identity, profiles, error) {
	stored, err := a.loadProfiles(ctx, ac.id)
	if err != nil {
		return nil, stored, err
	}
	grants := a.lazyGrants(ctx, ac)
	me := strings.ToLower(ac.email)
	addrs := []string{me}
	rights := map[string]sendas.Right{me: {Own: true}}
	aliases, err := a.st.Aliases(ctx)
	if err != nil {
		return nil, stored, fmt.Errorf("jmap: aliases: %w", err)
	}
	var mine []string
	for _, al := range aliases {
		if slices.Contains(al.Targets, me) && !strings.HasPrefix(al.Address, "@") {
			mine = append(mine, strings.ToLower(al.Address))
		}
	}
	sort.Strings(mine)
	for _, al := range mine {
		if _, dup := rights[al]; !dup {
			addrs = append(addrs, al)
			rights[al] = sendas.Right{Own: true}
		}
	}
	gs, err := grants()
	if err != nil {
		return nil, stored, err
	}
	for _, g := range gs {
		if _, dup := rights[g.Owner]; !dup {
			addrs = append(addrs, g.Owner)
			rights[g.Owner] = sendas.Right{Grant: g}
		}
	}
	byID := map[string]profile{}
	for _, p := range stored.List {
		byID[p.ID] = p
	}
	var out []identity
	for _, addr := range addrs {
		p := byID[autoIdentityID(addr)]
		p.ID, p.Email = autoIdentityID(addr), addr
		out = append(out, identityOf(p, rights[addr]))
	}
	for _, p := range stored.List {
		if !p.Added {
			continue
		}
		r, err := a.right(ctx, ac, p.Email, grants)
		if err != nil {
			return nil, stored, err
		}
		if r.Allowed() { // a revoked delegation takes its identities with it
			out = append(out, identityOf(p, r))
		}
	}
	return out, stored, nil
}

func identityOf(p profile, r sendas.Right) identity {
	return identity{ID: p.ID, Name: p.Name, Email: p.Email, ReplyTo: p.ReplyTo, Bcc: p.Bcc,
		TextSignature: p.TextSignature, HTMLSignature: p.HTMLSignature, MayDelete: p.Added, right: r}
}

// identityState changes whenever an identity does: a hash of them all.
func identityState(ids []identity) string {
	b, _ := json.Marshal(ids)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// personal finds the user's own account for the methods that exist only
// there (Identity, EmailSubmission, VacationResponse, Quota).
func (a *API) personal(ctx context.Context, c *jmap.Call, id string) (*acct, error) {
	ac, err := a.account(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if !ac.personal {
		return nil, jmap.Errorf(jmap.ErrAccountNotSupportedByMethod, "only the user's own account has "+strings.Split(c.Name, "/")[0]+" objects")
	}
	return ac, nil
}

// answerGet answers a /get from all the objects (by id) with the
// properties asked for ("id" always).
func answerGet(c *jmap.Call, args *getArgs, ac *acct, state string, ids []string, objects map[string]any, known []string) (*getResponse, error) {
	props, err := propertySet(args.Properties, known, known)
	if err != nil {
		return nil, err
	}
	want := ids
	if args.IDs != nil {
		if len(*args.IDs) > c.Limits.MaxObjectsInGet {
			return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d ids in one /get", c.Limits.MaxObjectsInGet))
		}
		want = *args.IDs
	}
	resp := &getResponse{AccountID: ac.jid, State: state, List: []any{}, NotFound: []string{}}
	for _, id := range want {
		o, ok := objects[id]
		if !ok {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		var m map[string]any
		b, _ := json.Marshal(o)
		_ = json.Unmarshal(b, &m)
		for k := range m {
			if !props[k] && k != "id" {
				delete(m, k)
			}
		}
		resp.List = append(resp.List, m)
	}
	return resp, nil
}

var identityProperties = []string{"id", "name", "email", "replyTo", "bcc", "textSignature", "htmlSignature", "mayDelete"}

func (a *API) identityGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args getArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, _, err := a.identities(ctx, ac)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	objects := make(map[string]any, len(list))
	for i, id := range list {
		ids[i] = id.ID
		objects[id.ID] = id
	}
	return answerGet(c, &args, ac, identityState(list), ids, objects, identityProperties)
}

// hashChanges answers a /changes of a type whose state is a hash of its
// objects: no changes at the same state, else cannotCalculateChanges (the
// client fetches them again; there are few).
func hashChanges(c *jmap.Call, ac *acct, args *changesArgs, state string) (any, error) {
	if args.MaxChanges != nil && *args.MaxChanges < 1 {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "maxChanges must be a positive integer")
	}
	if args.SinceState != state {
		return nil, jmap.Errorf(jmap.ErrCannotCalculateChanges, "the state is "+state+"; get the objects again")
	}
	return &changesResponse{AccountID: ac.jid, OldState: state, NewState: state, Created: []string{}, Updated: []string{}, Destroyed: []string{}}, nil
}

func (a *API) identityChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var args changesArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, _, err := a.identities(ctx, ac)
	if err != nil {
		return nil, err
	}
	return hashChanges(c, ac, &args, identityState(list))
}

// identityFields are the properties Identity/set may give.
type identityFields struct {
	Name          *string         `json:"name"`
	Email         *string         `json:"email"`
	ReplyTo       *[]emailAddress `json:"replyTo"`
	Bcc           *[]emailAddress `json:"bcc"`
	TextSignature *string         `json:"textSignature"`
	HTMLSignature *string         `json:"htmlSignature"`
	ID            *string         `json:"id"`
	MayDelete     *bool           `json:"mayDelete"`
}

// apply sets the changeable fields of p; a SetError if one is invalid.
func (f *identityFields) apply(p *profile) *jmap.SetError {
	if f.Name != nil {
		p.Name = *f.Name
	}
	for _, l := range []struct {
		name string
		v    *[]emailAddress
		dst  *[]emailAddress
	}{{"replyTo", f.ReplyTo, &p.ReplyTo}, {"bcc", f.Bcc, &p.Bcc}} {
		if l.v == nil {
			continue
		}
		for _, e := range *l.v {
			if _, err := address.Parse(e.Email); err != nil {
				return jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("%q is not an address", e.Email), l.name)
			}
		}
		*l.dst = *l.v
	}
	if f.TextSignature != nil {
		p.TextSignature = *f.TextSignature
	}
	if f.HTMLSignature != nil {
		p.HTMLSignature = *f.HTMLSignature
	}
	return nil
}

func (a *API) identitySet(ctx context.Context, c *jmap.Call) (any, error) {
	var args setArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if err := checkSetSize(c, &args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, stored, err := a.identities(ctx, ac)
	if err != nil {
		return nil, err
	}
	old := identityState(list)
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := newSetResponse(ac, old)
	current := map[string]identity{}
	for _, id := range list {
		current[id.ID] = id
	}
	index := func(id string) int {
		return slices.IndexFunc(stored.List, func(p profile) bool { return p.ID == id })
	}
	created := map[string]string{} // creation id -> id, recorded once saved
	grants := a.lazyGrants(ctx, ac)
	for cid, raw := range args.Create {
		var f identityFields
		if err := decodeStrict(raw, &f); err != nil {
			resp.NotCreated[cid] = jmap.NewSetError(jmap.SetInvalidProperties, err.Error())
			continue
		}
		if f.ID != nil || f.MayDelete != nil {
			resp.NotCreated[cid] = jmap.NewSetError(jmap.SetInvalidProperties, "id and mayDelete are set by the server", "id")
			continue
		}
		if f.Email == nil {
			resp.NotCreated[cid] = jmap.NewSetError(jmap.SetInvalidProperties, "email is required", "email")
			continue
		}
		addr, perr := address.Parse(*f.Email)
		if perr != nil {
			resp.NotCreated[cid] = jmap.NewSetError(jmap.SetInvalidProperties, fmt.Sprintf("%q is not an address", *f.Email), "email")
			continue
		}
		r, err := a.right(ctx, ac, addr.String(), grants)
		if err != nil {
			return nil, err
		}
		if !r.Allowed() {
			resp.NotCreated[cid] = jmap.NewSetError(jmap.SetForbiddenFrom, addr.String()+" is not an address this account may send as")
			continue
		}
		stored.Next++
		p := profile{ID: "C" + strconv.Itoa(stored.Next), Email: addr.String(), Added: true}
		if serr := f.apply(&p); serr != nil {
			resp.NotCreated[cid] = serr
			continue
		}
		stored.List = append(stored.List, p)
		created[cid] = p.ID
		resp.Created[cid] = map[string]any{"id": p.ID, "mayDelete": true}
	}
	for key, raw := range args.Update {
		id, _ := c.ResolveID(key)
		cur, ok := current[id]
		if !ok {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetNotFound, "no such Identity")
			continue
		}
		var f identityFields
		if err := decodeStrict(raw, &f); err != nil {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetInvalidPatch, "only name, replyTo, bcc, textSignature and htmlSignature may be changed, each as a whole: "+err.Error())
			continue
		}
		if (f.Email != nil && !strings.EqualFold(*f.Email, cur.Email)) || (f.ID != nil && *f.ID != id) || (f.MayDelete != nil && *f.MayDelete != cur.MayDelete) {
			resp.NotUpdated[id] = jmap.NewSetError(jmap.SetInvalidProperties, "id, email and mayDelete cannot be changed", "email")
			continue
		}
		i := index(id)
		if i < 0 {
			stored.List = append(stored.List, profile{ID: id, Email: cur.Email})
			i = len(stored.List) - 1
		}
		p := stored.List[i]
		if serr := f.apply(&p); serr != nil {
			resp.NotUpdated[id] = serr
			continue
		}
		stored.List[i] = p
		resp.Updated[id] = nil
	}
	if args.Destroy != nil {
		for _, key := range *args.Destroy {
			id, _ := c.ResolveID(key)
			cur, ok := current[id]
			switch {
			case !ok:
				resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetNotFound, "no such Identity")
			case !cur.MayDelete:
				resp.NotDestroyed[id] = jmap.NewSetError(jmap.SetForbidden, "this identity is an address of the account, an alias or a delegation; the administrator changes those")
			default:
				stored.List = slices.DeleteFunc(stored.List, func(p profile) bool { return p.ID == id })
				resp.Destroyed = append(resp.Destroyed, id)
			}
		}
	}
	if len(created)+len(resp.Updated)+len(resp.Destroyed) > 0 {
		if err := a.saveProfiles(ctx, ac.id, stored); err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				return nil, err
			}
			// Over the setting's size: nothing of this call was kept.
			serr := jmap.NewSetError(jmap.SetOverQuota, fmt.Sprintf("the identities of an account take at most %d octets", store.MaxTextSetting))
			for cid := range created {
				delete(resp.Created, cid)
				resp.NotCreated[cid] = serr
			}
			for id := range resp.Updated {
				resp.NotUpdated[id] = serr
			}
			for _, id := range resp.Destroyed {
				resp.NotDestroyed[id] = serr
			}
			resp.Updated, resp.Destroyed, created = map[string]any{}, []string{}, nil
		}
	}
	for cid, id := range created {
		c.Created(cid, id)
	}
	if list, _, err = a.identities(ctx, ac); err != nil {
		return nil, err
	}
	resp.NewState = identityState(list)
	return resp, nil
}
