package imap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// readMailboxArg reads the one mailbox argument of DELETE, SUBSCRIBE and
// UNSUBSCRIBE, converted to the store's UTF-8 form.
func (s *session) readMailboxArg() (string, error) {
	name, err := s.dec.ReadMailboxArg()
	if err != nil {
		return "", err
	}
	return s.fromWire(name)
}

// fromWire converts a mailbox name as sent to the store's UTF-8 form:
// modified UTF-7 from clients that did not enable UTF-8.
func (s *session) fromWire(name string) (string, error) {
	if s.utf8 || strings.EqualFold(name, "INBOX") {
		return name, nil
	}
	decoded, err := wire.DecodeMUTF7(name)
	if err != nil {
		// 8-bit octets never occur in modified UTF-7, so a name with valid
		// UTF-8 in it is unambiguous: clients that speak IMAP4rev2 send
		// UTF-8 even before ENABLE.
		if utf8.ValidString(name) && hasNonASCII(name) {
			return name, nil
		}
		// The argument is a valid astring, just no name a mailbox can have:
		// the command fails (NO), it is not a protocol error (BAD).
		return "", errBadMUTF7
	}
	return decoded, nil
}

// errBadMUTF7 answers a mailbox name that is not modified UTF-7 (RFC 3501
// 5.1.3): no mailbox has it, so SELECT and the like fail with NO.
var errBadMUTF7 = no("CANNOT", "mailbox name is not valid modified UTF-7")

// mailboxID is the RFC 8474 MAILBOXID: the store's mailbox id, which is
// never reused and survives RENAME.
func mailboxID(id int64) string { return "F" + strconv.FormatInt(id, 10) }

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// storeError maps store errors of mailbox operations to IMAP replies.
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return no("NONEXISTENT", "%s: no such mailbox", what)
	case errors.Is(err, mailbox.ErrOwnerRights):
		return no("CANNOT", "%s: %v", what, err)
	case errors.Is(err, store.ErrExists):
		return no("ALREADYEXISTS", "%s already exists", what)
	case errors.Is(err, store.ErrHasChildren):
		return no("INUSE", "%s has child mailboxes: delete them first", what)
	case errors.Is(err, store.ErrProtected):
		return no("CANNOT", "%s: not allowed", what)
	case errors.Is(err, store.ErrInvalid):
		return no("CANNOT", "%s: %v", what, err)
	}
	return err
}

func cmdSelect(s *session, tag string, _ bool) error  { return s.selectMailbox(tag, false) }
func cmdExamine(s *session, tag string, _ bool) error { return s.selectMailbox(tag, true) }

func (s *session) selectMailbox(tag string, readOnly bool) error {
	args, err := s.dec.ReadSelect()
	if err != nil {
		return err
	}
	if args.CondStore {
		s.condstore = true
	}
	qr := args.QResync
	if qr != nil && !s.qresync {
		return bad("QRESYNC must be enabled first (ENABLE QRESYNC)")
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return err
	}
	// A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
	if s.sel != nil {
		s.unselect()
		s.untagged("OK [CLOSED] previous mailbox closed")
	}
	folder, err := s.user.Folder(s.ctx, name)
	if err != nil {
		return storeError(err, name)
	}
	mb := folder.Mailbox()
	if folder.ReadOnly() {
		readOnly = true // RFC 4314 5.2
	}
	mode := mailbox.ClaimRecent
	switch {
	case s.rev2:
		mode = mailbox.NoRecent
	case readOnly:
		mode = mailbox.PeekRecent
	}
	// The view shows the user's own \Seen where it is private.
	view, err := s.user.Select(s.ctx, folder, mode)
	if err != nil {
		return storeError(err, name)
	}
	box := view.Mailbox()
	s.sel = &selection{folder: folder, mb: mb, box: box, view: view, readOnly: readOnly}
	s.state = selected
	st := box.State()
	s.bw.WriteString(fmt.Sprintf("* %d EXISTS\r\n", view.Len()))
	if !s.rev2 {
		s.bw.WriteString(fmt.Sprintf("* %d RECENT\r\n", view.RecentCount()))
	}
	keywords, _ := view.Keywords()
	s.writeFlagLists(keywords)
	s.untagged(fmt.Sprintf("OK [UIDVALIDITY %d] UIDs valid", st.UIDValidity))
	s.untagged(fmt.Sprintf("OK [UIDNEXT %d] predicted next UID", st.UIDNext))
	if s.condstore {
		s.untagged(fmt.Sprintf("OK [HIGHESTMODSEQ %d] highest modseq", st.HighestModSeq))
	}
	s.untagged("OK [MAILBOXID (" + mailboxID(mb.ID) + ")] mailbox id")
	if qr != nil && qr.UIDValidity == st.UIDValidity {
		if err := s.qresyncSelect(qr); err != nil {
			return err
		}
	}
	if !s.rev2 {
		if first := s.firstUnseen(); first > 0 {
			s.untagged(fmt.Sprintf("OK [UNSEEN %d] first unseen", first))
		}
	}
	s.bw.WriteString("* LIST () \"/\" ")
	s.enc.Mailbox(mb.Name)
	s.bw.WriteString("\r\n")
	code, verb := "READ-WRITE", "SELECT"
	if readOnly {
		code, verb = "READ-ONLY", "EXAMINE"
	}
	return s.ok(tag, code, verb+" completed")
}

// firstUnseen is the sequence number of the first message without \Seen
// (the user's own, where it is private).
func (s *session) firstUnseen() int {
	for i, uid := range s.sel.view.UIDs() {
		if m, ok := s.sel.view.Message(uid); ok && m.Flags&store.FlagSeen == 0 {
			return i + 1
		}
	}
	return 0
}

func (s *session) unselect() {
	if s.sel != nil {
		s.sel.view.Close()
		s.sel = nil
		s.state = authenticated
	}
}

func cmdUnselect(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	s.unselect()
	return s.ok(tag, "", "UNSELECT completed")
}

// CLOSE silently expunges \Deleted messages unless read-only.
func cmdClose(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if !s.sel.readOnly {
		// Without the "e" right CLOSE just closes (RFC 4314 4).
		if _, err := s.expungeDeleted(nil); err != nil && !errors.Is(err, mailbox.ErrNoPermission) {
			return err
		}
	}
	s.unselect()
	return s.ok(tag, "", "CLOSE completed")
}

func cmdCreate(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadCreate()
	if err != nil {
		return err
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return err
	}
	var use store.SpecialUse
	if n := len(args.Use); n > 0 {
		use = store.SpecialUse(args.Use[n-1]) // one attribute is supported: the last one given
	}
	name = strings.TrimSuffix(name, store.Delimiter) // RFC 9051 6.3.4: a trailing delimiter is allowed
	f, err := s.user.CreateMailbox(s.ctx, name, use)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) && use != "" {
			return no("USEATTR", "%s is not a special use this server supports", use)
		}
		return storeError(err, name)
	}
	return s.ok(tag, "MAILBOXID ("+mailboxID(f.ID())+")", "CREATE completed")
}

func cmdDelete(s *session, tag string, _ bool) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.user.DeleteMailbox(s.ctx, name); err != nil {
		return storeError(err, name)
	}
	return s.ok(tag, "", "DELETE completed")
}

func cmdRename(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadRename()
	if err != nil {
		return err
	}
	from, err := s.fromWire(args.From)
	if err != nil {
		return err
	}
	to, err := s.fromWire(args.To)
	if err != nil {
		return err
	}
	if err := s.user.RenameMailbox(s.ctx, from, to); err != nil {
		return storeError(err, from)
	}
	return s.ok(tag, "", "RENAME completed")
}

func cmdSubscribe(s *session, tag string, _ bool) error   { return s.subscribe(tag, true) }
func cmdUnsubscribe(s *session, tag string, _ bool) error { return s.subscribe(tag, false) }

func (s *session) subscribe(tag string, on bool) error {
	name, err := s.readMailboxArg()
	if err != nil {
		return err
	}
	if err := s.user.SetSubscribed(s.ctx, name, on); err != nil {
		return storeError(err, name)
	}
	return s.ok(tag, "", "completed")
}

func cmdNamespace(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	// Personal mailboxes, then other users' that they shared, then the
	// shared mailboxes of the domains (RFC 2342).
	s.bw.WriteString(`* NAMESPACE (("" "/")) ((`)
	s.enc.Mailbox(mailbox.OtherUsersPrefix)
	s.bw.WriteString(` "/")) ((`)
	s.enc.Mailbox(mailbox.SharedPrefix)
	s.bw.WriteString(` "/"))` + "\r\n")
	return s.ok(tag, "", "NAMESPACE completed")
}
