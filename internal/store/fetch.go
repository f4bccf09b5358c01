package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// Fetch sources are the mailboxes on other servers that an account
// collects mail from (internal/mailfetch): a POP3 maildrop or an IMAP
// folder, with the login to reach it and the state that keeps a message
// from being collected twice. The remote password is kept as given, not
// hashed: the server has to present it to the other server.
const (
	// MaxFetchSources bounds how many sources one account keeps.
	MaxFetchSources = 20
	// MaxFetchUIDLen bounds a recorded POP3 unique id, in octets (RFC
	// 1939 7 allows 70; some servers send longer).
	MaxFetchUIDLen = 255
	// maxFetchField bounds the text settings (host, login, password,
	// folder names, error text).
	maxFetchField = 1000
)

// The protocols a source can speak.
const (
	FetchPOP3 = "pop3"
	FetchIMAP = "imap"
)

// The transport securities: implicit TLS (POP3S 995, IMAPS 993) or
// STARTTLS/STLS on the plain port. There is no clear-text choice: the
// password would cross the network readable.
const (
	FetchTLS      = "tls"
	FetchSTARTTLS = "starttls"
)

// ErrFetchTooMany is returned when adding a source would exceed
// MaxFetchSources.
var ErrFetchTooMany = errors.New("too many sources to collect mail from")

// FetchSource is one remote mailbox an account collects mail from.
type FetchSource struct {
	ID        int64
	AccountID int64
	Protocol  string // FetchPOP3 or FetchIMAP
	Host      string
	Port      int
	Security  string // FetchTLS or FetchSTARTTLS
	Username  string
	Password  string
	// Folder is the remote IMAP folder ("" is INBOX); POP3 has only one.
	Folder string
	// Mailbox is the local mailbox that gets the mail ("" is INBOX).
	Mailbox string
	// Delete removes each message from the remote once it is stored
	// here; off, the remote is left as it was.
	Delete bool
	// MarkRead sets \Seen on the remote IMAP message once it is stored.
	MarkRead bool
	Enabled  bool
	Created  time.Time
	FetchStatus
	// UIDValidity and LastUID are an IMAP source's cursor: every message
	// of that UIDVALIDITY up to LastUID has been collected.
	UIDValidity uint32
	LastUID     uint32
	// Fetched counts the messages collected so far.
	Fetched int64
}

// FetchStatus is what the last runs of a source came to.
type FetchStatus struct {
	LastAttempt time.Time // zero: never tried
	LastSuccess time.Time
	LastError   string // "" after a run without error
	// Failures counts the runs that failed since the last success (the
	// back-off grows with it).
	Failures int
}

// FetchSources keeps the accounts' sources and their state.
type FetchSources interface {
	// FetchSources lists an account's sources by id; accountID 0 lists
	// every account's.
	FetchSources(ctx context.Context, accountID int64) ([]FetchSource, error)
	// FetchSource returns one source, ErrNotFound if there is none.
	FetchSource(ctx context.Context, id int64) (FetchSource, error)
	// AddFetchSource stores a new source (src.ID and the state are
	// ignored) and returns it with its id: ErrInvalid for bad settings
	// (CheckFetchSource), ErrFetchTooMany past MaxFetchSources.
	AddFetchSource(ctx context.Context, src FetchSource) (FetchSource, error)
	// UpdateFetchSource changes the settings of the source src.ID of
	// account src.AccountID (ErrNotFound if it has none such); the
	// status is kept. When the remote mailbox changes (protocol, host,
	// port, login or folder), what was collected from the old one means
	// nothing for the new one: the recorded ids and the cursor are
	// cleared.
	UpdateFetchSource(ctx context.Context, src FetchSource) error
	// DeleteFetchSource removes the account's source and its state
	// (ErrNotFound if it has none such).
	DeleteFetchSource(ctx context.Context, accountID, id int64) error
	// SetFetchStatus records the outcome of a run (ErrNotFound if the
	// source was deleted meanwhile).
	SetFetchStatus(ctx context.Context, id int64, st FetchStatus) error
	// FetchedUIDs lists the POP3 unique ids recorded for the source.
	FetchedUIDs(ctx context.Context, id int64) ([]string, error)
	// MarkFetched records that the message with the POP3 unique id uid
	// is stored here, and counts it in Fetched, in one transaction. It
	// is idempotent: an id already recorded changes nothing.
	MarkFetched(ctx context.Context, id int64, uid string) error
	// ForgetFetchedUIDs removes recorded ids (those no longer on the
	// remote), so that the state stays as small as the remote maildrop.
	ForgetFetchedUIDs(ctx context.Context, id int64, uids []string) error
	// SetFetchCursor moves an IMAP source's cursor and adds collected to
	// Fetched, in one transaction.
	SetFetchCursor(ctx context.Context, id int64, uidValidity, lastUID uint32, collected int) error
}

// CheckFetchSource validates a source's settings, filling in the
// defaults (Folder and Mailbox "INBOX", the protocol's port).
func CheckFetchSource(src *FetchSource) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch src.Protocol {
	case FetchPOP3, FetchIMAP:
	default:
		return bad("protocol %q is not pop3 or imap", src.Protocol)
	}
	switch src.Security {
	case FetchTLS, FetchSTARTTLS:
	default:
		return bad("security %q is not tls or starttls", src.Security)
	}
	src.Host = strings.TrimSpace(src.Host)
	if src.Host == "" || strings.ContainsAny(src.Host, " /@[]\t") || strings.Contains(src.Host, ":") && net.ParseIP(src.Host) == nil {
		return bad("host %q is not a host name or address", src.Host)
	}
	if src.Port == 0 {
		src.Port = DefaultFetchPort(src.Protocol, src.Security)
	}
	if src.Port < 1 || src.Port > 65535 {
		return bad("port %d is out of range", src.Port)
	}
	if src.Username == "" {
		return bad("the login is empty")
	}
	if src.Password == "" {
		return bad("the password is empty")
	}
	if src.Folder == "" {
		src.Folder = "INBOX"
	}
	if src.Mailbox == "" {
		src.Mailbox = "INBOX"
	}
	if src.Protocol == FetchPOP3 {
		src.Folder = "INBOX"
		src.MarkRead = false // POP3 has no flags
	}
	for name, v := range map[string]string{"host": src.Host, "login": src.Username, "password": src.Password, "folder": src.Folder, "mailbox": src.Mailbox} {
		if len(v) > maxFetchField || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n") {
			return bad("the %s is not one line of text of at most %d octets", name, maxFetchField)
		}
	}
	return nil
}

// DefaultFetchPort is the standard port of a protocol and security.
func DefaultFetchPort(protocol, security string) int {
	switch {
	case protocol == FetchPOP3 && security == FetchTLS:
		return 995
	case protocol == FetchPOP3:
		return 110
	case security == FetchTLS:
		return 993
	default:
		return 143
	}
}

// CheckFetchUID validates a POP3 unique id before it is recorded.
func CheckFetchUID(uid string) error {
	if uid == "" || len(uid) > MaxFetchUIDLen || !utf8.ValidString(uid) || strings.ContainsRune(uid, 0) {
		return fmt.Errorf("%w: unique id %q", ErrInvalid, uid)
	}
	return nil
}

// TruncateFetchError bounds an error text kept in a FetchStatus.
func TruncateFetchError(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	if len(s) <= maxFetchField {
		return s
	}
	cut := maxFetchField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// SameFetchRemote reports whether two settings reach the same remote
// mailbox, so that what was collected from one holds for the other.
func SameFetchRemote(a, b FetchSource) bool {
	return a.Protocol == b.Protocol && strings.EqualFold(a.Host, b.Host) && a.Port == b.Port &&
		a.Username == b.Username && a.Folder == b.Folder
}
