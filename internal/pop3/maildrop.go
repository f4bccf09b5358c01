package pop3

import (
	"context"
	"fmt"
	"strconv"

	"mailroom/internal/auth"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// item is one message of the snapshot.
type item struct {
	num       int
	uid       uint32
	id        int64
	size      int64
	deleted   bool // DELE, not yet committed
	retrieved bool // RETR completed
}

// maildrop is the INBOX as it was at login: numbers and sizes never change
// during the session (RFC 1939).
type maildrop struct {
	principal auth.Principal
	inbox     int64
	items     []item
	mode      string // pop3.delete_mode
	markSeen  bool
}

// openMaildrop snapshots the account's INBOX, leaving out what POP3 must
// not list: messages a "keep"-mode client already deleted, and, with
// pop3.scope = since-enabled, mail older than when POP3 was switched on.
func openMaildrop(ctx context.Context, st store.Store, p auth.Principal, settings store.Settings) (*maildrop, error) {
	inbox, err := st.Mailbox(ctx, p.AccountID, "INBOX")
	if err != nil {
		return nil, err
	}
	list, err := st.MessageList(ctx, inbox.ID)
	if err != nil {
		return nil, err
	}
	hidden, err := st.HiddenFromPOP3(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	var since int64
	if settings.String("pop3.scope") == "since-enabled" {
		since = settings.Int("pop3.enabled_at")
	}
	d := &maildrop{
		principal: p,
		inbox:     inbox.ID,
		items:     make([]item, 0, len(list)),
		mode:      settings.String("pop3.delete_mode"),
		markSeen:  settings.Bool("pop3.mark_seen"),
	}
	for _, m := range list {
		if hidden[m.ID] || m.InternalDate < since {
			continue
		}
		d.items = append(d.items, item{num: len(d.items) + 1, uid: m.UID, id: m.ID, size: m.Size})
	}
	return d, nil
}

func (d *maildrop) get(n int) *item {
	if n < 1 || n > len(d.items) {
		return nil
	}
	return &d.items[n-1]
}

// stat counts the messages not marked deleted (RFC 1939 STAT).
func (d *maildrop) stat() (count int, size int64) {
	for i := range d.items {
		if !d.items[i].deleted {
			count++
			size += d.items[i].size
		}
	}
	return count, size
}

func (d *maildrop) reset() {
	for i := range d.items {
		d.items[i].deleted = false
	}
}

// uidl is the message's unique id: the account's number and the message's
// per-account ID. The ID survives moves between mailboxes and is never
// reused; the account number keeps a deleted and re-created account from
// reusing old UIDLs, which would make clients skip new mail.
func (d *maildrop) uidl(it *item) string { return string(d.appendUIDL(nil, it)) }

func (d *maildrop) appendUIDL(buf []byte, it *item) []byte {
	buf = strconv.AppendInt(buf, d.principal.AccountID, 10)
	buf = append(buf, '.')
	return strconv.AppendInt(buf, it.id, 10)
}

// commit applies the session at QUIT: retrieved messages are marked \Seen
// (pop3.mark_seen), then deleted ones are expunged, moved to Trash or
// hidden from POP3 (pop3.delete_mode). It returns how many were deleted.
func (d *maildrop) commit(ctx context.Context, boxes *mailbox.Service) (int, error) {
	var seen, deleted []uint32
	var deletedIDs []int64
	for _, it := range d.items {
		if it.retrieved && d.markSeen {
			seen = append(seen, it.uid)
		}
		if it.deleted {
			deleted = append(deleted, it.uid)
			deletedIDs = append(deletedIDs, it.id)
		}
	}
	if len(seen) == 0 && len(deleted) == 0 {
		return 0, nil
	}
	user := boxes.User(d.principal.AccountID, d.principal.Email)
	inbox, err := user.FolderByID(ctx, d.inbox)
	if err != nil {
		return 0, fmt.Errorf("find INBOX: %w", err)
	}
	if len(seen) > 0 {
		if _, err := user.MarkSeen(ctx, inbox, seen); err != nil {
			return 0, fmt.Errorf("mark retrieved messages seen: %w", err)
		}
	}
	if len(deleted) == 0 {
		return 0, nil
	}
	switch d.mode {
	case "keep":
		if err := user.HideFromPOP3(ctx, deletedIDs); err != nil {
			return 0, err
		}
	case "trash":
		trash, err := trashMailbox(ctx, user)
		if err != nil {
			return 0, err
		}
		if _, err := user.Move(ctx, inbox, deleted, trash); err != nil {
			return 0, fmt.Errorf("move to Trash: %w", err)
		}
	default:
		if _, err := user.Expunge(ctx, inbox, deleted); err != nil {
			return 0, fmt.Errorf("expunge: %w", err)
		}
	}
	return len(deleted), nil
}

// trashMailbox finds the account's \Trash mailbox, creating "Trash" if the
// user deleted it.
func trashMailbox(ctx context.Context, user *mailbox.User) (mailbox.Folder, error) {
	list, err := user.List(ctx)
	if err != nil {
		return mailbox.Folder{}, err
	}
	for _, f := range list {
		if f.Owner() == "" && f.Mailbox().SpecialUse == store.SpecialTrash {
			return f, nil
		}
	}
	f, err := user.CreateMailbox(ctx, "Trash", store.SpecialTrash)
	if err != nil {
		return mailbox.Folder{}, fmt.Errorf("create Trash: %w", err)
	}
	return f, nil
}
