package store

import "context"

// AccountChanges is what JMAP's /changes methods are answered from.
//
// Every modseq a mailbox gets (a message added, changed or removed, a
// mailbox created, renamed, subscribed, its ACL or \Seen mode changed) is
// the owning account's counter plus one, so one number orders all the
// changes of an account: a state is that counter, and "what changed since
// state S" is every row and record stamped after S. A message that leaves a
// mailbox (expunge, move, mailbox deleted) leaves a vanished record with the
// modseq of its removal, a deleted mailbox a tombstone; a message moved gets
// a modseq in its new mailbox above its vanished record's.
type AccountChanges interface {
	// AccountState returns the account's current state.
	AccountState(ctx context.Context, accountID int64) (AccountState, error)
	// MessageChangesSince returns, from one snapshot, the account's message rows whose modseq is
	// greater than since (present now: MailboxID set) and the vanished records with modseq greater
	// than since (Vanished true, Meta.ID, Meta.ThreadID, Meta.ModSeq set), merged and ordered by
	// (ModSeq, Meta.ID, vanished before present), skipping those ≤ (since, afterID) in that order,
	// at most limit of them (More reports that more exist).
	MessageChangesSince(ctx context.Context, accountID int64, since uint64, afterID int64, limit int) (MessageChanges, error)
	// MailboxChangesSince returns, from one snapshot, the account's mailboxes whose highestmodseq,
	// created_modseq or meta_modseq is greater than since, and the ids of mailboxes deleted after since.
	MailboxChangesSince(ctx context.Context, accountID int64, since uint64) (MailboxChanges, error)
}

// AccountState is an account's JMAP state.
type AccountState struct {
	ModSeq        uint64 // the account's counter: every modseq of its mailboxes is ≤ it
	NextMessageID int64  // accounts.next_msgid: a message with ID ≥ this did not exist at this state
}

// MessageChange is one message row present now, or one that left a
// mailbox of the account (Vanished).
type MessageChange struct {
	MailboxID int64 // 0 when Vanished
	Vanished  bool
	Meta      MessageMeta
}

// MessageChanges is one page of MessageChangesSince.
type MessageChanges struct {
	State   AccountState
	Changes []MessageChange
	More    bool
}

// MailboxChanges is what MailboxChangesSince found.
type MailboxChanges struct {
	State   AccountState
	Changed []Mailbox
	Deleted []int64 // mailbox ids, ascending
}
