package mailbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"mailroom/internal/store"
)

// Quotas (RFC 9208) as one user sees them. Every account is one quota
// root, and a mailbox counts against the account that owns it, whoever
// writes to it: a folder another account shared with the user reports
// the owner's root.

// QuotaRoot is the quota root of one account: whose it is, and its usage
// and limits as the store keeps them.
type QuotaRoot struct {
	// Owner is the account the root limits; "" for the user's own.
	Owner string
	Usage store.QuotaUsage
}

// Quota is the user's own quota root.
func (u *User) Quota(ctx context.Context) (QuotaRoot, error) {
	usage, err := u.r.st.QuotaUsage(ctx, u.id)
	if err != nil {
		return QuotaRoot{}, fmt.Errorf("quota of %s: %w", u.email, err)
	}
	return QuotaRoot{Usage: usage}, nil
}

// FolderQuota is the quota root a mailbox counts against. A name in the
// user's own namespace is the user's root even if no such mailbox exists
// yet (RFC 9208 4.1.2: it says where a new mailbox would count); another
// account's folder must be one the user can see.
func (u *User) FolderQuota(ctx context.Context, name string) (QuotaRoot, error) {
	if !reserved(name) {
		return u.Quota(ctx)
	}
	f, err := u.Folder(ctx, name)
	if err != nil {
		return QuotaRoot{}, err
	}
	usage, err := u.r.st.QuotaUsage(ctx, f.mb.AccountID)
	if err != nil {
		return QuotaRoot{}, fmt.Errorf("quota of %s: %w", f.owner, err)
	}
	return QuotaRoot{Owner: f.owner, Usage: usage}, nil
}

// AccountQuota is the quota root of the account with the given address:
// the user's own, any account's for an administrator (admin), and
// otherwise that of an account which shares a folder the user can see
// (whose root GETQUOTAROOT shows them). Any other account's is
// ErrNoPermission.
func (u *User) AccountQuota(ctx context.Context, email string, admin bool) (QuotaRoot, error) {
	email = strings.ToLower(email)
	if email == u.email {
		return u.Quota(ctx)
	}
	acct, err := u.r.st.Account(ctx, email)
	if errors.Is(err, store.ErrInvalid) {
		err = fmt.Errorf("account %q: %w", email, store.ErrNotFound)
	}
	if err != nil {
		if !admin && errors.Is(err, store.ErrNotFound) {
			// Whether an address has an account is not for everyone.
			return QuotaRoot{}, fmt.Errorf("quota of %s: %w", email, ErrNoPermission)
		}
		return QuotaRoot{}, err
	}
	if !admin {
		shared, err := u.r.st.SharedWith(ctx, u.id, u.ids)
		if err != nil {
			return QuotaRoot{}, err
		}
		seen := false
		for _, sm := range shared {
			if sm.Mailbox.AccountID == acct.ID && u.sharedFolder(sm.Mailbox, sm.Owner, sm.OwnerShared, sm.ACL).rights&visible != 0 {
				seen = true
				break
			}
		}
		if !seen {
			return QuotaRoot{}, fmt.Errorf("quota of %s: %w", email, ErrNoPermission)
		}
	}
	usage, err := u.r.st.QuotaUsage(ctx, acct.ID)
	if err != nil {
		return QuotaRoot{}, fmt.Errorf("quota of %s: %w", email, err)
	}
	return QuotaRoot{Owner: acct.Email, Usage: usage}, nil
}

// QuotaWarner writes the warning mails of an account that crossed a
// warning level of its quota (80% or 95%); the store hands each crossing
// out once (store.Quotas.ClaimQuotaWarnings), so a warner may be asked
// more than once. The delivery agent is one.
type QuotaWarner interface {
	WarnQuota(ctx context.Context, acct store.Account)
}

// quotaWarner holds the warner (nil until SetQuotaWarner) and the
// accounts a write of this process took to a warning level: the store
// says so with an EventQuotaLevel, applied before the write's operation
// returns (Barrier), so the User that made the write finds it here and
// warns without reading the usage on every write. An account nobody
// takes stays until one does (at most one entry per account).
type quotaWarner struct {
	p atomic.Pointer[QuotaWarner]

	mu      sync.Mutex
	pending map[int64]bool
}

func (w *quotaWarner) due(accountID int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[int64]bool{}
	}
	w.pending[accountID] = true
}

// take reports whether accountID is due a warning, and forgets it.
func (w *quotaWarner) take(accountID int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.pending[accountID] {
		return false
	}
	delete(w.pending, accountID)
	return true
}

// QuotaWarningDue reports whether a write through the Service took the
// account to a warning level it has not been warned of, and forgets it:
// the delivery agent asks after its own deliveries, so that only those
// cost a claim (store.Quotas.ClaimQuotaWarnings).
func (r *Service) QuotaWarningDue(accountID int64) bool { return r.warner.take(accountID) }

// SetQuotaWarner makes the Service ask w for warning mails when a user's
// APPEND, COPY or MOVE fills an account to a warning level. Call it
// before serving.
func (r *Service) SetQuotaWarner(w QuotaWarner) { r.warner.p.Store(&w) }

// grew is called after a user's write added mail to acct: if the write
// reached a warning level, the warner writes the warning now.
func (r *Service) grew(ctx context.Context, acct store.Account) {
	p := r.warner.p.Load()
	if p == nil || !r.warner.take(acct.ID) {
		return
	}
	(*p).WarnQuota(ctx, acct)
}
