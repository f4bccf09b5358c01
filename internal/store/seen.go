package store

import "context"

// Per-user \Seen in shared mailboxes (issue 16). A mailbox's owner always
// reads and sets the message's own \Seen flag. Every other account (a
// user the mailbox is shared with, or every member of a mailbox whose
// owner nobody logs into) has, by default, its own \Seen: "private seen",
// kept per (mailbox, account, uid), which only that account's changes
// touch; the other flags stay shared. With the mailbox's SharedSeen set,
// everyone reads and sets the message's flag instead (one read/unread
// state for the team).
//
// The store decides which \Seen a change goes to, in the transaction that
// makes it, from the mailbox's row and the acting account (FlagUpdate,
// Target and Keep carry it): so a change and a switch of SharedSeen
// cannot cross. A change of an account's private \Seen gives the message
// a new modseq like any flag change (the message's own flags stay as they
// are), so that the account's other sessions learn of it through CONDSTORE
// (CHANGEDSINCE, unsolicited FETCH with a higher MODSEQ); other users see
// a FETCH with unchanged flags, which is harmless. Its event is the
// message's EventFlagsChanged with Event.Seen set (EventMessageAdded for
// a copy appended with \Seen by a reader). A private \Seen is removed
// with its message (expunge, move, the mailbox or the account deleted).

// SeenChange is a change of one account's private \Seen of the event's
// message: Account 0 when the event changed none.
type SeenChange struct {
	Account int64
	Seen    bool
}

// SeenSet is what PrivateSeen returns.
type SeenSet struct {
	// UIDs the account has seen, ascending.
	UIDs []uint32
	// ModSeq is the mailbox's HIGHESTMODSEQ in the snapshot the UIDs were
	// read from: every change up to it is in them.
	ModSeq uint64
}

// PrivateSeen keeps the per-user \Seen of shared mailboxes.
type PrivateSeen interface {
	// PrivateSeen returns the UIDs from..to (inclusive) of the mailbox
	// that accountID has seen by its private \Seen (ErrNotFound: no such
	// mailbox). It does not look at SharedSeen: a mailbox whose seen state
	// is shared has no private \Seen.
	PrivateSeen(ctx context.Context, mailboxID, accountID int64, from, to uint32) (SeenSet, error)
	// ReaderStatus is MailboxStatus as accountID sees it: Unseen counts
	// the messages without its own \Seen where that is private (see
	// Mailbox.PrivateSeenFor), the message flags otherwise; one snapshot.
	ReaderStatus(ctx context.Context, mailboxID, accountID int64) (MailboxStatus, error)
	// SetSharedSeen switches the mailbox between one \Seen for everyone
	// (shared) and a \Seen of their own for every account but the owner.
	// A switch gives every message of the mailbox a new modseq (what each
	// non-owner sees as \Seen may change on any of them) and removes the
	// private \Seen kept so far: back to per-user, the others start with
	// nothing seen. Setting the mode a mailbox has changes nothing.
	SetSharedSeen(ctx context.Context, mailboxID int64, shared bool) error
}

// PrivateSeenFor reports whether accountID's \Seen in the mailbox is its
// own (private) rather than the message's flag: for every account but the
// owner, unless the mailbox's seen state is shared. 0 is no account (a
// delivery, an administrator): the message's flag.
func (mb Mailbox) PrivateSeenFor(accountID int64) bool {
	return accountID != 0 && accountID != mb.AccountID && !mb.SharedSeen
}

// SplitSeen divides a \Seen-including set of flags as account sees them
// into what goes to the message (its flags with the message's own \Seen,
// msgSeen) and the account's private \Seen, for a mailbox where its \Seen
// is private.
func SplitSeen(flags Flags, msgSeen bool) (msg Flags, private bool) {
	msg = flags &^ FlagSeen
	if msgSeen {
		msg |= FlagSeen
	}
	return msg, flags&FlagSeen != 0
}

// WithSeen returns flags with \Seen set as seen says.
func WithSeen(flags Flags, seen bool) Flags {
	if seen {
		return flags | FlagSeen
	}
	return flags &^ FlagSeen
}
