package mailbox

import (
	"context"
	"fmt"

	"mailroom/internal/store"
)

// Conversations. A message's thread id travels in its store.MessageMeta
// (ThreadID, in every loaded Mailbox and every change event); Thread lists
// a whole conversation across the account's mailboxes, for IMAP, the web
// and JMAP. The store assigns thread ids at delivery (see store.Threads);
// nothing here changes them.

// Thread returns the messages of one of the account's conversations, in
// every mailbox, in delivery order. It reads the store directly: the
// store's thread index answers without scanning, and what this process
// committed is in the store before the write returned.
func (r *Service) Thread(ctx context.Context, accountID, threadID int64) ([]store.ThreadMember, error) {
	list, err := r.st.ThreadMessages(ctx, accountID, threadID)
	if err != nil {
		return nil, fmt.Errorf("mailbox: thread %d: %w", threadID, err)
	}
	return list, nil
}
