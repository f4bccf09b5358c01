// Package store defines Mailroom's mail store: the one interface through which
// every protocol (SMTP delivery, POP3, IMAP, the web) reaches accounts,
// mailboxes and messages, whatever backend holds them.
//
// The embedded backend is internal/store/sqlitestore (SQLite metadata, message
// bodies as immutable files); a PostgreSQL backend implements the same
// interface for multi-node setups. Protocol code must only ever see Store.
//
// The model follows IMAP, the most demanding client protocol: every mailbox
// has a UIDVALIDITY, strictly increasing UIDs, and a MODSEQ bumped by every
// change (RFC 7162), with an expunge history for QRESYNC. Every change is
// published on the change feed (see Feed) once it is durable.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/mime"
)

// Errors returned by every backend. Callers test them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrUnknownDomain = errors.New("unknown domain")
	ErrInvalid       = errors.New("invalid argument")
	ErrHasChildren   = errors.New("mailbox has children")
	ErrProtected     = errors.New("operation not allowed on this mailbox")
	ErrNotEmpty      = errors.New("not empty")
	ErrModified      = errors.New("modified since the given modseq")
	ErrClosed        = errors.New("store closed")
	// ErrInsufficientStorage: a write failed because the disk (or the
	// service user's disk quota) is full. Nothing was stored, and the same
	// request can succeed once space is freed, so protocols answer it as a
	// temporary failure that names the cause (SMTP 452 4.3.1, IMAP NO
	// [UNAVAILABLE]) rather than as an internal error.
	ErrInsufficientStorage = errors.New("insufficient storage")
)

// Store is the whole mail store. It is safe for concurrent use.
type Store interface {
	Directory
	AppPasswordStore
	AccessTokens
	VacationLog
	DMARCLog
	Mailboxes
	ACLs
	Delegations
	Metadata
	Messages
	Queue
	JunkStore
	WebSessions
	SharedFiles
	Leases
	LoginCounts
	Threads
	TextIndexer
	Quotas
	PrivateSeen
	SieveScripts
	FetchSources
	AccountChanges
	Uploads
	EmailSubmissions
	Contacts
	// Subscribe returns a subscription to the change feed of one account
	// (accountID 0: every account). Close it when done.
	Subscribe(accountID int64) *Subscription
	// Ping checks that the store answers (a load balancer's health check
	// asks through it): nil, or why not.
	Ping(ctx context.Context) error
	// Close stops background work and closes the store; pending writes finish first.
	Close() error
}

// AddressInfo is what LookupAddress found.
type AddressInfo struct {
	LocalDomain  bool     // the address's domain is one of ours
	Account      *Account // the address is this account
	AliasTargets []string // the address is an alias with these targets
}

// Domain is a local mail domain.
type Domain struct {
	ID      int64
	Name    string
	Created time.Time
}

// Account is a mail account (one login, one set of mailboxes).
type Account struct {
	ID      int64
	Email   string
	Created time.Time
	// Shared marks a shared mailbox: an account that belongs to a domain
	// rather than a person (support@, info@). Nobody logs in as it; its
	// members reach its folders under "Shared/" with the rights its
	// mailboxes' access control lists give them.
	Shared bool
}

// Alias maps an address in a local domain to one or more targets: local
// accounts, other local aliases or external addresses.
type Alias struct {
	Address string
	Targets []string
}

// Directory holds domains, accounts, aliases and per-account settings.
type Directory interface {
	CreateDomain(ctx context.Context, name string) (Domain, error)
	// DeleteDomain refuses (ErrNotEmpty) while accounts or aliases use the domain.
	DeleteDomain(ctx context.Context, name string) error
	Domains(ctx context.Context) ([]Domain, error)
	Domain(ctx context.Context, name string) (Domain, error)

	// CreateAccount creates the account and its default mailboxes (INBOX and
	// the special-use folders). The domain must exist (ErrUnknownDomain).
	CreateAccount(ctx context.Context, email string, cred auth.Credentials) (Account, error)
	// CreateSharedAccount creates a shared mailbox (Account.Shared) with
	// the same default mailboxes and no password: LookupCredentials
	// never finds it, so no one can log in as it.
	CreateSharedAccount(ctx context.Context, email string) (Account, error)
	// DeleteAccount removes the account, its mailboxes and its messages.
	DeleteAccount(ctx context.Context, email string) error
	Accounts(ctx context.Context) ([]Account, error)
	Account(ctx context.Context, email string) (Account, error)
	SetCredentials(ctx context.Context, accountID int64, cred auth.Credentials) error
	// Credentials returns the account's stored credentials (for SCRAM).
	Credentials(ctx context.Context, accountID int64) (auth.Credentials, error)
	// LookupCredentials implements auth.CredentialLookup.
	LookupCredentials(ctx context.Context, username string) (auth.Principal, []string, error)

	// Settings returns every setting of the account, defaults included.
	Settings(ctx context.Context, accountID int64) (Settings, error)
	// SetSettings validates and stores settings (see SettingDefs).
	SetSettings(ctx context.Context, accountID int64, values map[string]string) error

	// LookupAddress says what a local address is: an account, an alias, or
	// nothing. An alias "@domain" is the domain's catch-all.
	LookupAddress(ctx context.Context, address string) (AddressInfo, error)
	// AccountsWithSetting lists the accounts whose setting key has value.
	AccountsWithSetting(ctx context.Context, key, value string) ([]Account, error)

	// AddAlias creates an alias or adds targets to an existing one. The
	// alias "@domain" is the catch-all of domain.
	AddAlias(ctx context.Context, alias string, targets []string) error
	DeleteAlias(ctx context.Context, alias string) error
	Aliases(ctx context.Context) ([]Alias, error)
}

// SpecialUse is a mailbox's RFC 6154 special-use attribute, "" for none.
type SpecialUse string

// The special uses every account gets a mailbox for.
const (
	SpecialSent    SpecialUse = `\Sent`
	SpecialDrafts  SpecialUse = `\Drafts`
	SpecialTrash   SpecialUse = `\Trash`
	SpecialJunk    SpecialUse = `\Junk`
	SpecialArchive SpecialUse = `\Archive`
	SpecialAll     SpecialUse = `\All`
	SpecialFlagged SpecialUse = `\Flagged`
)

// DefaultMailboxes are created with every account, in this order.
var DefaultMailboxes = []struct {
	Name string
	Use  SpecialUse
}{
	{"INBOX", ""},
	{"Drafts", SpecialDrafts},
	{"Sent", SpecialSent},
	{"Archive", SpecialArchive},
	{"Junk", SpecialJunk},
	{"Trash", SpecialTrash},
}

// Delimiter separates the levels of the mailbox hierarchy.
const Delimiter = "/"

// Mailbox is one folder with its IMAP state.
type Mailbox struct {
	// ID is never reused, not even after the mailbox is deleted: with the
	// UID (never reused within a mailbox) it names one message's content
	// for good, which the mailbox service's caches rely on.
	ID            int64
	AccountID     int64
	Name          string // full name, levels separated by Delimiter; "INBOX" is always upper case
	SpecialUse    SpecialUse
	Subscribed    bool
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	// SharedSeen: everyone reads and sets the messages' own \Seen; when
	// false (the default) every account but the owner has its own (see
	// PrivateSeen).
	SharedSeen bool
	// CreatedModSeq and MetaModSeq are account modseqs (see
	// AccountChanges): when the mailbox was created, and when its record
	// last changed (name, subscription, ACL, shared \Seen mode). Both are 0
	// for mailboxes older than the account counter.
	CreatedModSeq, MetaModSeq uint64
	// Messages, Unseen and Size are counted on request (MailboxStatus).
}

// MailboxStatus is what IMAP STATUS reports.
type MailboxStatus struct {
	Mailbox
	Messages int
	Unseen   int
	Deleted  int
	Size     int64
}

// Mailboxes manages the folder hierarchy.
type Mailboxes interface {
	// MailboxList returns every mailbox of the account, sorted by name.
	MailboxList(ctx context.Context, accountID int64) ([]Mailbox, error)
	// Mailbox returns one mailbox by name ("inbox" in any case is INBOX).
	Mailbox(ctx context.Context, accountID int64, name string) (Mailbox, error)
	MailboxStatus(ctx context.Context, mailboxID int64) (MailboxStatus, error)
	// CreateMailbox creates name and any missing parent levels.
	CreateMailbox(ctx context.Context, accountID int64, name string, use SpecialUse) (Mailbox, error)
	// RenameMailbox renames a mailbox and its children. Renaming INBOX moves
	// its messages to the new mailbox and leaves INBOX empty (RFC 3501 6.3.5).
	RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error
	// DeleteMailbox deletes a mailbox and its messages. It refuses INBOX
	// (ErrProtected) and mailboxes with children (ErrHasChildren).
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error
	// Subscriptions returns the subscribed names, existing or not (IMAP LSUB).
	Subscriptions(ctx context.Context, accountID int64) ([]string, error)
}

// MessageMeta is the hot per-message state: what an IMAP session keeps in
// memory for a selected mailbox. Keep it small.
type MessageMeta struct {
	UID          uint32
	Flags        Flags
	ModSeq       uint64
	ID           int64 // stable per account, kept across moves, never reused: POP3 UIDL
	ContentID    int64 // shared by copies of the same message: IMAP EMAILID
	ThreadID     int64 // the conversation, per account (see Threads): IMAP THREADID
	Size         int64
	InternalDate int64 // Unix seconds
	// Keywords are sorted. The slice may be shared between messages with
	// the same keywords: treat it as read-only.
	Keywords []string
}

// Target is one mailbox a staged message is delivered into.
type Target struct {
	MailboxID int64
	Flags     Flags
	Keywords  []string
	// HeaderPrefix is prepended to this copy only (e.g. Delivered-To for one
	// recipient), so one stored body serves every recipient. CRLF-terminated
	// header lines of trace and status fields (Return-Path, Delivered-To,
	// Received, X-…), never From, To, Cc, Bcc or Subject: searches answer
	// those from the shared content alone (CheckTargets refuses them).
	HeaderPrefix []byte
	// InternalDate, if zero, is the delivery time.
	InternalDate time.Time
	// Account is the account appending (0: a delivery, or as the owner):
	// where its \Seen is private (Mailbox.PrivateSeenFor), \Seen in
	// Flags is its own and the message is stored without it.
	Account int64
	// QuotaExempt delivers even past the account's quota (the copy still
	// counts in its usage). Only for what must never be refused: the
	// server's own quota warnings, and the like. Keep it rare: every user
	// is documented in docs/operations.md.
	QuotaExempt bool
}

// Delivery is one staged message and the mailboxes it goes into.
type Delivery struct {
	Msg     Staged
	Targets []Target
}

// Delivered reports where a message went.
type Delivered struct {
	MailboxID   int64
	UIDValidity uint32
	UID         uint32
	ModSeq      uint64
	ID          int64
}

// Staged is a message body written durably to the body store and scanned,
// not yet in any mailbox. Deliver it, or Discard it.
type Staged interface {
	Size() int64
	Structure() *mime.Message
	// Open reads the staged bytes again (to sign them, for instance).
	Open() (io.ReadCloser, error)
	// Discard removes the body if it was never delivered. Safe after Deliver.
	Discard() error
}

// StoreOp is how UpdateFlags changes flags.
type StoreOp int

// The STORE operations.
const (
	FlagsReplace StoreOp = iota
	FlagsAdd
	FlagsRemove
)

// FlagUpdate is one STORE request.
type FlagUpdate struct {
	UIDs     []uint32
	Op       StoreOp
	Flags    Flags
	Keywords []string
	// UnchangedSince, if non-zero, skips messages whose modseq is greater
	// (RFC 7162 UNCHANGEDSINCE); they are reported in FlagResult.Modified.
	UnchangedSince uint64
	// Account is the account making the change (0: as the owner). Where
	// its \Seen is private (Mailbox.PrivateSeenFor), \Seen is read and
	// changed in its own state, the other flags on the message, and
	// FlagResult reports the messages as the account sees them.
	Account int64
}

// FlagResult reports a STORE.
type FlagResult struct {
	Updated  []MessageMeta // the messages whose flags changed, with their new state
	Modified []uint32      // UIDs skipped by UnchangedSince
}

// Keep says which flags and keywords a copied or moved message carries
// into its new mailbox: a user without the right to set a flag there
// gets the message without it (RFC 4314 4), in the same transaction, so
// no other user ever sees it with the flag.
type Keep struct {
	Flags    Flags // the system flags kept
	Keywords bool  // whether keywords are kept
	// Account is the account copying (0: as the owner): the copies get
	// \Seen as it sees the source message, and keep it as its own where
	// its \Seen in the destination is private (Mailbox.PrivateSeenFor).
	Account int64
}

// KeepAll keeps every flag and keyword: a copy or move by someone with
// every right on the destination.
var KeepAll = Keep{Flags: FlagSeen | FlagAnswered | FlagFlagged | FlagDeleted | FlagDraft, Keywords: true}

// Apply drops from m the flags and keywords k does not keep.
func (k Keep) Apply(m *MessageMeta) {
	m.Flags &= k.Flags
	if !k.Keywords {
		m.Keywords = nil
	}
}

// CopyResult maps source UIDs to destination UIDs (UIDPLUS COPYUID).
type CopyResult struct {
	UIDValidity uint32
	SourceUIDs  []uint32
	DestUIDs    []uint32
}

// Body is an open message body: the stored bytes, exactly as delivered.
type Body interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Changes is what changed in a mailbox since a modseq (CONDSTORE/QRESYNC).
type Changes struct {
	Changed  []MessageMeta // messages added or modified since, in UID order
	Vanished []uint32      // UIDs expunged since, ascending
	ModSeq   uint64        // the mailbox's highest modseq when read
	// SharedSeen is the mailbox's Mailbox.SharedSeen when read.
	SharedSeen bool
}

// Messages stores and retrieves messages.
type Messages interface {
	// Stage writes a message body durably and records its MIME structure.
	Stage(ctx context.Context, r io.Reader) (Staged, error)
	// Deliver puts a staged message into every target mailbox in one
	// transaction: when it returns nil the message is durable in all of them;
	// on error it is in none.
	Deliver(ctx context.Context, msg Staged, targets []Target) ([]Delivered, error)
	// DeliverAll makes several deliveries in one transaction (IMAP
	// MULTIAPPEND, RFC 3502: all or none). The result lists every target
	// of every delivery, in order.
	DeliverAll(ctx context.Context, deliveries []Delivery) ([]Delivered, error)

	// MessageList returns the hot state of every message in the mailbox, in UID order.
	MessageList(ctx context.Context, mailboxID int64) ([]MessageMeta, error)
	// LoadMailbox returns the mailbox's record and MessageList, read from
	// one snapshot: what an IMAP index starts from.
	LoadMailbox(ctx context.Context, mailboxID int64) (Mailbox, []MessageMeta, error)
	// ChangesSince returns what changed after modseq.
	ChangesSince(ctx context.Context, mailboxID int64, modseq uint64) (Changes, error)
	UpdateFlags(ctx context.Context, mailboxID int64, upd FlagUpdate) (FlagResult, error)
	// Expunge removes messages for good, recording them in the expunge history.
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error)
	// Copy copies messages to another mailbox, of the same account or
	// another one (a shared folder); the copies get new IDs. keep says
	// which flags and keywords they carry.
	Copy(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64, keep Keep) (CopyResult, error)
	// Move moves messages, keeping their IDs within one account (RFC
	// 6851); moved into another account's mailbox they get new IDs
	// there. keep says which flags and keywords they carry.
	Move(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64, keep Keep) (CopyResult, error)

	// OpenBody opens a message's bytes.
	OpenBody(ctx context.Context, mailboxID int64, uid uint32) (Body, error)
	// Structure returns the message's MIME structure, offsets relative to OpenBody's bytes.
	Structure(ctx context.Context, mailboxID int64, uid uint32) (*mime.Message, error)

	// HideFromPOP3 marks messages (by MessageMeta.ID) as downloaded and
	// deleted by a POP3 client in "keep" mode: they stay for IMAP and the
	// web, and POP3 never lists them again, wherever they are moved.
	HideFromPOP3(ctx context.Context, accountID int64, ids []int64) error
	// HiddenFromPOP3 returns the IDs HideFromPOP3 recorded for the account.
	HiddenFromPOP3(ctx context.Context, accountID int64) (map[int64]bool, error)
}
