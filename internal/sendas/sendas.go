// Package sendas decides which addresses an account may send as: the one
// rule SMTP submission (internal/smtp), the webmail and JMAP's Identity and
// EmailSubmission apply, kept here so no protocol imports another.
//
// An account may use its own addresses: its address, a plus-address of
// it, an alias that delivers to it. With a delegation (store.Delegations)
// it may also use the addresses of an account that granted it the right,
// resolved the same way.
package sendas

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/address"
	"mailroom/internal/store"
)

// Directory is what the decision needs of the store.
type Directory interface {
	LookupAddress(ctx context.Context, addr string) (store.AddressInfo, error)
}

// Right is what an account may do with one address.
type Right struct {
	Own bool // one of the account's own addresses
	// Grant, if its Mode is set, is the delegation that lets the account
	// use the address, one of the owner's (the strongest if several).
	Grant store.Delegation
}

// Allowed reports whether the account may use the address at all.
func (r Right) Allowed() bool { return r.Own || r.Grant.Mode != 0 }

// Check resolves a to the accounts it is an address of (itself, the base
// of a plus-address with separator plusSep, the targets of an alias) and
// finds the account me's own or a granted one among them. grants returns
// the delegations granted to me; it is called only when a is not me's own
// address, so a caller can read them lazily.
func Check(ctx context.Context, dir Directory, plusSep, me string, a address.Address, grants func() ([]store.Delegation, error)) (Right, error) {
	me = strings.ToLower(me)
	names := []string{a.String()}
	if plusSep != "" {
		if base, _, ok := strings.Cut(a.Local, plusSep); ok {
			names = append(names, address.Address{Local: base, Domain: a.Domain}.String())
		}
	}
	if slices.Contains(names, me) {
		return Right{Own: true}, nil
	}
	info, err := dir.LookupAddress(ctx, a.String())
	if err != nil {
		return Right{}, fmt.Errorf("look up %s: %w", a, err)
	}
	if slices.Contains(info.AliasTargets, me) {
		return Right{Own: true}, nil
	}
	names = append(names, info.AliasTargets...)
	gs, err := grants()
	if err != nil {
		return Right{}, err
	}
	var r Right
	for _, g := range gs {
		if g.Mode > r.Grant.Mode && slices.Contains(names, g.Owner) {
			r.Grant = g
		}
	}
	return r, nil
}
