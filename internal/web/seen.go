package web

import (
	"context"

	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// In a folder another account shares, a user's read/unread is their own
// (per-user \Seen, mailbox/seen.go) unless the folder shares its owner's.
// The shared Mailbox state holds the owner's flags; a view made by
// User.Select shows the user's. Pages of the user's own folders read the
// state directly, as before; pages of shared folders pay for the view
// (loading the user's set of read messages).

// readerView returns the view through which u sees f's flags, or nil
// for the user's own folder (the Mailbox's flags are theirs). Close it.
func readerView(ctx context.Context, u *mailbox.User, f mailbox.Folder) (*mailbox.View, error) {
	if f.Owner() == "" {
		return nil, nil
	}
	return u.Select(ctx, f, mailbox.NoRecent)
}

// asSeenBy replaces the flags of metas with those v shows (nil v: as
// they are).
func asSeenBy(v *mailbox.View, metas []store.MessageMeta) {
	if v == nil {
		return
	}
	for i := range metas {
		if m, ok := v.Message(metas[i].UID); ok {
			metas[i].Flags = m.Flags
		}
	}
}

// folderCounts returns a folder's message and unread counts as u sees
// them: from the open mailbox for the user's own (box, or opened here if
// nil), from the store's count of the user's own \Seen for another's
// (no mailbox opened for it).
func (s *Server) folderCounts(ctx context.Context, u *mailbox.User, f mailbox.Folder, box ...*mailbox.Mailbox) (total, unseen int, err error) {
	if f.Owner() != "" {
		st, err := u.Status(ctx, f)
		if err != nil {
			return 0, 0, err
		}
		return st.Messages, st.Unseen, nil
	}
	if len(box) == 0 {
		b, err := u.Open(ctx, f)
		if err != nil {
			return 0, 0, err
		}
		defer s.opts.Mailboxes.Release(b)
		box = append(box, b)
	}
	total, unseen = box[0].Counts()
	return total, unseen, nil
}
