package imap

import (
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/store"
)

// QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA.
//
// Every account is one quota root: its own mailboxes have the root ""
// for their owner; the root of another account is "#user/<email>", which
// only admins may name (and, later, the users of a folder another account
// shares: a mailbox counts against the account that owns it). STORAGE is
// reported in units of 1024 octets, rounded up, the usage as the store
// keeps it exactly; MESSAGE in messages. A resource without a limit is
// not listed; a root with no limit at all has no QUOTA response.

// userRootPrefix starts the quota root of a named account.
const userRootPrefix = "#user/"

// quotaRoot resolves a quota root name to the account it limits. Only an
// admin may name another account's root.
func (s *session) quotaRoot(root string) (store.Account, error) {
	own := store.Account{ID: s.principal.AccountID, Email: s.principal.Email}
	if root == "" {
		return own, nil
	}
	email, ok := strings.CutPrefix(root, userRootPrefix)
	if !ok || email == "" {
		return store.Account{}, no("NONEXISTENT", "no such quota root; yours is \"\", another account's is \"#user/<address>\"")
	}
	if strings.EqualFold(email, s.principal.Email) {
		return own, nil
	}
	admin, err := s.isAdmin()
	if err != nil {
		return store.Account{}, err
	}
	if !admin {
		return store.Account{}, no("NOPERM", "only administrators may see the quota of another account")
	}
	acct, err := s.srv.opts.Store.Account(s.ctx, email)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return store.Account{}, no("NONEXISTENT", "no such quota root: no account %s", email)
	}
	return acct, err
}

func (s *session) isAdmin() (bool, error) {
	st, err := s.srv.opts.Store.Settings(s.ctx, s.principal.AccountID)
	if err != nil {
		return false, err
	}
	return st.Bool("admin"), nil
}

// rootName is how the session names acct's quota root.
func (s *session) rootName(acct store.Account) string {
	if acct.ID == s.principal.AccountID {
		return ""
	}
	return userRootPrefix + acct.Email
}

// kib is a number of octets in units of 1024, rounded up (RFC 9208 5.1).
func kib(n int64) uint64 { return uint64((n + 1023) / 1024) }

// writeQuota writes "* QUOTA root (...)" for the limited resources; none
// if nothing is limited.
func (s *session) writeQuota(root string, u store.QuotaUsage) {
	var items []string
	if l := u.Limits.Storage; l >= 0 {
		items = append(items, fmt.Sprintf("STORAGE %d %d", kib(u.Storage), kib(int64(l))))
	}
	if l := u.Limits.Messages; l >= 0 {
		items = append(items, fmt.Sprintf("MESSAGE %d %d", u.Messages, int64(l)))
	}
	if len(items) == 0 {
		return
	}
	s.enc.Raw("* QUOTA ").AString(root).Raw(" (" + strings.Join(items, " ") + ")").CRLF()
}

func limited(u store.QuotaUsage) bool { return u.Limits.Storage >= 0 || u.Limits.Messages >= 0 }

func cmdGetQuota(s *session, tag string, _ bool) error {
	root, err := s.dec.ReadGetQuota()
	if err != nil {
		return err
	}
	acct, err := s.quotaRoot(root)
	if err != nil {
		return err
	}
	u, err := s.srv.opts.Store.QuotaUsage(s.ctx, acct.ID)
	if err != nil {
		return err
	}
	s.writeQuota(s.rootName(acct), u)
	if !limited(u) {
		return s.ok(tag, "", "GETQUOTA completed: no limits")
	}
	return s.ok(tag, "", "GETQUOTA completed")
}

func cmdGetQuotaRoot(s *session, tag string, _ bool) error {
	arg, err := s.dec.ReadMailboxArg()
	if err != nil {
		return err
	}
	name, err := s.fromWire(arg)
	if err != nil {
		return err
	}
	mb, err := s.srv.opts.Store.Mailbox(s.ctx, s.principal.AccountID, name)
	if err != nil {
		return storeError(err, name)
	}
	// The mailbox's owner's root (today always the user's own).
	owner := store.Account{ID: mb.AccountID, Email: s.principal.Email}
	u, err := s.srv.opts.Store.QuotaUsage(s.ctx, owner.ID)
	if err != nil {
		return err
	}
	s.enc.Raw("* QUOTAROOT ").Mailbox(name)
	if limited(u) {
		s.enc.SP().AString(s.rootName(owner))
	}
	s.enc.CRLF()
	s.writeQuota(s.rootName(owner), u)
	return s.ok(tag, "", "GETQUOTAROOT completed")
}

func cmdSetQuota(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadSetQuota()
	if err != nil {
		return err
	}
	admin, err := s.isAdmin()
	if err != nil {
		return err
	}
	if !admin {
		return no("NOPERM", "only administrators may set quotas")
	}
	acct, err := s.quotaRoot(args.Root)
	if err != nil {
		return err
	}
	// Any limit not listed is discarded (RFC 9208 4.1.3): the account
	// then inherits its domain's.
	q := store.QuotaLimits{Storage: store.Inherit, Messages: store.Inherit}
	for _, l := range args.Limits {
		switch l.Resource {
		case string(store.QuotaStorage):
			if l.Limit > store.MaxQuotaLimit/1024 {
				return no("LIMIT", "STORAGE limit %d is too large (at most %d units of 1024 octets)", l.Limit, store.MaxQuotaLimit/1024)
			}
			q.Storage = store.QuotaLimit(l.Limit * 1024)
		case string(store.QuotaMessages):
			if l.Limit > store.MaxQuotaLimit {
				return no("LIMIT", "MESSAGE limit %d is too large", l.Limit)
			}
			q.Messages = store.QuotaLimit(l.Limit)
		default:
			return no("CANNOT", "unsupported resource %s: this server limits STORAGE and MESSAGE", l.Resource)
		}
	}
	if err := s.srv.opts.Store.SetQuotaLimits(s.ctx, store.QuotaScope{AccountID: acct.ID}, q); err != nil {
		return err
	}
	u, err := s.srv.opts.Store.QuotaUsage(s.ctx, acct.ID)
	if err != nil {
		return err
	}
	s.writeQuota(s.rootName(acct), u)
	return s.ok(tag, "", "SETQUOTA completed")
}

// overQuotaText says which limit an append or copy would exceed.
func overQuotaText(err error) string {
	var oq *store.OverQuotaError
	if !errors.As(err, &oq) {
		return "over quota: delete some messages first"
	}
	if oq.Resource == store.QuotaStorage {
		return fmt.Sprintf("over quota: your mailbox may hold %s; delete some messages first", store.FormatOctets(int64(oq.Limit)))
	}
	return fmt.Sprintf("over quota: your mailbox may hold %d messages; delete some first", int64(oq.Limit))
}
