package imap

import (
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA.
//
// Every account is one quota root: its own mailboxes have the root ""
// for their owner; the root of another account is "#user/<email>", which
// admins may name, and the users of a folder that account shares with
// them: a mailbox counts against the account that owns it. STORAGE is
// reported in units of 1024 octets, rounded up, the usage as the store
// keeps it exactly; MESSAGE in messages. A resource without a limit is
// not listed; a root with no limit at all has no QUOTA response.

// userRootPrefix starts the quota root of a named account.
const userRootPrefix = "#user/"

// quotaRoot resolves a quota root name to the root it names, through
// the mailbox service: the user's own (""), or another account's, which
// admins may name and users of a folder that account shares with them.
func (s *session) quotaRoot(root string) (mailbox.QuotaRoot, error) {
	if root == "" {
		return s.user.Quota(s.ctx)
	}
	email, ok := strings.CutPrefix(root, userRootPrefix)
	if !ok || email == "" {
		return mailbox.QuotaRoot{}, no("NONEXISTENT", "no such quota root; yours is \"\", another account's is \"#user/<address>\"")
	}
	admin, err := s.isAdmin()
	if err != nil {
		return mailbox.QuotaRoot{}, err
	}
	q, err := s.user.AccountQuota(s.ctx, email, admin)
	if errors.Is(err, mailbox.ErrNoPermission) {
		return mailbox.QuotaRoot{}, no("NOPERM", "you may not see the quota of %s", email)
	}
	if errors.Is(err, store.ErrNotFound) {
		return mailbox.QuotaRoot{}, no("NONEXISTENT", "no such quota root: no account %s", email)
	}
	return q, err
}

func (s *session) isAdmin() (bool, error) {
	st, err := s.srv.opts.Store.Settings(s.ctx, s.principal.AccountID)
	if err != nil {
		return false, err
	}
	return st.Bool("admin"), nil
}

// rootName is how the session names a quota root.
func rootName(q mailbox.QuotaRoot) string {
	if q.Owner == "" {
		return ""
	}
	return userRootPrefix + q.Owner
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
	q, err := s.quotaRoot(root)
	if err != nil {
		return err
	}
	s.writeQuota(rootName(q), q.Usage)
	if !limited(q.Usage) {
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
	// The root of the account that owns the mailbox: the user's own,
	// or the owner's for a folder shared with the user.
	q, err := s.user.FolderQuota(s.ctx, name)
	if err != nil {
		return storeError(err, name)
	}
	s.enc.Raw("* QUOTAROOT ").Mailbox(name)
	if limited(q.Usage) {
		s.enc.SP().AString(rootName(q))
	}
	s.enc.CRLF()
	s.writeQuota(rootName(q), q.Usage)
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
	q, err := s.quotaRoot(args.Root)
	if err != nil {
		return err
	}
	// Any limit not listed is discarded (RFC 9208 4.1.3): the account
	// then inherits its domain's.
	limits := store.QuotaLimits{Storage: store.Inherit, Messages: store.Inherit}
	for _, l := range args.Limits {
		switch l.Resource {
		case string(store.QuotaStorage):
			if l.Limit > store.MaxQuotaLimit/1024 {
				return no("LIMIT", "STORAGE limit %d is too large (at most %d units of 1024 octets)", l.Limit, store.MaxQuotaLimit/1024)
			}
			limits.Storage = store.QuotaLimit(l.Limit * 1024)
		case string(store.QuotaMessages):
			if l.Limit > store.MaxQuotaLimit {
				return no("LIMIT", "MESSAGE limit %d is too large", l.Limit)
			}
			limits.Messages = store.QuotaLimit(l.Limit)
		default:
			return no("CANNOT", "unsupported resource %s: this server limits STORAGE and MESSAGE", l.Resource)
		}
	}
	if err := s.srv.opts.Store.SetQuotaLimits(s.ctx, store.QuotaScope{AccountID: q.Usage.AccountID}, limits); err != nil {
		return err
	}
	u, err := s.srv.opts.Store.QuotaUsage(s.ctx, q.Usage.AccountID)
	if err != nil {
		return err
	}
	s.writeQuota(rootName(q), u)
	return s.ok(tag, "", "SETQUOTA completed")
}

// overQuotaText says which limit an append or copy would exceed, and
// whose: a folder shared with the user counts against its owner.
func (s *session) overQuotaText(err error) string {
	var oq *store.OverQuotaError
	if !errors.As(err, &oq) {
		return "over quota: delete some messages first"
	}
	whose, then := "your mailbox", "delete some messages first"
	if oq.Email != "" && !strings.EqualFold(oq.Email, s.principal.Email) {
		whose, then = "the mailbox of "+oq.Email, "its owner must make room first"
	}
	if oq.Resource == store.QuotaStorage {
		return fmt.Sprintf("over quota: %s may hold %s; %s", whose, store.FormatOctets(int64(oq.Limit)), then)
	}
	return fmt.Sprintf("over quota: %s may hold %d messages; %s", whose, int64(oq.Limit), then)
}
