package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Annotations (IMAP METADATA, RFC 5464) on a folder or on the server, as
// one user reads and sets them: their own /private entries, the /shared
// ones everybody allowed sees, and the entries the server computes.
// Entry names are case-insensitive (RFC 5464 3.2): they are folded to
// lower case here, and come back so.

// ErrMetadataReadOnly is a change to an entry the server computes
// (/private/specialuse), which no client can set (IMAP NO [CANNOT]).
var ErrMetadataReadOnly = errors.New("read-only annotation")

// ErrMetadataValue is a value a computed entry does not take (IMAP NO
// [CANNOT]).
var ErrMetadataValue = errors.New("annotation value not accepted")

// SpecialUseEntry is the mailbox entry that shows a mailbox's special use
// (RFC 6154 4), as LIST shows it. It is read-only here: RFC 6154 lets a
// server refuse changes, and special uses steer delivery (\Junk), which a
// user with rights on a shared mailbox should not redirect behind its
// owner's back. CREATE (USE ...) sets one.
const SpecialUseEntry = "/private/specialuse"

// SeenModeEntry shows and switches whether the mailbox's \Seen is one for
// everyone ("shared") or each user's own ("per-user", the default; see
// User.SetSharedSeen): a vendor entry (RFC 5464 3.2) a client with the
// "a" right can set, and everybody who sees the mailbox can read.
const SeenModeEntry = "/shared/vendor/mailroom/seen"

// The values of SeenModeEntry.
const (
	SeenShared  = "shared"
	SeenPerUser = "per-user"
)

// annotateRights are the rights of which RFC 5464 3.3 asks for one,
// besides "l", to read or set a mailbox's annotations.
const annotateRights = acl.Read | acl.Seen | acl.Write | acl.Insert | acl.Post

// canAnnotate checks RFC 5464 3.3's rights for annotations on f: "l" and
// any of "rswip"; setting a shared entry, which everybody who sees the
// mailbox sees, also needs "w" (the RFC's rights are what a user needs at
// least: a user the owner gave read-only access should not write what
// the owner and everybody else then read).
func (f Folder) canAnnotate(sharedChange bool) error {
	if f.rights&visible == 0 {
		return fmt.Errorf("mailbox %q: %w", f.name, store.ErrNotFound)
	}
	if !f.rights.Has(acl.Lookup) || f.rights&annotateRights == 0 {
		return fmt.Errorf("annotations of %q need the \"l\" right and one of \"rswip\": %w", f.name, ErrNoPermission)
	}
	if sharedChange {
		return f.need(acl.Write, "setting a /shared annotation")
	}
	return nil
}

// foldNames returns names in lower case.
func foldNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// foldChanges returns changes with their names in lower case, and
// whether any changes a /shared entry.
func foldChanges(changes []store.MetadataEntry) ([]store.MetadataEntry, bool) {
	out := make([]store.MetadataEntry, len(changes))
	shared := false
	for i, c := range changes {
		out[i] = store.MetadataEntry{Name: strings.ToLower(c.Name), Value: c.Value}
		shared = shared || !store.MetadataIsPrivate(out[i].Name)
	}
	return out, shared
}

// FolderMetadata returns the folder's annotations the user sees whose
// names are one of names or within depth below one (GETMETADATA on a
// mailbox), sorted by name.
func (u *User) FolderMetadata(ctx context.Context, f Folder, names []string, depth store.MetadataDepth) ([]store.MetadataEntry, error) {
	if err := f.canAnnotate(false); err != nil {
		return nil, err
	}
	names = foldNames(names)
	entries, err := u.r.st.GetMetadata(ctx, f.ID(), u.id, names, depth)
	if err != nil {
		return nil, fmt.Errorf("annotations of %q: %w", f.name, err)
	}
	// The computed entries, each in its place in the order.
	seen := SeenPerUser
	if f.SharedSeen() {
		seen = SeenShared
	}
	for _, c := range []store.MetadataEntry{{Name: SpecialUseEntry, Value: []byte(f.mb.SpecialUse)}, {Name: SeenModeEntry, Value: []byte(seen)}} {
		if len(c.Value) == 0 || !slices.ContainsFunc(names, func(n string) bool { return depth.Matches(n, c.Name) }) {
			continue
		}
		i, _ := slices.BinarySearchFunc(entries, c.Name, func(e store.MetadataEntry, name string) int { return strings.Compare(e.Name, name) })
		entries = slices.Insert(entries, i, c)
	}
	return entries, nil
}

// SetFolderMetadata applies changes to the folder's annotations, all or
// none (SETMETADATA on a mailbox): a nil Value deletes the entry.
// Private entries are the user's own.
func (u *User) SetFolderMetadata(ctx context.Context, f Folder, changes []store.MetadataEntry) error {
	changes, shared := foldChanges(changes)
	if err := f.canAnnotate(shared); err != nil {
		return err
	}
	// The seen mode is checked whole before anything is written, so that
	// a refusal changes nothing; it is switched after the stored entries.
	var seenMode *bool
	stored := changes[:0:0]
	for _, c := range changes {
		switch c.Name {
		case SpecialUseEntry:
			return fmt.Errorf("%s of %q shows the special use CREATE gave it; it cannot be set: %w", SpecialUseEntry, f.name, ErrMetadataReadOnly)
		case SeenModeEntry:
			if err := f.need(acl.Admin, "switching whether \\Seen is shared"); err != nil {
				return err
			}
			switch v := string(c.Value); {
			case c.Value == nil || v == SeenPerUser:
				seenMode = new(bool)
			case v == SeenShared:
				seenMode = new(bool)
				*seenMode = true
			default:
				return fmt.Errorf("%s is %q or %q, not %q: %w", SeenModeEntry, SeenShared, SeenPerUser, v, ErrMetadataValue)
			}
		default:
			stored = append(stored, c)
		}
	}
	if len(stored) > 0 {
		if err := u.r.st.SetMetadata(ctx, f.ID(), u.id, stored); err != nil {
			return fmt.Errorf("annotations of %q: %w", f.name, err)
		}
	}
	if seenMode != nil && *seenMode != f.SharedSeen() {
		return u.SetSharedSeen(ctx, f, *seenMode)
	}
	return nil
}

// ServerMetadata returns the server's annotations the user sees (the
// shared ones and their own private ones) whose names are one of names or
// within depth below one (GETMETADATA ""). Anybody may read them (RFC
// 5464 3.3).
func (u *User) ServerMetadata(ctx context.Context, names []string, depth store.MetadataDepth) ([]store.MetadataEntry, error) {
	entries, err := u.r.st.GetMetadata(ctx, 0, u.id, foldNames(names), depth)
	if err != nil {
		return nil, fmt.Errorf("server annotations: %w", err)
	}
	return entries, nil
}

// SetServerMetadata applies changes to the user's private server
// annotations, all or none (SETMETADATA ""). Shared server annotations
// are everybody's, so only the administrator sets them (`mailroom
// annotation`; RFC 5464 3.3 lets a server restrict that): a change to one
// is ErrNoPermission.
func (u *User) SetServerMetadata(ctx context.Context, changes []store.MetadataEntry) error {
	changes, shared := foldChanges(changes)
	if shared {
		return fmt.Errorf("shared server annotations are set by the administrator: %w", ErrNoPermission)
	}
	if err := u.r.st.SetMetadata(ctx, 0, u.id, changes); err != nil {
		return fmt.Errorf("server annotations: %w", err)
	}
	return nil
}
