package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Quotas (RFC 9208): every account has a STORAGE limit (the sum of its
// messages' sizes, in octets, as MessageMeta.Size counts them) and a
// MESSAGE limit (how many messages it holds). A limit is set per account,
// per domain (the default of its accounts) and for the whole server (the
// default of every domain); an account or a domain may inherit the level
// above, and any level may be unlimited.
//
// Usage is kept exactly by the backends: every transaction that adds or
// removes messages changes the owner's counters in the same transaction,
// and one that would take an account over a limit fails with an
// *OverQuotaError (ErrOverQuota) before it commits. Mailboxes count
// against the account that owns them, whoever writes into them.

// ErrOverQuota: a delivery, an append or a copy would take an account
// over one of its limits. Nothing was stored. The error is an
// *OverQuotaError, which says whose limit and which one.
var ErrOverQuota = errors.New("over quota")

// QuotaResource names a limited resource, by its RFC 9208 name.
type QuotaResource string

// The resources Mailroom limits.
const (
	QuotaStorage  QuotaResource = "STORAGE" // octets (IMAP reports units of 1024)
	QuotaMessages QuotaResource = "MESSAGE" // messages
)

// QuotaLimit is one limit: a number (0 and up), or Unlimited, or Inherit.
type QuotaLimit int64

const (
	// Unlimited: no limit at this level, whatever the levels above say.
	Unlimited QuotaLimit = -1
	// Inherit: the limit of the level above (the domain's for an
	// account, the server's for a domain). The server level cannot
	// inherit; nothing set there means unlimited.
	Inherit QuotaLimit = -2
)

// MaxQuotaLimit bounds a limit: one that large is unlimited in all but
// name, and staying far below 2^63 keeps every sum of usage exact.
const MaxQuotaLimit = 1 << 60

// String is the limit as the CLI and the web show it: a number (octets
// or messages), "unlimited" or "inherit".
func (l QuotaLimit) String() string {
	switch {
	case l == Unlimited:
		return "unlimited"
	case l == Inherit:
		return "inherit"
	case l < 0:
		return fmt.Sprintf("invalid(%d)", int64(l))
	}
	return strconv.FormatInt(int64(l), 10)
}

// Valid reports whether l is a number in range, Unlimited or Inherit.
func (l QuotaLimit) Valid() bool {
	return l == Unlimited || l == Inherit || (l >= 0 && l <= MaxQuotaLimit)
}

// QuotaLimits are the limits of one level.
type QuotaLimits struct {
	Storage  QuotaLimit // octets
	Messages QuotaLimit
}

// Get returns the limit of resource r.
func (q QuotaLimits) Get(r QuotaResource) QuotaLimit {
	if r == QuotaStorage {
		return q.Storage
	}
	return q.Messages
}

// Check validates limits for a level: inherit is refused where there is
// nothing to inherit from (the server level).
func (q QuotaLimits) Check(canInherit bool) error {
	for _, l := range []QuotaLimit{q.Storage, q.Messages} {
		if !l.Valid() {
			return fmt.Errorf("%w: quota limit %d out of range", ErrInvalid, int64(l))
		}
		if l == Inherit && !canInherit {
			return fmt.Errorf("%w: the server's default quota cannot inherit", ErrInvalid)
		}
	}
	return nil
}

// inherit resolves q against the level above.
func (q QuotaLimits) inherit(above QuotaLimits) QuotaLimits {
	if q.Storage == Inherit {
		q.Storage = above.Storage
	}
	if q.Messages == Inherit {
		q.Messages = above.Messages
	}
	return q
}

// EffectiveQuota resolves an account's limits: its own, where they
// inherit its domain's, where those inherit the server's; whatever still
// inherits is unlimited.
func EffectiveQuota(account, domain, server QuotaLimits) QuotaLimits {
	q := account.inherit(domain).inherit(server)
	return q.inherit(QuotaLimits{Unlimited, Unlimited})
}

// QuotaScope names a level: an account (AccountID), a domain (Domain), or
// the server (neither).
type QuotaScope struct {
	AccountID int64
	Domain    string
}

// QuotaUsage is an account's usage and limits.
type QuotaUsage struct {
	AccountID int64
	Storage   int64 // octets
	Messages  int64
	// Limits are the effective limits (never Inherit).
	Limits QuotaLimits
	// Own are the account's own settings (Inherit where it inherits).
	Own QuotaLimits
}

// Get returns the usage of resource r.
func (u QuotaUsage) Get(r QuotaResource) int64 {
	if r == QuotaStorage {
		return u.Storage
	}
	return u.Messages
}

// Quota warning levels: the percentages of a limit at which the account's
// owner is told (once per crossing; see Quotas.ClaimQuotaWarnings).
var QuotaWarnLevels = []int{80, 95}

// QuotaLevel is the highest warning level usage has reached of limit (0:
// none). An unlimited limit has no level; a limit of 0 is at the top level
// as soon as anything is stored.
func QuotaLevel(usage int64, limit QuotaLimit) int {
	if limit < 0 || usage <= 0 {
		return 0
	}
	level := 0
	for _, p := range QuotaWarnLevels {
		// usage >= limit*p/100, rounded up, without overflowing int64.
		l, pp := int64(limit), int64(p)
		if usage >= l/100*pp+(l%100*pp+99)/100 {
			level = p
		}
	}
	return level
}

// ServerQuota is the server's limits as read: what is not set there
// (Inherit) is unlimited.
func ServerQuota(q QuotaLimits) QuotaLimits {
	return q.inherit(QuotaLimits{Unlimited, Unlimited})
}

// ClaimQuotaLevels decides a claim of warnings (Quotas.ClaimQuotaWarnings)
// from an account's usage and the levels it was last told of: the levels
// to remember now (the current ones: lower re-arms, higher is told) and a
// warning for each resource whose level rose.
func ClaimQuotaLevels(u QuotaUsage, warnedStorage, warnedMessages int) (storage, messages int, warnings []QuotaWarning) {
	storage = QuotaLevel(u.Storage, u.Limits.Storage)
	messages = QuotaLevel(u.Messages, u.Limits.Messages)
	if storage > warnedStorage {
		warnings = append(warnings, QuotaWarning{AccountID: u.AccountID, Resource: QuotaStorage, Level: storage, Usage: u.Storage, Limit: u.Limits.Storage})
	}
	if messages > warnedMessages {
		warnings = append(warnings, QuotaWarning{AccountID: u.AccountID, Resource: QuotaMessages, Level: messages, Usage: u.Messages, Limit: u.Limits.Messages})
	}
	return storage, messages, warnings
}

// WarningDue reports whether usage u has reached a warning level above
// those its owner was warned of (what EventQuotaLevel announces).
func WarningDue(u QuotaUsage, warnedStorage, warnedMessages int) bool {
	return QuotaLevel(u.Storage, u.Limits.Storage) > warnedStorage || QuotaLevel(u.Messages, u.Limits.Messages) > warnedMessages
}

// QuotaExceeded checks an account's usage after a write that changed it
// by the deltas: a resource that grew and is over its limit makes an
// *OverQuotaError (nil: within limits). A write that did not grow a
// resource is never refused, so an account already over (its limit was
// lowered) can still move and delete messages.
func QuotaExceeded(u QuotaUsage, storageDelta, messagesDelta int64) *OverQuotaError {
	for _, c := range []struct {
		r     QuotaResource
		delta int64
	}{{QuotaStorage, storageDelta}, {QuotaMessages, messagesDelta}} {
		lim := u.Limits.Get(c.r)
		if c.delta > 0 && lim >= 0 && u.Get(c.r) > int64(lim) {
			return &OverQuotaError{AccountID: u.AccountID, Resource: c.r, Usage: u.Get(c.r), Limit: lim}
		}
	}
	return nil
}

// QuotaDelta is what one transaction changed of one account's usage: the
// backends' bookkeeping between the writes and the check at their end.
type QuotaDelta struct {
	Storage, Messages int64
	// Added counts the messages the transaction inserted, Exempt those of
	// them delivered to a Target with QuotaExempt: a transaction that
	// added only exempt ones is not refused.
	Added, Exempt int
}

// Enforced reports whether the limits apply to the change.
func (d *QuotaDelta) Enforced() bool { return d.Added > d.Exempt }

// QuotaDeltas are one transaction's usage changes, by account.
type QuotaDeltas map[int64]*QuotaDelta

// Add records n messages of size octets (negative: removed) in
// accountID's usage.
func (q *QuotaDeltas) Add(accountID, size, n int64) {
	if *q == nil {
		*q = QuotaDeltas{}
	}
	d := (*q)[accountID]
	if d == nil {
		d = &QuotaDelta{}
		(*q)[accountID] = d
	}
	d.Storage += size
	d.Messages += n
	if n > 0 {
		d.Added += int(n)
	}
}

// Exempt marks the last message added to accountID as exempt from its
// limits.
func (q QuotaDeltas) Exempt(accountID int64) {
	if d := q[accountID]; d != nil {
		d.Exempt++
	}
}

// Changed lists the accounts whose usage changed, in id order (the order
// in which backends lock their rows).
func (q QuotaDeltas) Changed() []int64 {
	ids := make([]int64, 0, len(q))
	for id, d := range q {
		if d.Storage != 0 || d.Messages != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// QuotaWarning is a level reached that the owner has not been told of yet.
type QuotaWarning struct {
	AccountID int64
	Resource  QuotaResource
	Level     int // a QuotaWarnLevels entry
	Usage     int64
	Limit     QuotaLimit
}

// OverQuotaError is ErrOverQuota with its details: the account whose
// limit a write would exceed, which resource, and by how much.
type OverQuotaError struct {
	AccountID int64
	Email     string
	Resource  QuotaResource
	Usage     int64 // what the usage would have been
	Limit     QuotaLimit
}

func (e *OverQuotaError) Error() string {
	who := e.Email
	if who == "" {
		who = "account " + strconv.FormatInt(e.AccountID, 10)
	}
	return fmt.Sprintf("%s: %s %s would be %d, limit %d", ErrOverQuota, who, strings.ToLower(string(e.Resource)), e.Usage, e.Limit)
}

// Unwrap makes errors.Is(err, ErrOverQuota) true.
func (e *OverQuotaError) Unwrap() error { return ErrOverQuota }

// Quotas reads and sets the limits, and hands out warnings. Usage itself
// is kept by the message-changing methods of Messages and Mailboxes.
type Quotas interface {
	// QuotaUsage returns an account's usage and limits.
	QuotaUsage(ctx context.Context, accountID int64) (QuotaUsage, error)
	// QuotaLimits returns the limits set at one level (Inherit where it
	// inherits; the server's are never Inherit).
	QuotaLimits(ctx context.Context, scope QuotaScope) (QuotaLimits, error)
	// SetQuotaLimits sets both limits of one level. Lowering a limit
	// below the usage refuses nothing already stored: the account can
	// only shrink until it is under again.
	SetQuotaLimits(ctx context.Context, scope QuotaScope, limits QuotaLimits) error
	// ClaimQuotaWarnings returns the warning levels the account has
	// reached since it was last told, and records them as told, in one
	// transaction: of two concurrent callers only one gets a warning.
	// Levels the usage has dropped below are re-armed, here and in every
	// transaction that lowers the usage.
	ClaimQuotaWarnings(ctx context.Context, accountID int64) ([]QuotaWarning, error)
}

// ParseQuotaLimit reads a limit as the CLI and the admin pages take it:
// "unlimited", "inherit", or a number; a storage limit may have a unit
// (K, M, G, T, with or without B or iB: powers of 1024), which a message
// count may not. "0" is a limit of zero, not unlimited.
func ParseQuotaLimit(s string, storage bool) (QuotaLimit, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "unlimited", "none":
		return Unlimited, nil
	case "inherit", "default":
		return Inherit, nil
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%w: quota limit %q is negative (unlimited is \"unlimited\")", ErrInvalid, s)
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i == 0 || s == "" {
		return 0, fmt.Errorf("%w: quota limit %q is not a number, unlimited or inherit", ErrInvalid, s)
	}
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	}
	mult := 1.0
	if unit != "" {
		if !storage {
			return 0, fmt.Errorf("%w: a message count has no unit: %q", ErrInvalid, s)
		}
		u := strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
		exp := strings.Index("KMGTP", u)
		switch {
		case u == "":
			// plain octets: "100B"
		case len(u) == 1 && exp >= 0:
			mult = math.Pow(1024, float64(exp+1))
		default:
			return 0, fmt.Errorf("%w: unknown unit in %q (K, M, G, T or P)", ErrInvalid, s)
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%w: quota limit %q is not a number, unlimited or inherit", ErrInvalid, s)
	}
	if mult == 1 && f != math.Trunc(f) {
		return 0, fmt.Errorf("%w: quota limit %q is not a whole number", ErrInvalid, s)
	}
	v := math.Ceil(f * mult)
	if v > MaxQuotaLimit {
		return 0, fmt.Errorf("%w: quota limit %q is too large", ErrInvalid, s)
	}
	return QuotaLimit(v), nil
}

// FormatOctets writes a storage amount for people: 1.5 GiB, 300 KiB.
func FormatOctets(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, exp := float64(n), 0
	for f >= unit && exp < 5 {
		f /= unit
		exp++
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTP"[exp-1]) + "iB"
}
