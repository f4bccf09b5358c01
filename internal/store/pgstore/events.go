package pgstore

import "mailroom/internal/store"

// published hands the change events of each committed write transaction
// to this node's feed. Other nodes learn of the same write from the change
// log (feed.go), which skips this node's own rows, so nothing reaches a
// subscriber twice. It must not block: it runs on the writer's goroutine
// right after the commit (Feed.Publish never blocks).
func (s *Store) published(events []store.Event) {
	s.changes.feed.Publish(events)
}
