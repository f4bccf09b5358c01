package imap

import (
	"errors"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// The access control commands (RFC 4314). The mailbox service decides
// who may do what; these only speak the protocol.

// aclFolder reads an ACL command's arguments and looks its mailbox up.
func (s *session) aclFolder(shape wire.ACLArgs) (wire.ACL, mailbox.Folder, error) {
	args, err := s.dec.ReadACL(shape)
	if err != nil {
		return args, mailbox.Folder{}, err
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return args, mailbox.Folder{}, err
	}
	f, err := s.user.Folder(s.ctx, name)
	if err != nil {
		return args, mailbox.Folder{}, storeError(err, name)
	}
	return args, f, nil
}

// aclError maps what the mailbox service refused to IMAP: an identifier
// that cannot be one, or rights this server does not know, are BAD (RFC
// 4314 3, 3.1); an identifier naming nobody is NO.
func aclError(err error, f mailbox.Folder) error {
	switch {
	case errors.Is(err, acl.ErrUnknownRight), errors.Is(err, acl.ErrBadIdentifier):
		return bad("%v", err)
	case errors.Is(err, acl.ErrNegativeRights):
		return no("CANNOT", "%v", err)
	case errors.Is(err, store.ErrNotFound):
		return no("", "%v", err)
	}
	return storeError(err, f.Name())
}

func cmdSetACL(s *session, tag string, _ bool) error {
	args, f, err := s.aclFolder(wire.ACLIdentifierRights)
	if err != nil {
		return err
	}
	mod, rights, err := acl.ParseModification(args.Rights)
	if err != nil {
		return aclError(err, f)
	}
	if _, err := s.user.SetACL(s.ctx, f, args.Identifier, mod, rights); err != nil {
		return aclError(err, f)
	}
	return s.ok(tag, "", "SETACL completed")
}

func cmdDeleteACL(s *session, tag string, _ bool) error {
	args, f, err := s.aclFolder(wire.ACLIdentifier)
	if err != nil {
		return err
	}
	if _, err := s.user.SetACL(s.ctx, f, args.Identifier, acl.Replace, 0); err != nil {
		return aclError(err, f)
	}
	return s.ok(tag, "", "DELETEACL completed")
}

func cmdGetACL(s *session, tag string, _ bool) error {
	_, f, err := s.aclFolder(wire.ACLMailbox)
	if err != nil {
		return err
	}
	entries, err := s.user.ACL(s.ctx, f)
	if err != nil {
		return aclError(err, f)
	}
	s.bw.WriteString("* ACL ")
	s.enc.Mailbox(f.Name())
	for _, e := range entries {
		s.bw.WriteString(" ")
		s.enc.AString(e.Identifier)
		s.bw.WriteString(" ")
		s.enc.AString(e.Rights.String())
	}
	s.bw.WriteString("\r\n")
	return s.ok(tag, "", "GETACL completed")
}

func cmdListRights(s *session, tag string, _ bool) error {
	args, f, err := s.aclFolder(wire.ACLIdentifier)
	if err != nil {
		return err
	}
	required, optional, err := s.user.ListRights(f, args.Identifier)
	if err != nil {
		return aclError(err, f)
	}
	s.bw.WriteString("* LISTRIGHTS ")
	s.enc.Mailbox(f.Name())
	s.bw.WriteString(" ")
	s.enc.AString(args.Identifier) // as the client sent it (RFC 4314 3.4)
	s.bw.WriteString(" ")
	s.enc.AString(required.Letters())
	var letters []string
	for _, r := range optional {
		letters = append(letters, r.Letters())
	}
	if len(optional) > 0 {
		// The virtual rights, each on its own since nothing is tied
		// (RFC 4314 2.1.1).
		letters = append(letters, "c", "d")
	}
	if len(letters) > 0 {
		s.bw.WriteString(" " + strings.Join(letters, " "))
	}
	s.bw.WriteString("\r\n")
	return s.ok(tag, "", "LISTRIGHTS completed")
}

func cmdMyRights(s *session, tag string, _ bool) error {
	_, f, err := s.aclFolder(wire.ACLMailbox)
	if err != nil {
		return err
	}
	s.bw.WriteString("* MYRIGHTS ")
	s.enc.Mailbox(f.Name())
	s.bw.WriteString(" ")
	s.enc.AString(s.user.MyRights(f).String())
	s.bw.WriteString("\r\n")
	return s.ok(tag, "", "MYRIGHTS completed")
}
