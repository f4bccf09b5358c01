package pgstore

import "mailroom/internal/store"

// published hands the events of a committed write to this node's feed.
// Other nodes learn of the same write from the change log (feed.go), which
// skips this node's own rows, so nothing reaches a subscriber twice.
func (s *Store) published(events []store.Event) {
	s.changes.feed.Publish(events)
}
