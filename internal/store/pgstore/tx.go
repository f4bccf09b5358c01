package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailroom/internal/store"
)

// changelog kinds, the same numbers as sqlitestore's, so that copying an
// installation between the backends keeps the log meaningful.
const (
	changeMessages  = 1 // messages of MailboxID changed up to ModSeq
	changeMailboxes = 2 // the account's mailbox list changed
	changeAccount   = 3 // the account (settings, credentials, existence) changed
	changeACL       = 4 // the access control list of MailboxID changed
)

// maxAttempts bounds how often a write is retried after PostgreSQL aborted
// it for a conflict with a concurrent one (another node's, say).
const maxAttempts = 10

// txn is one write transaction.
type txn struct {
	pgx.Tx
	ctx    context.Context
	now    time.Time
	origin int64
	// events are the in-process change events of this attempt, published
	// once it has committed (events.go) (a retried attempt starts afresh).
	events []store.Event
	// usage are this attempt's changes to quota usage, applied (and
	// checked) before the commit by applyUsage (quota.go).
	usage store.QuotaDeltas
	// prev is, per mailbox whose modseq this attempt bumped, its highest
	// modseq before the first bump: with one counter per account a
	// mailbox's modseqs have gaps, so the publisher's catch-up
	// (events.go) cannot derive it from the events.
	prev map[int64]uint64
}

// notePrev records a mailbox's modseq before the attempt's first bump of it.
func (tx *txn) notePrev(mailboxID int64, modseq uint64) {
	if tx.prev == nil {
		tx.prev = map[int64]uint64{}
	}
	if _, ok := tx.prev[mailboxID]; !ok {
		tx.prev[mailboxID] = modseq
	}
}

// nextModSeq takes the account's next modseq (store.AccountChanges). The
// UPDATE holds the account's row lock until the commit, so the account's
// writers commit in the order of their modseqs: a reader that sees the
// counter at N has every commit with a modseq up to N. (A sequence would
// hand numbers out outside the transactions' order.) Writes that touch
// mailboxes lock those first, then their accounts, in id order.
func (tx *txn) nextModSeq(accountID int64) (uint64, error) {
	var modseq int64
	err := tx.QueryRow(tx.ctx, "UPDATE accounts SET modseq = modseq + 1 WHERE id = $1 RETURNING modseq", accountID).Scan(&modseq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	return uint64(modseq), err
}

// lockAccounts locks the rows of the accounts owning mailboxes, in id
// order, for a write that takes modseqs of several accounts (a delivery
// to several recipients, a copy into another account's folder): two such
// writes then queue on the first account they share instead of locking
// two accounts in opposite orders. The mailboxes are locked already.
func (tx *txn) lockAccounts(mailboxes []int64) error {
	_, err := tx.exec(`SELECT 1 FROM accounts WHERE id IN (SELECT account_id FROM mailboxes WHERE id = ANY($1))
		ORDER BY id FOR NO KEY UPDATE`, mailboxes)
	return err
}

// publish records an event to hand out after the commit.
func (tx *txn) publish(e store.Event) { tx.events = append(tx.events, e) }

// write runs fn in a SERIALIZABLE transaction and commits it. Several
// nodes write the same database, and the checks the store makes before a
// write (is this address taken? is the domain empty?) are only sound if no
// concurrent transaction changes the answer before the commit:
// SERIALIZABLE makes PostgreSQL abort one of two such transactions, and
// write runs the aborted one again, where the check now sees the other's
// result. Writes that reach the Directory are rare and short, so the cost
// of serializable isolation does not matter there.
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) error {
	return s.writeIso(ctx, pgx.Serializable, fn)
}

// writeAccount runs fn in a READ COMMITTED transaction that first locks
// the account's row, so that writes of one account run one after another,
// each seeing what the previous committed. It is for the per-account
// bounds (so many app passwords, so many web sessions), where many logins
// at once would make SERIALIZABLE transactions abort each other faster
// than their retries get through. FOR NO KEY UPDATE does not block the
// key-share locks that inserts referencing the account take.
func (s *Store) writeAccount(ctx context.Context, accountID int64, fn func(tx *txn) error) error {
	return s.writeIso(ctx, pgx.ReadCommitted, func(tx *txn) error {
		ok, err := tx.exists("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", accountID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		return fn(tx)
	})
}

// writeIso is write at the given isolation level (see writeMessages for
// the one that is not SERIALIZABLE).
func (s *Store) writeIso(ctx context.Context, iso pgx.TxIsoLevel, fn func(tx *txn) error) error {
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, iso, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return mapError(err)
		}
		// Jitter, so that the two conflicting writers do not meet again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond):
		}
	}
}

func (s *Store) writeOnce(ctx context.Context, iso pgx.TxIsoLevel, fn func(tx *txn) error) (err error) {
	start := time.Now()
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			// Rolling back a failed transaction tells nothing new.
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	tx := &txn{Tx: ptx, ctx: ctx, now: time.Now(), origin: s.origin}
	if err := fn(tx); err != nil {
		return err
	}
	// Whatever fn changed, the usage follows in the same transaction; a
	// write over quota fails here and rolls back.
	if err := tx.applyUsage(); err != nil {
		return err
	}
	// The ticket is taken while the transaction still holds its mailboxes'
	// row locks: that is what orders the events (events.go).
	t := s.changes.pub.register(tx.events, tx.prev)
	done := false
	defer func() {
		// Only if Commit panicked: the writes queued behind this ticket
		// must not wait for it for ever.
		if !done {
			s.changes.pub.abandon(t, true)
		}
	}()
	if err := ptx.Commit(ctx); err != nil {
		done = true
		var pgErr *pgconn.PgError
		s.changes.pub.abandon(t, !errors.As(err, &pgErr))
		return fmt.Errorf("commit: %w", err)
	}
	done = true
	s.opts.Observer.Commit(time.Since(start), 1)
	s.changes.pub.publish(t)
	return nil
}

// retryable reports a conflict with a concurrent transaction: doing the
// same again can succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01") // serialization_failure, deadlock_detected
}

// mapError turns a unique violation the checks did not foresee into
// store.ErrExists: what the caller meant to create is there, and a lost
// connection into store.ErrUnavailable (unavailable.go).
func mapError(err error) error {
	err = unavailable(err)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%w: %v", store.ErrExists, err)
	}
	return err
}

func (tx *txn) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	return tx.Exec(tx.ctx, sql, args...)
}

// exists reports whether the query returns a row.
func (tx *txn) exists(sql string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRow(tx.ctx, sql, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// changed records a change in the change log, in the same transaction, for
// the other nodes' change feeds to pick up (they skip this node's rows).
// This node's own subscribers get the detailed events the write publishes
// (tx.publish) instead; an account change, which has no details, is
// published as such.
func (tx *txn) changed(account, mailbox int64, modseq uint64, kind int) error {
	if kind == changeAccount {
		tx.publish(store.Event{Kind: store.EventAccountChanged, AccountID: account})
	}
	_, err := tx.exec(`INSERT INTO changelog (origin, account_id, mailbox_id, modseq, kind, created) VALUES ($1, $2, $3, $4, $5, $6)`,
		tx.origin, account, mailbox, int64(modseq), kind, tx.now.Unix())
	return err
}
