package imap

import (
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// The METADATA commands (RFC 5464): annotations on mailboxes and on the
// server. The mailbox service decides who may read and set what, and the
// store keeps the limits; these only speak the protocol. No unsolicited
// METADATA responses are sent (they are optional, RFC 5464 4.4, and need
// ENABLE METADATA, which this server does not accept).

// setMetadataLimits bound what one SETMETADATA holds in memory: it can
// touch two places (the shared entries and the user's private ones),
// so twice what one place can hold; past that it could never succeed.
var setMetadataLimits = wire.SetMetadataLimits{
	MaxEntries: 2 * store.MaxMetadataEntries,
	MaxValue:   store.MaxMetadataValue,
	MaxTotal:   2 * store.MaxMetadataTotal,
}

// metadataError maps what the mailbox service refused to RFC 5464's
// answers. A name the store refuses (too long) is BAD like any invalid
// entry name (RFC 5464 3.2). ErrNoPermission goes through as is: the
// session answers NO [NOPERM].
func metadataError(err error, what string) error {
	var limit *store.MetadataLimitError
	switch {
	case errors.As(err, &limit) && limit.TooMany:
		return no("METADATA TOOMANY", "%v", limit)
	case errors.As(err, &limit):
		return no(fmt.Sprintf("METADATA MAXSIZE %d", limit.MaxSize), "%v", limit)
	case errors.Is(err, mailbox.ErrMetadataReadOnly), errors.Is(err, mailbox.ErrMetadataValue):
		return no("CANNOT", "%v", err)
	case errors.Is(err, mailbox.ErrNoPermission):
		return err
	case errors.Is(err, store.ErrInvalid):
		return bad("%v", err)
	}
	return storeError(err, what)
}

// metadataFolder looks up a METADATA command's mailbox; ok is false for
// the server ("").
func (s *session) metadataFolder(arg string) (f mailbox.Folder, ok bool, err error) {
	if arg == "" {
		return mailbox.Folder{}, false, nil
	}
	name, err := s.fromWire(arg)
	if err != nil {
		return mailbox.Folder{}, false, err
	}
	f, err = s.user.Folder(s.ctx, name)
	if err != nil {
		return mailbox.Folder{}, false, storeError(err, name)
	}
	return f, true, nil
}

func cmdGetMetadata(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadGetMetadata()
	if err != nil {
		return err
	}
	f, isFolder, err := s.metadataFolder(args.Mailbox)
	if err != nil {
		return err
	}
	depth := store.MetadataDepth(args.Depth)
	var entries []store.MetadataEntry
	if isFolder {
		entries, err = s.user.FolderMetadata(s.ctx, f, args.Entries, depth)
	} else {
		entries, err = s.user.ServerMetadata(s.ctx, args.Entries, depth)
	}
	if err != nil {
		return metadataError(err, f.Name())
	}
	// MAXSIZE leaves out larger values, and the largest left out is
	// told in LONGENTRIES (RFC 5464 4.2.1).
	out := make([]wire.MetadataValue, 0, len(entries)+len(args.Entries))
	found := make(map[string]bool, len(entries))
	longest := -1
	for _, e := range entries {
		found[e.Name] = true
		if args.MaxSize >= 0 && int64(len(e.Value)) > args.MaxSize {
			longest = max(longest, len(e.Value))
			continue
		}
		out = append(out, wire.MetadataValue{Name: e.Name, Value: e.Value})
	}
	// An entry asked for by name (DEPTH 0) that has no value is answered
	// NIL: GETMETADATA's METADATA response is required (RFC 5464 4.2),
	// and the client learns the entry is not there. With a DEPTH the
	// client lists what is below a name, which needs no entry of its own
	// (RFC 5464 4.2.2's example); the roots are no entries either.
	for _, name := range args.Entries {
		if lower := strings.ToLower(name); depth == store.MetadataDepth0 && !found[lower] && wire.CheckEntryName(name, true) == nil {
			found[lower] = true
			out = append(out, wire.MetadataValue{Name: lower})
		}
	}
	if len(out) > 0 {
		s.bw.WriteString("* METADATA ")
		s.enc.Mailbox(f.Name())
		s.enc.SP().Metadata(out).CRLF()
	}
	code := ""
	if longest >= 0 {
		code = fmt.Sprintf("METADATA LONGENTRIES %d", longest)
	}
	return s.ok(tag, code, "GETMETADATA completed")
}

func cmdSetMetadata(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadSetMetadata(setMetadataLimits)
	var tooBig *wire.LiteralTooLargeError
	var tooMany *wire.TooManyEntriesError
	var tooMuch *wire.TotalTooLargeError
	switch {
	case errors.As(err, &tooBig):
		// The value's literal was refused before it was sent (or is
		// skipped): this is the answer to a value too large, not the
		// generic TOOBIG.
		if derr := s.discard(); derr != nil {
			return derr
		}
		// (MAXSIZE is the most a value may be, whatever the command's
		// total had left: that one is TotalTooLargeError.)
		return no(fmt.Sprintf("METADATA MAXSIZE %d", setMetadataLimits.MaxValue), "an annotation's value can be at most %d octets here", setMetadataLimits.MaxValue)
	case errors.As(err, &tooMany):
		if derr := s.discard(); derr != nil {
			return derr
		}
		return no("METADATA TOOMANY", "%v", tooMany)
	case errors.As(err, &tooMuch):
		// An implementation limit on the command, not on a value (RFC
		// 5530 LIMIT).
		if derr := s.discard(); derr != nil {
			return derr
		}
		return no("LIMIT", "%v", tooMuch)
	case err != nil:
		return err
	}
	f, isFolder, err := s.metadataFolder(args.Mailbox)
	if err != nil {
		return err
	}
	changes := make([]store.MetadataEntry, len(args.Entries))
	for i, e := range args.Entries {
		changes[i] = store.MetadataEntry{Name: e.Name, Value: e.Value}
	}
	if isFolder {
		err = s.user.SetFolderMetadata(s.ctx, f, changes)
	} else {
		err = s.user.SetServerMetadata(s.ctx, changes)
	}
	if err != nil {
		return metadataError(err, f.Name())
	}
	return s.ok(tag, "", "SETMETADATA completed")
}
