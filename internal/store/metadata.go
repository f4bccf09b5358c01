package store

import (
	"context"
	"fmt"
	"strings"
)

// Annotations (IMAP METADATA, RFC 5464) are named values kept on a
// mailbox or on the server as a whole. An entry whose name starts with
// "/shared/" has one value that every user allowed to see the mailbox
// sees; one starting with "/private/" has a value per user, seen only by
// the user who set it.
//
// The limits below apply to each "place": the shared entries of one
// mailbox (or of the server), and one user's private entries on one
// mailbox (or on the server). They are those of Dovecot's and Cyrus's
// defaults in spirit: well above RFC 5464 4.1's floor (values of 1024
// octets, 10 entries) and what clients store there (comments, colours,
// client settings), and small enough that nobody stores mail in them:
// one place holds at most MaxMetadataTotal octets, so a GETMETADATA of
// everything is bounded too (RFC 5464 7 asks for limits).
const (
	// MaxMetadataValue is the largest value of one entry, in octets.
	MaxMetadataValue = 64 << 10
	// MaxMetadataEntries is how many entries one place holds.
	MaxMetadataEntries = 100
	// MaxMetadataTotal bounds the names and values of one place's
	// entries together, in octets.
	MaxMetadataTotal = 1 << 20
	// MaxMetadataName is the longest entry name, in octets.
	MaxMetadataName = 255
)

// Entry name prefixes: the scope of an entry (RFC 5464 3.2).
const (
	MetadataPrivate = "/private"
	MetadataShared  = "/shared"
)

// MetadataEntry is one annotation. A nil Value in a change deletes the
// entry (SETMETADATA's NIL); an empty, non-nil one is a value of zero
// octets.
type MetadataEntry struct {
	Name  string
	Value []byte
}

// MetadataDepth is how far below a requested name entries are returned
// (RFC 5464 4.2.2).
type MetadataDepth int

// The depths GETMETADATA knows.
const (
	MetadataDepth0        MetadataDepth = 0  // the entry itself
	MetadataDepth1        MetadataDepth = 1  // and its children
	MetadataDepthInfinity MetadataDepth = -1 // and everything below it
)

// Matches reports whether entry name is, or lies within depth below,
// the requested name. Both are canonical (CheckMetadataName).
func (d MetadataDepth) Matches(requested, name string) bool {
	if name == requested {
		return true
	}
	rest, ok := strings.CutPrefix(name, requested+"/")
	if !ok || d == MetadataDepth0 {
		return false
	}
	return d == MetadataDepthInfinity || !strings.Contains(rest, "/")
}

// MetadataLimitError is a change that would break one of the limits
// above (IMAP: NO [METADATA MAXSIZE n] or NO [METADATA TOOMANY]).
type MetadataLimitError struct {
	Name    string // the entry that did not fit
	TooMany bool   // too many entries; otherwise too large
	MaxSize int64  // too large: the largest value the entry could have
}

func (e *MetadataLimitError) Error() string {
	if e.TooMany {
		return fmt.Sprintf("annotation %s: there can be no more than %d entries here", e.Name, MaxMetadataEntries)
	}
	return fmt.Sprintf("annotation %s: its value can be at most %d octets", e.Name, e.MaxSize)
}

// Metadata keeps annotations. mailboxID 0 is the server; accountID is the
// user whose private entries are read or written. A mailbox's entries
// follow it through RENAME (and are copied when INBOX is renamed, RFC
// 5464 4.1) and go with it on DELETE; a user's private entries go when
// the account is deleted. Who may read or change what is the mailbox
// service's business; the store only keeps entries and their limits.
type Metadata interface {
	// GetMetadata returns the entries of a mailbox (or the server)
	// that the user sees — the shared ones and the user's private
	// ones — whose names are one of names or lie within depth below
	// one, sorted by name. Names must be canonical (CheckMetadataName
	// with prefixes allowed); a missing mailbox is ErrNotFound.
	GetMetadata(ctx context.Context, mailboxID, accountID int64, names []string, depth MetadataDepth) ([]MetadataEntry, error)
	// SetMetadata applies changes in one transaction: all or none. A
	// change breaking a limit is a *MetadataLimitError, checked in
	// that transaction against what is stored; a bad name ErrInvalid;
	// a missing mailbox ErrNotFound.
	SetMetadata(ctx context.Context, mailboxID, accountID int64, changes []MetadataEntry) error
}

// CheckMetadataName checks that name is a canonical entry name: lower
// case (names are case-insensitive, RFC 5464 3.2: the store keeps them
// folded), under /private or /shared, of ASCII without control
// characters, "*", "%", "//" or a trailing "/" (RFC 5464 3.2 forbids
// 0x00-0x19; the other controls, DEL included, go too: no client needs
// them and they would garble logs), at most MaxMetadataName octets. An entry
// has at least two components, and one under a vendor prefix
// (/shared/vendor/<token>) four; prefix allows shorter names, the
// roots of a GETMETADATA (/private, /shared/vendor).
func CheckMetadataName(name string, prefix bool) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: annotation name %q %s", ErrInvalid, name, why)
	}
	if len(name) > MaxMetadataName {
		return bad(fmt.Sprintf("is longer than %d octets", MaxMetadataName))
	}
	if !strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return bad("must start with \"/\", and have no empty component")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c < 0x20 || c >= 0x7f:
			return bad("has a control or non-ASCII character")
		case c == '*' || c == '%':
			return bad("has a wildcard")
		case 'A' <= c && c <= 'Z':
			return bad("is not in lower case")
		}
	}
	parts := strings.Split(name[1:], "/")
	if parts[0] != MetadataPrivate[1:] && parts[0] != MetadataShared[1:] {
		return bad("must start with /private or /shared")
	}
	min := 2
	if len(parts) >= 2 && parts[1] == "vendor" {
		min = 4
	}
	if !prefix && len(parts) < min {
		return bad("has too few components")
	}
	return nil
}

// MetadataIsPrivate reports whether a canonical name is a private entry.
func MetadataIsPrivate(name string) bool {
	return name == MetadataPrivate || strings.HasPrefix(name, MetadataPrivate+"/")
}

// MetadataOwner is the owner a backend keys an entry by: accountID for a
// private entry, 0 for a shared one.
func MetadataOwner(name string, accountID int64) int64 {
	if MetadataIsPrivate(name) {
		return accountID
	}
	return 0
}

// CheckMetadataChanges checks what can be checked of a SetMetadata
// without the stored entries: the names, and each value's size.
func CheckMetadataChanges(changes []MetadataEntry) error {
	for _, c := range changes {
		if err := CheckMetadataName(c.Name, false); err != nil {
			return err
		}
		if len(c.Value) > MaxMetadataValue {
			return &MetadataLimitError{Name: c.Name, MaxSize: MaxMetadataValue}
		}
	}
	return nil
}

// MetadataOverLimit is what a backend calls, inside SetMetadata's
// transaction once the changes are applied, for each place they touched
// (owner as MetadataOwner gives it): count and total are that place's
// entries and their octets (names and values) now. Over a limit, the
// error names the first entry the changes set there, and how large its
// value could have been for the rest to fit.
func MetadataOverLimit(changes []MetadataEntry, accountID, owner int64, count int, total int64) error {
	if count <= MaxMetadataEntries && total <= MaxMetadataTotal {
		return nil
	}
	for _, c := range changes {
		if c.Value == nil || MetadataOwner(c.Name, accountID) != owner {
			continue
		}
		if count > MaxMetadataEntries {
			return &MetadataLimitError{Name: c.Name, TooMany: true}
		}
		room := MaxMetadataTotal - (total - int64(len(c.Value)))
		return &MetadataLimitError{Name: c.Name, MaxSize: max(0, min(room, MaxMetadataValue))}
	}
	// Only deletions, and still over: a limit was lowered since the
	// entries were stored. Deleting must stay possible.
	return nil
}
