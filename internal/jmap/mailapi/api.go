// Package mailapi is JMAP Mail (RFC 8621) on Mailroom's mailbox service:
// Mailbox, Thread, Email, SearchSnippet and the rest, registered with a
// jmap.Registry. It reaches mail only through the mailbox service (every
// change as IMAP makes it, so every client sees it at once) and the store
// interface, never SQL.
//
// The model is IMAP's, as the store keeps it:
//
//   - A JMAP account is a store account the user reaches: their own
//     (personal), and each account that shares folders with them, whose
//     visible folders are its Mailboxes (isPersonal false).
//   - An Email is one message: its id is the per-account message ID that
//     POP3's UIDL also shows (kept across moves, new for a copy), so an
//     Email is in exactly one Mailbox (maxMailboxesPerEmail 1, which RFC
//     8621 §1.3.1 allows); a copy made by IMAP is another Email of the
//     same thread.
//   - A Thread is the store's conversation (MessageMeta.ThreadID).
//   - Messages with \Deleted are not shown, as RFC 8621 §4.1.1 asks.
//   - States are the account's modseq (see store.AccountChanges), so a
//     /changes call returns exactly what changed since.
package mailapi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"mailroom/internal/jmap"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// The capabilities this package implements.
const (
	CapabilityMail = "urn:ietf:params:jmap:mail"
)

// Options configure an API.
type Options struct {
	Store     store.Store
	Mailboxes *mailbox.Service
	Logger    *slog.Logger
	// Submit is what EmailSubmission sends with (submission.go).
	Submit SubmitOptions
}

// API is JMAP Mail for one server.
type API struct {
	st      store.Store
	svc     *mailbox.Service
	log     *slog.Logger
	submit  SubmitOptions
	plusSep string
}

// New returns the API.
func New(opts Options) *API {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{st: opts.Store, svc: opts.Mailboxes, log: log, submit: opts.Submit, plusSep: opts.Submit.PlusSeparator}
}

// Register adds the capabilities and methods to reg.
func (a *API) Register(reg *jmap.Registry) {
	reg.Capability(CapabilityMail, struct{}{})
	reg.Capability(CapabilitySearch, struct{}{})
	reg.Handle(CapabilityMail, "Mailbox/get", a.mailboxGet)
	reg.Handle(CapabilityMail, "Mailbox/query", a.mailboxQuery)
	reg.Handle(CapabilityMail, "Mailbox/set", a.mailboxSet)
	reg.Handle(CapabilityMail, "Thread/get", a.threadGet)
	reg.Handle(CapabilityMail, "Email/get", a.emailGet)
	reg.Handle(CapabilityMail, "Email/query", a.emailQuery)
	reg.Handle(CapabilityMail, "Email/set", a.emailSet)
	reg.Handle(CapabilityMail, "Mailbox/changes", a.mailboxChangesMethod)
	reg.Handle(CapabilityMail, "Mailbox/queryChanges", a.mailboxQueryChanges)
	reg.Handle(CapabilityMail, "Email/changes", a.emailChangesMethod)
	reg.Handle(CapabilityMail, "Email/queryChanges", a.emailQueryChanges)
	reg.Handle(CapabilityMail, "Thread/changes", a.threadChangesMethod)
	reg.Handle(jmap.CapabilityCore, "Blob/copy", a.blobCopy)
	a.registerImport(reg)
	a.registerSubmission(reg)
	a.registerVacation(reg)
	a.registerQuota(reg)
	a.registerSuggest(reg)
}

// Ids. Every id names its kind with a letter, then a store number, so an
// id of one kind is never taken for another.
func accountID(id int64) string { return "A" + strconv.FormatInt(id, 10) }
func mailboxID(id int64) string { return "F" + strconv.FormatInt(id, 10) }

// MailboxID is the JMAP id of the store's mailbox id, for a page that
// names a Mailbox to the webmail's script (its Inbox).
func MailboxID(id int64) string { return mailboxID(id) }
func emailID(id int64) string   { return "M" + strconv.FormatInt(id, 10) }
func threadID(id int64) string  { return "T" + strconv.FormatInt(id, 10) }
func blobID(id int64) string    { return "B" + strconv.FormatInt(id, 10) }

// parseID reads an id of the given kind; false for anything else.
func parseID(kind byte, s string) (int64, bool) {
	if len(s) < 2 || s[0] != kind || s[1] == '0' || s[1] == '-' || s[1] == '+' {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	return n, err == nil && n > 0
}

// acct is one JMAP account as one user reaches it in one method call.
type acct struct {
	user     *mailbox.User
	id       int64 // the store account
	jid      string
	email    string
	personal bool
	folders  []mailbox.Folder // the ones the user can see, by name
	byID     map[int64]int    // folder index by mailbox id
}

// folder returns the folder of a Mailbox id, if the user can see it.
func (ac *acct) folder(id string) (mailbox.Folder, bool) {
	n, ok := parseID('F', id)
	if !ok {
		return mailbox.Folder{}, false
	}
	i, ok := ac.byID[n]
	if !ok {
		return mailbox.Folder{}, false
	}
	return ac.folders[i], true
}

// ownerName is a folder's name in its owner's account: the user knows a
// shared one under "Other Users/<owner>/" or "Shared/<owner>/".
func ownerName(f mailbox.Folder) string {
	if f.Owner() == "" {
		return f.Name()
	}
	rest := strings.TrimPrefix(f.Name(), f.Namespace())
	if _, after, ok := strings.Cut(rest, store.Delimiter); ok {
		return after
	}
	return rest
}

// accountsKey memoizes accounts for the length of one request.
type accountsKey struct{ user int64 }

// accounts groups the folders the user sees by the account owning them,
// once per request (a call that changes the folders forgets it).
func (a *API) accounts(ctx context.Context, u jmap.User) ([]*acct, error) {
	return jmap.Memo(ctx, accountsKey{u.AccountID}, func() ([]*acct, error) { return a.readAccounts(ctx, u) })
}

// forgetAccounts makes the rest of the request read the folders again.
func forgetAccounts(ctx context.Context, u jmap.User) { jmap.Forget(ctx, accountsKey{u.AccountID}) }

func (a *API) readAccounts(ctx context.Context, u jmap.User) ([]*acct, error) {
	user := a.svc.User(u.AccountID, u.Email)
	folders, err := user.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes of %s: %w", u.Email, err)
	}
	own := &acct{user: user, id: u.AccountID, jid: accountID(u.AccountID), email: u.Email, personal: true, byID: map[int64]int{}}
	out := []*acct{own}
	byOwner := map[int64]*acct{u.AccountID: own}
	for _, f := range folders {
		owner := f.Mailbox().AccountID
		ac := byOwner[owner]
		if ac == nil {
			ac = &acct{user: user, id: owner, jid: accountID(owner), email: f.Owner(), byID: map[int64]int{}}
			byOwner[owner] = ac
			out = append(out, ac)
		}
		ac.byID[f.ID()] = len(ac.folders)
		ac.folders = append(ac.folders, f)
	}
	return out, nil
}

// account finds the account a call names: accountNotFound if the user
// cannot reach it.
func (a *API) account(ctx context.Context, c *jmap.Call, id string) (*acct, error) {
	accounts, err := a.accounts(ctx, c.User)
	if err != nil {
		return nil, err
	}
	for _, ac := range accounts {
		if ac.jid == id {
			return ac, nil
		}
	}
	return nil, jmap.Errorf(jmap.ErrAccountNotFound, fmt.Sprintf("no account %q", id))
}

// Accounts implements jmap.Accounts.
func (a *API) Accounts(ctx context.Context, u jmap.User) ([]jmap.Account, error) {
	accounts, err := a.accounts(ctx, u)
	if err != nil {
		return nil, err
	}
	out := make([]jmap.Account, 0, len(accounts))
	for _, ac := range accounts {
		ja := jmap.Account{
			ID:         ac.jid,
			Name:       ac.email,
			IsPersonal: ac.personal,
			IsReadOnly: !ac.personal && ac.readOnly(),
			Capabilities: map[string]any{
				CapabilityMail: mailAccountCapability{
					MaxMailboxesPerEmail:       1,
					MaxSizeMailboxName:         store.MaxMailboxNameLength,
					MaxSizeAttachmentsPerEmail: 50 << 20,
					EmailQuerySortOptions:      sortOptions,
					MayCreateTopLevelMailbox:   ac.personal,
				},
				CapabilitySearch: struct{}{},
			},
		}
		if ac.personal {
			ja.Primary = []string{CapabilityMail}
			a.personalCapabilities(&ja)
		}
		out = append(out, ja)
	}
	return out, nil
}

// readOnly: the user can change nothing in any of the account's folders.
func (ac *acct) readOnly() bool {
	for _, f := range ac.folders {
		if !f.ReadOnly() {
			return false
		}
	}
	return true
}

// mailAccountCapability is urn:ietf:params:jmap:mail in an account (RFC 8621 §1.3.1).
type mailAccountCapability struct {
	MaxMailboxesPerEmail       int      `json:"maxMailboxesPerEmail"`
	MaxMailboxDepth            *int     `json:"maxMailboxDepth"`
	MaxSizeMailboxName         int      `json:"maxSizeMailboxName"`
	MaxSizeAttachmentsPerEmail int64    `json:"maxSizeAttachmentsPerEmail"`
	EmailQuerySortOptions      []string `json:"emailQuerySortOptions"`
	MayCreateTopLevelMailbox   bool     `json:"mayCreateTopLevelMailbox"`
}
