package pgstore

import (
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// Messages, with everything else but the queue and the change feed, pass
// the conformance tests every backend passes.
func TestMessagesConformance(t *testing.T) {
	storetest.RunAllButQueueAndFeed(t, func(t *testing.T) storetest.MessageStore {
		return openStore(t, pgtest.NewDatabase(t))
	})
}
