package pgstore

import (
	"context"
	"fmt"
	"time"

	"mailroom/internal/store"
)

// Maintenance: sqlitestore's periodic jobs (open.go, maintain) on
// PostgreSQL, for a long-running server (Options.Maintenance).
//
//   - The change log is pruned after changelogKeep, as on SQLite: a node
//     reads it within moments of each commit (feed.go), so an hour covers
//     any listener outage worth catching up from; a node away longer has
//     restarted or resynchronises its subscribers anyway.
//   - Bodies a crash left behind are swept (Blobs.Sweep): blobs whose
//     writer died before Commit, and complete ones no message or queue
//     entry references because their node died between staging and
//     delivery. Only after sweepAge, since a body can legitimately be
//     unfinished (a slow upload) or staged and not yet delivered for a
//     while, on any node; a body a delivery takes up again is made young
//     by the delivery itself (txn.useBlob), so a sweep cannot race it.
//   - Vacation replies older than the longest vacation interval go.
//   - Uploads older than store.UploadLifetime go, with their bodies
//     (DeleteExpiredUploads).
//
// Every node may run it. Each round first takes a session advisory lock
// with pg_try_advisory_lock, so one node does a round while the others
// skip theirs; the jobs are single idempotent statements besides, so two
// rounds at once (a lock lost with its connection mid-round) do no harm.

// DefaultMaintenanceInterval is Options.MaintenanceInterval's default:
// SQLite's.
const DefaultMaintenanceInterval = 5 * time.Minute

const (
	changelogKeep = time.Hour
	sweepAge      = 24 * time.Hour
)

// maintenanceLock is the advisory lock key of a maintenance round
// ("mailmain" in ASCII; migrate's is "mailroom").
const maintenanceLock int64 = 0x6d61696c6d61696e

// maintenanceDone says what a round did, for the log and tests.
type maintenanceDone struct {
	ran       bool // false: another node held the lock
	changelog int64
	blobs     int64
	vacation  int64
	uploads   int64
}

// maintain runs a maintenance round every interval until ctx ends.
func (s *Store) maintain(ctx context.Context, interval time.Duration) {
	defer close(s.maintained)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d, err := s.maintainOnce(ctx, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("store: maintenance round failed; will try again", "err", err)
			}
			continue
		}
		if d.changelog+d.blobs+d.vacation+d.uploads > 0 {
			s.log.Info("store: maintenance", "changelog_rows", d.changelog, "orphaned_bodies", d.blobs, "vacation_replies", d.vacation, "expired_uploads", d.uploads)
		}
	}
}

// maintainOnce runs one round, unless another node is running one.
func (s *Store) maintainOnce(ctx context.Context, now time.Time) (maintenanceDone, error) {
	var d maintenanceDone
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return d, fmt.Errorf("maintenance: %w", err)
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", maintenanceLock).Scan(&d.ran); err != nil {
		return d, fmt.Errorf("maintenance: lock: %w", err)
	}
	if !d.ran {
		return d, nil
	}
	defer func() {
		// A session lock: released here, or with the connection if this
		// fails (then the pool must not hand that connection out again
		// holding it).
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", maintenanceLock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	tag, err := conn.Exec(ctx, "DELETE FROM changelog WHERE created < $1", now.Add(-changelogKeep).Unix())
	if err != nil {
		return d, fmt.Errorf("maintenance: prune change log: %w", err)
	}
	d.changelog = tag.RowsAffected()
	if d.blobs, err = s.Blobs().Sweep(ctx, sweepAge); err != nil {
		return d, fmt.Errorf("maintenance: %w", err)
	}
	tag, err = conn.Exec(ctx, "DELETE FROM vacation_replies WHERE sent < $1", now.Add(-store.MaxVacationInterval).Unix())
	if err != nil {
		return d, fmt.Errorf("maintenance: prune vacation replies: %w", err)
	}
	d.vacation = tag.RowsAffected()
	n, err := s.DeleteExpiredUploads(ctx, now.Add(-store.UploadLifetime))
	if err != nil {
		return d, fmt.Errorf("maintenance: %w", err)
	}
	d.uploads = int64(n)
	if _, err := conn.Exec(ctx, "DELETE FROM email_submissions WHERE send_at < $1 AND undo_status != 'pending'", now.Add(-store.EmailSubmissionKeep).Unix()); err != nil {
		return d, fmt.Errorf("maintenance: prune email submissions: %w", err)
	}
	return d, nil
}
