package mailbox

import "mailroom/internal/store"

// Subscribe returns a subscription to the change events of one account, as
// the store publishes them: for protocols that tell a client of changes in
// mailboxes it has not opened (IMAP NOTIFY). Events of this process come
// in detail; other processes' and nodes' as EventMailboxChanged (with the
// mailbox, or without one when the mailbox list changed). The
// subscription's queue is bounded: a subscriber that falls behind is told
// it overflowed and must read the state again. Close it when done.
func (r *Service) Subscribe(accountID int64) *store.Subscription {
	return r.st.Subscribe(accountID)
}
