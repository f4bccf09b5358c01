package store

import (
	"context"
	"fmt"

	"mailroom/internal/acl"
)

// DelegationMode is how a delegate may send for the account that granted
// it.
type DelegationMode int

// The modes of a delegation. Their order matters: a stronger mode allows
// everything a weaker one does, so a user named by several grants of one
// owner (as an address and through "@domain") gets the strongest.
const (
	// SendOnBehalf: the owner's address may be in From: only with the
	// delegate's own address in Sender: (RFC 5322 3.6.2), so readers see
	// "delegate on behalf of owner".
	SendOnBehalf DelegationMode = 1
	// SendAs: the delegate may put the owner's addresses in From: with
	// nothing showing that someone else sent it.
	SendAs DelegationMode = 2
)

// String is the mode's name on the command line and in forms.
func (m DelegationMode) String() string {
	switch m {
	case SendAs:
		return "send-as"
	case SendOnBehalf:
		return "on-behalf"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseDelegationMode reads a mode's name ("send-as", "on-behalf"; also
// "send-on-behalf").
func ParseDelegationMode(s string) (DelegationMode, error) {
	switch s {
	case "send-as":
		return SendAs, nil
	case "on-behalf", "send-on-behalf":
		return SendOnBehalf, nil
	}
	return 0, fmt.Errorf("%w: delegation mode %q (want send-as or on-behalf)", ErrInvalid, s)
}

// MaxDelegations bounds the grants of one owner: a team's worth, small
// enough that listing them is a glance. More is ErrInvalid.
const MaxDelegations = 1000

// SentCopySetting is the per-account setting (registry: settings.go) that
// says where a copy of what a delegate sends as the account is kept:
// SentCopyDelegate (the delegate's own Sent only, which is what their
// mail program or the webmail keeps anyway) or SentCopyBoth (also the
// account's Sent, so the owner sees what went out in their name, like
// Exchange's MessageCopyForSentAsEnabled). A setting of the owner rather
// than of each grant: it is about the owner's own Sent folder.
const (
	SentCopySetting  = "delegation.sent_copy"
	SentCopyDelegate = "delegate"
	SentCopyBoth     = "both"
)

// Delegation is one grant: an owner lets a grantee send mail as it.
type Delegation struct {
	OwnerID int64
	Owner   string // the owner's address
	// Grantee is an account's address or "@domain" (every account of the
	// domain), in canonical form (acl.Canonical).
	Grantee string
	Mode    DelegationMode
}

// Delegations keeps who may send as whom. Sending as someone is a grant
// to named people: a grantee is an account or every account of a domain,
// never "anyone" or "authenticated" (a server's every user sending as the
// CEO would be a mistake, not a policy). Grants as owner go with the
// account; a grant naming an account or a domain goes when that account
// or domain is deleted, so a new account with the same address does not
// inherit it.
//
// Whether a message may carry an address is the business of submission
// and the webmail; the store only keeps the grants.
type Delegations interface {
	// GrantDelegation lets grantee send as the owner in mode, replacing
	// the mode of an existing grant. The grantee must be canonical
	// (acl.Canonical) and name an account or a domain that exists
	// (ErrNotFound) other than the owner itself (ErrInvalid); "anyone",
	// "authenticated" and an unknown mode are ErrInvalid, and so is a
	// grant that would make the owner's grants more than MaxDelegations.
	GrantDelegation(ctx context.Context, ownerID int64, grantee string, mode DelegationMode) error
	// RevokeDelegation removes a grant (ErrNotFound: there is none).
	RevokeDelegation(ctx context.Context, ownerID int64, grantee string) error
	// Delegations returns the owner's grants, sorted by grantee.
	Delegations(ctx context.Context, ownerID int64) ([]Delegation, error)
	// DelegatedTo returns what the account with this id and address may
	// send as: one entry per owner, found through every identifier that
	// names the account (acl.IdentifiersOf), with the strongest mode
	// granted and Grantee the address; sorted by owner.
	DelegatedTo(ctx context.Context, accountID int64, email string) ([]Delegation, error)
}

// CheckDelegation checks a grant's grantee and mode before a backend
// stores it; the grantee's kind tells which table to check it exists in.
func CheckDelegation(grantee string, mode DelegationMode) (acl.Kind, error) {
	kind, err := CheckACLIdentifier(grantee)
	if err != nil {
		return 0, err
	}
	if kind != acl.KindAccount && kind != acl.KindDomain {
		return 0, fmt.Errorf("%w: sending as someone is granted to an address or an @domain, not to %q", ErrInvalid, grantee)
	}
	if mode != SendAs && mode != SendOnBehalf {
		return 0, fmt.Errorf("%w: unknown delegation mode %d", ErrInvalid, int(mode))
	}
	return kind, nil
}

// MergeDelegations folds the grants one account gets through several
// identifiers into one per owner, keeping the strongest mode, with
// Grantee set to the account's address. rows must be sorted by owner.
func MergeDelegations(email string, rows []Delegation) []Delegation {
	var out []Delegation
	for _, d := range rows {
		d.Grantee = email
		if n := len(out); n > 0 && out[n-1].OwnerID == d.OwnerID {
			out[n-1].Mode = max(out[n-1].Mode, d.Mode)
			continue
		}
		out = append(out, d)
	}
	return out
}
