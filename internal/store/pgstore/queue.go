package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

// The outbound queue follows sqlitestore (queue.go): one queue row per
// message, sharing its body with deliveries through contents, and one
// queue_recipients row per recipient with its schedule and lease. Times
// are Unix milliseconds, taken from the callers' clocks (as on SQLite):
// nodes must keep their clocks in sync, as NTP does, for leases to mean
// the same on all of them.
//
// Across nodes:
//   - ClaimQueued leases recipients with SELECT … FOR UPDATE SKIP LOCKED in
//     one short statement: workers on every node claim at once, each skips
//     the rows another is claiming, and a row whose lease a concurrent
//     claim has just taken is re-checked when it is locked, so no
//     recipient is leased twice.
//   - A lease is held by owner plus this process's own token (leaseOwner):
//     the queue's owner is the host name, which every node of one
//     installation may share, and a node must not record results for, or
//     release, another node's leases. A process that died holds its leases
//     until they expire; any node then takes them over.
//   - Writes that remove recipients lock their messages' queue rows first
//     (in id order), so that of two nodes finishing a message's last two
//     recipients at once, the second sees the first's removal and removes
//     the message and its body: at READ COMMITTED neither would otherwise.

var _ store.Queue = (*Store)(nil)

// With the queue, pgstore implements the whole store.
var _ store.Store = (*Store)(nil)

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

// leaseOwner is the lease_owner recorded for owner's claims in this
// process (see the comment at the top).
func (s *Store) leaseOwner(owner string) string {
	return owner + " #" + strconv.FormatInt(s.origin, 36)
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
	n := len(e.Recipients)
	addrs, domains, notify, orcpt := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range e.Recipients {
		addrs[i], domains[i], notify[i], orcpt[i] = r.Address, strings.ToLower(r.Domain), strings.Join(r.Notify, ","), r.ORcpt
	}
	var id, cid int64
	err := s.writeMessages(ctx, func(tx *txn) error {
		var err error
		if cid, err = tx.addContent(m, contentID, 1); err != nil {
			return err
		}
		now := ms(tx.now)
		// One statement for the message and all its recipients: the
		// recipients keep their order (ids ascending), as on SQLite.
		return tx.QueryRow(tx.ctx, `WITH q AS (
				INSERT INTO queue (content_id, prefix, sender, envid, ret, utf8, eightbit, size, created)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id),
			r AS (
				INSERT INTO queue_recipients (queue_id, address, domain, notify, orcpt, next_attempt)
				SELECT q.id, a, d, n, o, $9 FROM q, unnest($10::text[], $11::text[], $12::text[], $13::text[]) WITH ORDINALITY AS u(a, d, n, o, i)
				ORDER BY u.i)
			SELECT id FROM q`,
			cid, nilIfEmpty(e.HeaderPrefix), e.From, e.EnvID, e.Ret, e.UTF8, e.EightBit, m.size+int64(len(e.HeaderPrefix)), now,
			addrs, domains, notify, orcpt).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	m.setDelivered(cid)
	return id, nil
}

const queueColumns = "q.id, q.sender, q.envid, q.ret, q.utf8, q.eightbit, q.size, q.created"

func scanQueued(rows pgx.CollectableRow) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	var created int64
	err := rows.Scan(&m.ID, &m.From, &m.EnvID, &m.Ret, &m.UTF8, &m.EightBit, &m.Size, &created)
	m.Created = fromMS(created)
	return m, err
}

const recipientColumns = "r.id, r.queue_id, r.address, r.domain, r.notify, r.orcpt, r.attempts, r.next_attempt, r.last_attempt, r.last_error, r.lease_until, r.warned"

func scanRecipient(rows pgx.CollectableRow) (int64, store.QueuedRecipient, error) {
	var r store.QueuedRecipient
	var qid, attempts, next, last, until int64
	var notify string
	err := rows.Scan(&r.ID, &qid, &r.Address, &r.Domain, &notify, &r.ORcpt, &attempts, &next, &last, &r.LastError, &until, &r.Warned)
	r.Attempts = int(attempts)
	r.NextAttempt, r.LastAttempt, r.LeasedUntil = fromMS(next), fromMS(last), fromMS(until)
	if notify != "" {
		r.Notify = strings.Split(notify, ",")
	}
	return qid, r, err
}

// queuedRecipient is a recipient row with its message's id.
type queuedRecipient struct {
	qid int64
	r   store.QueuedRecipient
}

func collectRecipients(rows pgx.Rows, err error) ([]queuedRecipient, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (queuedRecipient, error) {
		qid, r, err := scanRecipient(row)
		return queuedRecipient{qid, r}, err
	})
}

func collectQueued(rows pgx.Rows, err error) ([]store.QueuedMessage, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.QueuedMessage, error) { return scanQueued(row) })
}

// ClaimQueued implements store.Queue (see the comment at the top).
func (s *Store) ClaimQueued(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.QueueBatch, error) {
	var batches []store.QueueBatch
	until := now.Add(lease)
	err := s.writeMessages(ctx, func(tx *txn) error {
		batches = nil
		claimed, err := collectRecipients(tx.Query(tx.ctx, `WITH due AS (
				SELECT id FROM queue_recipients WHERE next_attempt <= $1 AND lease_until <= $1
				ORDER BY next_attempt, id LIMIT $2 FOR UPDATE SKIP LOCKED)
			UPDATE queue_recipients r SET lease_owner = $3, lease_until = $4 FROM due WHERE r.id = due.id
			RETURNING `+recipientColumns, ms(now), limit, s.leaseOwner(owner), ms(until)))
		if err != nil || len(claimed) == 0 {
			return err
		}
		// RETURNING has no order: the most overdue first, as on SQLite.
		slices.SortFunc(claimed, func(a, b queuedRecipient) int {
			if c := a.r.NextAttempt.Compare(b.r.NextAttempt); c != 0 {
				return c
			}
			return int(a.r.ID - b.r.ID)
		})
		var qids []int64
		for _, c := range claimed {
			qids = append(qids, c.qid)
		}
		msgs, err := collectQueued(tx.Query(tx.ctx, "SELECT "+queueColumns+" FROM queue q WHERE q.id = ANY($1)", qids))
		if err != nil {
			return err
		}
		byID := map[int64]store.QueuedMessage{}
		for _, m := range msgs {
			byID[m.ID] = m
		}
		type key struct {
			id     int64
			domain string
		}
		index := map[key]int{}
		for _, c := range claimed {
			m, ok := byID[c.qid]
			if !ok {
				return fmt.Errorf("queue recipient without message %d", c.qid)
			}
			k := key{c.qid, c.r.Domain}
			i, ok := index[k]
			if !ok {
				i = len(batches)
				index[k] = i
				m.Recipients = nil
				batches = append(batches, store.QueueBatch{Message: m, Domain: c.r.Domain, LeaseUntil: until})
			}
			batches[i].Message.Recipients = append(batches[i].Message.Recipients, c.r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim queue: %w", err)
	}
	return batches, nil
}

// lockQueued locks the queue rows of messages qids, in id order, until the
// commit, and returns those that still exist.
func (tx *txn) lockQueued(qids []int64) ([]int64, error) {
	slices.Sort(qids)
	qids = slices.Compact(qids)
	rows, err := tx.Query(tx.ctx, "SELECT id FROM queue WHERE id = ANY($1) ORDER BY id FOR UPDATE", qids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// FinishQueued implements store.Queue. A recipient reported Done leaves
// the queue even if the lease was lost meanwhile: it was delivered (or
// bounced) and must not be sent again. A retry is recorded only under the
// lease it was claimed with: a worker whose lease expired and was taken
// over by another node's must not reschedule that node's claim.
func (s *Store) FinishQueued(ctx context.Context, owner string, outcomes []store.QueueOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	ids := make([]int64, len(outcomes))
	for i, o := range outcomes {
		ids[i] = o.RecipientID
	}
	lease := s.leaseOwner(owner)
	err := s.writeMessages(ctx, func(tx *txn) error {
		rows, err := tx.Query(tx.ctx, "SELECT DISTINCT queue_id FROM queue_recipients WHERE id = ANY($1)", ids)
		if err != nil {
			return err
		}
		qids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(qids) == 0 {
			return nil // all dropped meanwhile
		}
		if qids, err = tx.lockQueued(qids); err != nil {
			return err
		}
		for _, o := range outcomes {
			if o.Done {
				if _, err := tx.exec("DELETE FROM queue_recipients WHERE id = $1", o.RecipientID); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.exec(`UPDATE queue_recipients SET attempts = attempts + 1, next_attempt = $1, last_attempt = $2,
				last_error = $3, warned = warned OR $4, lease_owner = '', lease_until = 0 WHERE id = $5 AND lease_owner = $6`,
				ms(o.NextAttempt), ms(tx.now), o.LastError, o.Warned, o.RecipientID, lease); err != nil {
				return err
			}
		}
		for _, qid := range qids {
			left, err := tx.exists("SELECT 1 FROM queue_recipients WHERE queue_id = $1 LIMIT 1", qid)
			if err != nil {
				return err
			}
			if !left {
				if err := tx.removeQueued(qid); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: finish queued: %w", err)
	}
	return nil
}

// removeQueued deletes a queued message (its recipients go by the foreign
// key) and releases its body.
func (tx *txn) removeQueued(qid int64) error {
	var cid int64
	err := tx.QueryRow(tx.ctx, "DELETE FROM queue WHERE id = $1 RETURNING content_id", qid).Scan(&cid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return tx.releaseContent(cid)
}

// queuedMessage reads a message with its recipients (ErrNotFound if it is
// not queued).
func queuedMessage(ctx context.Context, q querier, id int64) (store.QueuedMessage, error) {
	msgs, err := collectQueued(q.Query(ctx, "SELECT "+queueColumns+" FROM queue q WHERE q.id = $1", id))
	if err != nil {
		return store.QueuedMessage{}, err
	}
	if len(msgs) == 0 {
		return store.QueuedMessage{}, fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	m := msgs[0]
	rs, err := collectRecipients(q.Query(ctx, "SELECT "+recipientColumns+" FROM queue_recipients r WHERE r.queue_id = $1 ORDER BY r.id", id))
	for _, r := range rs {
		m.Recipients = append(m.Recipients, r.r)
	}
	return m, err
}

// QueuedMessages implements store.Queue: one snapshot for the messages and
// their recipients.
func (s *Store) QueuedMessages(ctx context.Context) ([]store.QueuedMessage, error) {
	var out []store.QueuedMessage
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = collectQueued(tx.Query(ctx, "SELECT "+queueColumns+" FROM queue q ORDER BY q.id")); err != nil {
			return err
		}
		pos := make(map[int64]int, len(out))
		for i, m := range out {
			pos[m.ID] = i
		}
		rs, err := collectRecipients(tx.Query(ctx, "SELECT "+recipientColumns+" FROM queue_recipients r ORDER BY r.id"))
		for _, r := range rs {
			if i, ok := pos[r.qid]; ok {
				out[i].Recipients = append(out[i].Recipients, r.r)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list queue: %w", err)
	}
	return out, nil
}

// QueuedMessage implements store.Queue.
func (s *Store) QueuedMessage(ctx context.Context, id int64) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		m, err = queuedMessage(ctx, tx, id)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("store: queued message: %w", err)
	}
	return m, nil
}

// OpenQueued implements store.Queue.
func (s *Store) OpenQueued(ctx context.Context, id int64) (store.Body, error) {
	var r row
	err := s.pool.QueryRow(ctx, `SELECT c.blob, q.prefix, c.body FROM queue q JOIN contents c ON c.id = q.content_id WHERE q.id = $1`,
		id).Scan(&r.blob, &r.prefix, &r.inline)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open queued: %w", err)
	}
	if r.blob == "" {
		return &body{prefix: r.prefix, r: bytes.NewReader(r.inline), obs: s.opts.Observer, size: int64(len(r.prefix) + len(r.inline))}, nil
	}
	br, err := s.Blobs().Open(ctx, r.blob)
	if err != nil {
		return nil, fmt.Errorf("store: body of queued message %d: %w", id, err)
	}
	return &body{prefix: r.prefix, r: br, closer: br, obs: s.opts.Observer, size: int64(len(r.prefix)) + br.Size()}, nil
}

// RetryQueued implements store.Queue. Leased recipients are being sent:
// they keep their schedule.
func (s *Store) RetryQueued(ctx context.Context, id int64, now time.Time) (int, error) {
	n := 0
	err := s.writeMessages(ctx, func(tx *txn) error {
		tag, err := tx.exec("UPDATE queue_recipients SET next_attempt = $1 WHERE lease_until <= $1 AND ($2::bigint = 0 OR queue_id = $2)", ms(now), id)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: retry queued: %w", err)
	}
	return n, nil
}

// DropQueued implements store.Queue. The message is read under its lock,
// so that of two concurrent drops one returns it and the other
// ErrNotFound.
func (s *Store) DropQueued(ctx context.Context, id int64) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	err := s.writeMessages(ctx, func(tx *txn) error {
		locked, err := tx.lockQueued([]int64{id})
		if err != nil {
			return err
		}
		if len(locked) == 0 {
			return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
		}
		if m, err = queuedMessage(tx.ctx, tx, id); err != nil {
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
	var next *int64
	if err := s.pool.QueryRow(ctx, "SELECT min(greatest(next_attempt, lease_until)) FROM queue_recipients").Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("store: next queued: %w", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return fromMS(*next), nil
}

// RenewQueued implements store.Queue: only this process's leases of owner.
// One statement; the rows another worker is claiming or finishing are
// waited for, and one whose lease another node took is left alone.
func (s *Store) RenewQueued(ctx context.Context, owner string, ids []int64, until time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var renewed []int64
	err := s.writeMessages(ctx, func(tx *txn) error {
		rows, err := tx.Query(tx.ctx, "UPDATE queue_recipients SET lease_until = $1 WHERE id = ANY($2) AND lease_owner = $3 RETURNING id",
			ms(until), ids, s.leaseOwner(owner))
		if err != nil {
			return err
		}
		renewed, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: renew queue leases: %w", err)
	}
	slices.Sort(renewed)
	return renewed, nil
}

// ReleaseQueued implements store.Queue: only this process's leases of
// owner (another node may have the same owner name).
func (s *Store) ReleaseQueued(ctx context.Context, owner string) error {
	err := s.writeMessages(ctx, func(tx *txn) error {
		_, err := tx.exec("UPDATE queue_recipients SET lease_owner = '', lease_until = 0 WHERE lease_owner = $1", s.leaseOwner(owner))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: release queue leases: %w", err)
	}
	return nil
}

// QueueStats implements store.Queue.
func (s *Store) QueueStats(ctx context.Context) (store.QueueStats, error) {
	var qs store.QueueStats
	var oldest *int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*), min(created), (SELECT count(*) FROM queue_recipients) FROM queue").
		Scan(&qs.Messages, &oldest, &qs.Recipients); err != nil {
		return store.QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	if oldest != nil {
		qs.Oldest = fromMS(*oldest)
	}
	return qs, nil
}
