package pgstore

import "mailroom/internal/store"

// published receives the change events of each committed write
// transaction, in commit order for any one mailbox (writes to a mailbox
// hold its row lock until they commit). It is the one place where the
// change feed (feed.go, across nodes through LISTEN/NOTIFY) takes them
// over; until it does, events are dropped here, and the change log rows
// the same transactions wrote are what other nodes and later readers
// rely on. It must not block: it runs on the writer's goroutine right
// after the commit.
func (s *Store) published(events []store.Event) {
	_ = events
}
