package sqlitestore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
	"mailroom/internal/store/blobfs"
)

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, msg store.Staged, e store.QueueEntry) (int64, error) {
	m, ok := msg.(*staged)
	if !ok || m.s != s {
		return 0, fmt.Errorf("%w: message was not staged by this store", store.ErrInvalid)
	}
	if len(e.Recipients) == 0 {
		return 0, fmt.Errorf("%w: no recipient to queue", store.ErrInvalid)
	}
	contentID, discarded := m.delivered()
	if discarded {
		return 0, fmt.Errorf("%w: staged message was discarded", store.ErrInvalid)
	}
	syncDir := ""
	if m.ref != "" {
		syncDir = blobfs.Dir(m.ref)
	}
	var id, cid int64
	err := s.writeSync(ctx, syncDir, func(tx *txn) error {
		var err error
		if cid, err = tx.addContent(m, contentID, 1); err != nil {
			return err
		}
		var prefix any
		if len(e.HeaderPrefix) > 0 {
			prefix = e.HeaderPrefix
		}
		now := ms(tx.now)
		if err := tx.exec(`INSERT INTO queue (content_id, prefix, sender, envid, ret, utf8, eightbit, size, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, cid, prefix, e.From, e.EnvID, e.Ret, e.UTF8, e.EightBit,
			m.size+int64(len(e.HeaderPrefix)), now); err != nil {
			return err
		}
		id = tx.conn.LastInsertRowID()
		for _, r := range e.Recipients {
			if err := tx.exec(`INSERT INTO queue_recipients (queue_id, address, domain, notify, orcpt, next_attempt)
				VALUES (?, ?, ?, ?, ?, ?)`, id, r.Address, strings.ToLower(r.Domain), strings.Join(r.Notify, ","), r.ORcpt, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	m.setDelivered(cid)
	return id, nil
}

const queueColumns = "q.id, q.sender, q.envid, q.ret, q.utf8, q.eightbit, q.size, q.created"

func scanQueued(st *sqlite.Stmt) store.QueuedMessage {
	return store.QueuedMessage{
		ID:       st.ColumnInt64(0),
		From:     st.ColumnText(1),
		EnvID:    st.ColumnText(2),
		Ret:      st.ColumnText(3),
		UTF8:     st.ColumnBool(4),
		EightBit: st.ColumnBool(5),
		Size:     st.ColumnInt64(6),
		Created:  fromMS(st.ColumnInt64(7)),
	}
}

const recipientColumns = "r.id, r.queue_id, r.address, r.domain, r.notify, r.orcpt, r.attempts, r.next_attempt, r.last_attempt, r.last_error, r.lease_until, r.warned"

func scanRecipient(st *sqlite.Stmt) (int64, store.QueuedRecipient) {
	r := store.QueuedRecipient{
		ID: st.ColumnInt64(0),
		QueueRecipient: store.QueueRecipient{
			Address: st.ColumnText(2),
			Domain:  st.ColumnText(3),
			ORcpt:   st.ColumnText(5),
		},
		Attempts:    st.ColumnInt(6),
		NextAttempt: fromMS(st.ColumnInt64(7)),
		LastAttempt: fromMS(st.ColumnInt64(8)),
		LastError:   st.ColumnText(9),
		LeasedUntil: fromMS(st.ColumnInt64(10)),
		Warned:      st.ColumnBool(11),
	}
	if n := st.ColumnText(4); n != "" {
		r.Notify = strings.Split(n, ",")
	}
	return st.ColumnInt64(1), r
}

// ClaimQueued implements store.Queue. The claim is one write transaction,
// so two workers can never lease the same recipient.
func (s *Store) ClaimQueued(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.QueueBatch, error) {
	var batches []store.QueueBatch
	until := now.Add(lease)
	err := s.write(ctx, func(tx *txn) error {
		batches = nil
		type key struct {
			id     int64
			domain string
		}
		index := map[key]int{}
		msgs := map[int64]store.QueuedMessage{}
		var ids []int64
		err := tx.query("SELECT "+recipientColumns+" FROM queue_recipients r WHERE r.next_attempt <= ?1 AND r.lease_until <= ?1 ORDER BY r.next_attempt, r.id LIMIT ?2",
			func(st *sqlite.Stmt) error {
				qid, r := scanRecipient(st)
				k := key{qid, r.Domain}
				i, ok := index[k]
				if !ok {
					i = len(batches)
					index[k] = i
					batches = append(batches, store.QueueBatch{Message: store.QueuedMessage{ID: qid}, Domain: r.Domain, LeaseUntil: until})
				}
				r.LeasedUntil = until
				batches[i].Message.Recipients = append(batches[i].Message.Recipients, r)
				ids = append(ids, r.ID)
				return nil
			}, ms(now), limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := tx.exec("UPDATE queue_recipients SET lease_owner = ?, lease_until = ? WHERE id = ?", owner, ms(until), id); err != nil {
				return err
			}
		}
		for i := range batches {
			qid := batches[i].Message.ID
			m, ok := msgs[qid]
			if !ok {
				if err := tx.query("SELECT "+queueColumns+" FROM queue q WHERE q.id = ?", func(st *sqlite.Stmt) error {
					m, ok = scanQueued(st), true
					return nil
				}, qid); err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("queue recipient without message %d", qid)
				}
				msgs[qid] = m
			}
			m.Recipients = batches[i].Message.Recipients
			batches[i].Message = m
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim queue: %w", err)
	}
	return batches, nil
}

// FinishQueued implements store.Queue. A recipient reported Done leaves
// the queue even if the lease was lost meanwhile: it must not be sent
// again. A retry is recorded only by the lease's owner.
func (s *Store) FinishQueued(ctx context.Context, owner string, outcomes []store.QueueOutcome) error {
	err := s.write(ctx, func(tx *txn) error {
		touched := map[int64]bool{}
		for _, o := range outcomes {
			var qid int64
			if err := tx.query("SELECT queue_id FROM queue_recipients WHERE id = ?", func(st *sqlite.Stmt) error {
				qid = st.ColumnInt64(0)
				return nil
			}, o.RecipientID); err != nil {
				return err
			}
			if qid == 0 {
				continue // dropped meanwhile
			}
			if o.Done {
				if err := tx.exec("DELETE FROM queue_recipients WHERE id = ?", o.RecipientID); err != nil {
					return err
				}
				touched[qid] = true
				continue
			}
			if err := tx.exec(`UPDATE queue_recipients SET attempts = attempts + 1, next_attempt = ?, last_attempt = ?,
				last_error = ?, warned = warned OR ?, lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`,
				ms(o.NextAttempt), ms(tx.now), o.LastError, o.Warned, o.RecipientID, owner); err != nil {
				return err
			}
		}
		for qid := range touched {
			if err := tx.removeQueuedIfDone(qid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: finish queued: %w", err)
	}
	return nil
}

// removeQueuedIfDone removes a queued message left without recipients.
func (tx *txn) removeQueuedIfDone(qid int64) error {
	left := false
	if err := tx.query("SELECT 1 FROM queue_recipients WHERE queue_id = ? LIMIT 1", func(*sqlite.Stmt) error {
		left = true
		return nil
	}, qid); err != nil || left {
		return err
	}
	return tx.removeQueued(qid)
}

func (tx *txn) removeQueued(qid int64) error {
	var cid int64
	if err := tx.query("DELETE FROM queue WHERE id = ? RETURNING content_id", func(st *sqlite.Stmt) error {
		cid = st.ColumnInt64(0)
		return nil
	}, qid); err != nil {
		return err
	}
	if cid == 0 {
		return nil
	}
	return tx.releaseContent(cid)
}

// QueuedMessages implements store.Queue.
func (s *Store) QueuedMessages(ctx context.Context) ([]store.QueuedMessage, error) {
	var out []store.QueuedMessage
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		out = nil
		pos := map[int64]int{}
		if err := execConn(conn, "SELECT "+queueColumns+" FROM queue q ORDER BY q.id", func(st *sqlite.Stmt) error {
			m := scanQueued(st)
			pos[m.ID] = len(out)
			out = append(out, m)
			return nil
		}); err != nil {
			return err
		}
		return execConn(conn, "SELECT "+recipientColumns+" FROM queue_recipients r ORDER BY r.id", func(st *sqlite.Stmt) error {
			qid, r := scanRecipient(st)
			if i, ok := pos[qid]; ok {
				out[i].Recipients = append(out[i].Recipients, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list queue: %w", err)
	}
	return out, nil
}

// QueuedMessage implements store.Queue.
func (s *Store) QueuedMessage(ctx context.Context, id int64) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	err := s.read(ctx, func(conn *sqlite.Conn) error {
		found := false
		if err := execConn(conn, "SELECT "+queueColumns+" FROM queue q WHERE q.id = ?", func(st *sqlite.Stmt) error {
			m, found = scanQueued(st), true
			return nil
		}, id); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
		}
		return execConn(conn, "SELECT "+recipientColumns+" FROM queue_recipients r WHERE r.queue_id = ? ORDER BY r.id", func(st *sqlite.Stmt) error {
			_, r := scanRecipient(st)
			m.Recipients = append(m.Recipients, r)
			return nil
		}, id)
	})
	return m, err
}

// OpenQueued implements store.Queue.
func (s *Store) OpenQueued(ctx context.Context, id int64) (store.Body, error) {
	var r row
	found := false
	err := s.query(ctx, `SELECT c.blob, q.prefix, c.body FROM queue q JOIN contents c ON c.id = q.content_id WHERE q.id = ?`, func(st *sqlite.Stmt) error {
		found = true
		r = row{blob: st.ColumnText(0), prefix: columnBytes(st, 1), inline: columnBytes(st, 2)}
		return nil
	}, id)
	if err == nil && !found {
		err = fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if r.blob == "" {
		return &body{prefix: r.prefix, f: bytes.NewReader(r.inline), obs: s.opts.Observer, size: int64(len(r.prefix) + len(r.inline))}, nil
	}
	f, err := s.blobs.Open(r.blob)
	if err != nil {
		return nil, fmt.Errorf("store: body of queued message %d: %w", id, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return &body{prefix: r.prefix, f: f, obs: s.opts.Observer, size: int64(len(r.prefix)) + info.Size()}, nil
}

// RetryQueued implements store.Queue.
func (s *Store) RetryQueued(ctx context.Context, id int64, now time.Time) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *txn) error {
		q := "UPDATE queue_recipients SET next_attempt = ? WHERE lease_until <= ?"
		args := []any{ms(now), ms(now)}
		if id != 0 {
			q += " AND queue_id = ?"
			args = append(args, id)
		}
		if err := tx.exec(q, args...); err != nil {
			return err
		}
		n = tx.conn.Changes()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: retry queued: %w", err)
	}
	return n, nil
}

// DropQueued implements store.Queue.
func (s *Store) DropQueued(ctx context.Context, id int64) (store.QueuedMessage, error) {
	m, err := s.QueuedMessage(ctx, id)
	if err != nil {
		return m, err
	}
	err = s.write(ctx, func(tx *txn) error {
		if err := tx.exec("DELETE FROM queue_recipients WHERE queue_id = ?", id); err != nil {
			return err
		}
		return tx.removeQueued(id)
	})
	if err != nil {
		return m, fmt.Errorf("store: drop queued: %w", err)
	}
	return m, nil
}

// NextQueued implements store.Queue.
func (s *Store) NextQueued(ctx context.Context) (time.Time, error) {
	var next int64
	err := s.query(ctx, "SELECT min(max(next_attempt, lease_until)) FROM queue_recipients", func(st *sqlite.Stmt) error {
		next = st.ColumnInt64(0)
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: next queued: %w", err)
	}
	return fromMS(next), nil
}

// RenewQueued implements store.Queue.
func (s *Store) RenewQueued(ctx context.Context, owner string, ids []int64, until time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var renewed []int64
	err := s.write(ctx, func(tx *txn) error {
		renewed = renewed[:0]
		for _, id := range ids {
			if err := tx.query("UPDATE queue_recipients SET lease_until = ? WHERE id = ? AND lease_owner = ? RETURNING id", func(st *sqlite.Stmt) error {
				renewed = append(renewed, st.ColumnInt64(0))
				return nil
			}, ms(until), id, owner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: renew queue leases: %w", err)
	}
	slices.Sort(renewed)
	return renewed, nil
}

// ReleaseQueued implements store.Queue.
func (s *Store) ReleaseQueued(ctx context.Context, owner string) error {
	err := s.write(ctx, func(tx *txn) error {
		return tx.exec("UPDATE queue_recipients SET lease_owner = '', lease_until = 0 WHERE lease_owner = ?", owner)
	})
	if err != nil {
		return fmt.Errorf("store: release queue leases: %w", err)
	}
	return nil
}

// QueueStats implements store.Queue.
func (s *Store) QueueStats(ctx context.Context) (store.QueueStats, error) {
	var qs store.QueueStats
	err := s.query(ctx, "SELECT count(*), min(created), (SELECT count(*) FROM queue_recipients) FROM queue", func(st *sqlite.Stmt) error {
		qs.Messages = st.ColumnInt(0)
		if st.ColumnType(1) != sqlite.TypeNull {
			qs.Oldest = fromMS(st.ColumnInt64(1))
		}
		qs.Recipients = st.ColumnInt(2)
		return nil
	})
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	return qs, nil
}
