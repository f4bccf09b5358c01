package sqlitestore

import (
	"context"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
)

// pollChanges turns changes committed by other processes (admin commands,
// other nodes) into coarse events on this process's feed. Changes made by
// this process were published in detail by the writer and are skipped.
// The query is a primary-key range scan that returns nothing when idle.
func (s *Store) pollChanges(ctx context.Context, last int64) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var events []store.Event
		err := s.read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT id, origin, account_id, mailbox_id, modseq, kind FROM changelog WHERE id > ? ORDER BY id`, &sqlitex.ExecOptions{
				Args: []any{last},
				ResultFunc: func(stmt *sqlite.Stmt) error {
					last = stmt.ColumnInt64(0)
					if stmt.ColumnInt64(1) == s.origin {
						return nil
					}
					e := store.Event{AccountID: stmt.ColumnInt64(2), MailboxID: stmt.ColumnInt64(3), ModSeq: uint64(stmt.ColumnInt64(4))}
					switch stmt.ColumnInt(5) {
					case changeMessages:
						e.Kind = store.EventMailboxChanged
					case changeMailboxes:
						e.Kind, e.MailboxID = store.EventMailboxChanged, 0
					case changeACL:
						e.Kind = store.EventACLChanged
					default:
						e.Kind = store.EventAccountChanged
					}
					events = append(events, e)
					return nil
				},
			})
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("read change log", "err", err)
			}
			continue
		}
		s.publish(events, nil, true)
	}
}
