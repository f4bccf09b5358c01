package mailapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/jmap"
	"mailroom/internal/store"
)

// Quotas (RFC 9425) of the user's own account: one Quota per limited
// resource of store.Quotas (STORAGE in octets, MESSAGE as a count), scope
// "account", read through the mailbox service as IMAP's GETQUOTA does. A
// resource without a limit has no Quota (hardLimit is a number in RFC
// 9425). Mailroom has one limit per resource, so warnLimit and softLimit
// are not given.

// CapabilityQuota is RFC 9425's capability.
const CapabilityQuota = "urn:ietf:params:jmap:quota"

func (a *API) registerQuota(reg *jmap.Registry) {
	reg.Capability(CapabilityQuota, struct{}{})
	reg.Handle(CapabilityQuota, "Quota/get", a.quotaGet)
	reg.Handle(CapabilityQuota, "Quota/changes", a.quotaChanges)
	reg.Handle(CapabilityQuota, "Quota/query", a.quotaQuery)
	reg.Handle(CapabilityQuota, "Quota/queryChanges", a.quotaQueryChanges)
}

// quotaObject is a Quota (RFC 9425 §4.1).
type quotaObject struct {
	ID           string   `json:"id"`
	ResourceType string   `json:"resourceType"`
	Used         int64    `json:"used"`
	HardLimit    int64    `json:"hardLimit"`
	Scope        string   `json:"scope"`
	Name         string   `json:"name"`
	Types        []string `json:"types"`
	Description  string   `json:"description"`
}

var quotaProperties = []string{"id", "resourceType", "used", "hardLimit", "scope", "name", "types", "description"}

// quotas lists the account's Quotas, by id.
func (a *API) quotas(ctx context.Context, ac *acct) ([]quotaObject, error) {
	root, err := ac.user.Quota(ctx)
	if err != nil {
		return nil, fmt.Errorf("jmap: %w", err)
	}
	u := root.Usage
	var out []quotaObject
	if l := u.Limits.Get(store.QuotaMessages); l >= 0 {
		out = append(out, quotaObject{ID: "Qcount", ResourceType: "count", Used: u.Messages, HardLimit: int64(l), Scope: "account",
			Name: ac.email + " messages", Types: []string{"Mail"}, Description: "how many messages the account may hold"})
	}
	if l := u.Limits.Get(store.QuotaStorage); l >= 0 {
		out = append(out, quotaObject{ID: "Qoctets", ResourceType: "octets", Used: u.Storage, HardLimit: int64(l), Scope: "account",
			Name: ac.email + " storage", Types: []string{"Mail"}, Description: "the total size of the account's messages"})
	}
	return out, nil
}

// quotaState changes whenever a Quota does (usage included).
func quotaState(list []quotaObject) string {
	b, _ := json.Marshal(list)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (a *API) quotaGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args getArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := a.quotas(ctx, ac)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	objects := make(map[string]any, len(list))
	for i, q := range list {
		ids[i] = q.ID
		objects[q.ID] = q
	}
	return answerGet(c, &args, ac, quotaState(list), ids, objects, quotaProperties)
}

func (a *API) quotaChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var args changesArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := a.quotas(ctx, ac)
	if err != nil {
		return nil, err
	}
	return hashChanges(c, ac, &args, quotaState(list))
}

// quotaFilter is Quota/query's FilterCondition (RFC 9425 §4.4.1).
type quotaFilter struct {
	Name         *string  `json:"name"`
	Scope        []string `json:"scope"`
	ResourceType []string `json:"resourceType"`
	Type         []string `json:"type"`
}

func (f *quotaFilter) match(q quotaObject) bool {
	return (f.Name == nil || strings.Contains(strings.ToLower(q.Name), strings.ToLower(*f.Name))) &&
		(f.Scope == nil || slices.Contains(f.Scope, q.Scope)) &&
		(f.ResourceType == nil || slices.Contains(f.ResourceType, q.ResourceType)) &&
		(f.Type == nil || slices.ContainsFunc(f.Type, func(t string) bool { return slices.Contains(q.Types, t) }))
}

func (a *API) quotaQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var args queryArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	var f quotaFilter
	if len(args.Filter) > 0 && string(args.Filter) != "null" {
		if err := decodeStrict(args.Filter, &f); err != nil {
			return nil, jmap.Errorf(jmap.ErrUnsupportedFilter, "a Quota filter is one condition of name, scope, resourceType and type: "+err.Error())
		}
	}
	all, err := a.quotas(ctx, ac)
	if err != nil {
		return nil, err
	}
	list := slices.DeleteFunc(slices.Clone(all), func(q quotaObject) bool { return !f.match(q) })
	for i := len(args.Sort) - 1; i >= 0; i-- {
		s := args.Sort[i]
		sign := 1
		if s.IsAscending != nil && !*s.IsAscending {
			sign = -1
		}
		switch s.Property {
		case "name":
			slices.SortStableFunc(list, func(x, y quotaObject) int { return sign * strings.Compare(x.Name, y.Name) })
		case "used":
			slices.SortStableFunc(list, func(x, y quotaObject) int {
				switch {
				case x.Used < y.Used:
					return -sign
				case x.Used > y.Used:
					return sign
				}
				return 0
			})
		default:
			return nil, jmap.Errorf(jmap.ErrUnsupportedSort, fmt.Sprintf("cannot sort by %q (name, used)", s.Property))
		}
	}
	ids := make([]string, len(list))
	for i, q := range list {
		ids[i] = q.ID
	}
	return page(ac, &args, quotaState(all), ids)
}

func (a *API) quotaQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var args queryChangesArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.personal(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := a.quotas(ctx, ac)
	if err != nil {
		return nil, err
	}
	return unchangedQuery(ac, args.SinceQueryState, quotaState(list))
}
