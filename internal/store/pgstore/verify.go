package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

var _ store.Verifier = (*Store)(nil)

// Verify implements store.Verifier, in one read-only REPEATABLE READ
// transaction: a snapshot of the database while the nodes go on writing.
// PostgreSQL checks its own pages (checksums, if the cluster has them) as
// it reads; what is checked here is what the rows promise each other, and
// that each body's chunks add up to it.
func (s *Store) Verify(ctx context.Context, report func(store.Problem)) (sum store.VerifySummary, err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return sum, fmt.Errorf("verify: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	problem := func(check, format string, args ...any) {
		report(store.Problem{Check: check, Detail: fmt.Sprintf(format, args...)})
	}
	q := func(what, query string, fn func(vals []any)) {
		if err != nil {
			return
		}
		rows, e := tx.Query(ctx, query)
		if e != nil {
			err = fmt.Errorf("verify: %s: %w", what, e)
			return
		}
		defer rows.Close()
		for rows.Next() {
			vals, e := rows.Values()
			if e != nil {
				err = fmt.Errorf("verify: %s: %w", what, e)
				return
			}
			fn(vals)
		}
		if e := rows.Err(); e != nil {
			err = fmt.Errorf("verify: %s: %w", what, e)
		}
	}
	q("counts", `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM contents)`, func(v []any) {
		sum.Accounts, sum.Mailboxes, sum.Messages, sum.Contents = v[0].(int64), v[1].(int64), v[2].(int64), v[3].(int64)
	})
	for _, c := range store.ConsistencyChecks {
		q(c.Check, c.Query, func(v []any) { problem(c.Check, c.Format, v...) })
	}
	q("bodies", `SELECT c.id, c.size, length(c.body) FROM contents c WHERE c.blob = '' AND (c.body IS NULL OR length(c.body) != c.size)`, func(v []any) {
		if v[2] == nil {
			problem("body", "content %d has neither a blob nor an inline body", v[0])
		} else {
			problem("body", "content %d: inline body is %d bytes, the row says %d", v[0], v[2], v[1])
		}
	})
	// A blob's chunk lengths come from the TOAST pointers: the bytes are
	// not read.
	q("blobs", `SELECT c.id, c.blob, c.size, b.id IS NULL, coalesce(b.complete, false), coalesce(b.size, 0),
			coalesce(k.n, 0), coalesce(k.bytes, 0), coalesce(k.maxseq, -1)
		FROM contents c
		LEFT JOIN blobs b ON 'pg:' || b.id = c.blob
		LEFT JOIN (SELECT blob_id, count(*) AS n, sum(octet_length(data))::bigint AS bytes, max(seq) AS maxseq
			FROM blob_chunks GROUP BY blob_id) k ON k.blob_id = b.id
		WHERE c.blob != ''`, func(v []any) {
		id, ref, size := v[0], v[1], v[2].(int64)
		sum.Blobs++
		switch {
		case v[3].(bool):
			problem("body", "content %d: blob %s is missing", id, ref)
		case !v[4].(bool):
			problem("body", "content %d: blob %s was never completed", id, ref)
		case v[5].(int64) != size:
			problem("body", "content %d: blob %s is %d bytes, the row says %d", id, ref, v[5], size)
		case v[7].(int64) != size:
			problem("body", "content %d: the chunks of blob %s hold %d bytes, the row says %d", id, ref, v[7], size)
		case v[6].(int64) != int64(v[8].(int32))+1:
			problem("body", "content %d: blob %s has %d chunks numbered up to %d", id, ref, v[6], v[8])
		default:
			sum.BlobBytes += size
		}
	})
	q("uploads", `SELECT u.id, u.blob, u.size, b.id IS NULL, coalesce(b.complete, false), coalesce(b.size, 0),
			coalesce(k.n, 0), coalesce(k.bytes, 0), coalesce(k.maxseq, -1)
		FROM uploads u
		LEFT JOIN blobs b ON 'pg:' || b.id = u.blob
		LEFT JOIN (SELECT blob_id, count(*) AS n, sum(octet_length(data))::bigint AS bytes, max(seq) AS maxseq
			FROM blob_chunks GROUP BY blob_id) k ON k.blob_id = b.id`, func(v []any) {
		id, ref, size := v[0], v[1], v[2].(int64)
		sum.Uploads++
		sum.Blobs++
		switch {
		case v[3].(bool):
			problem("body", "upload %s: blob %s is missing", id, ref)
		case !v[4].(bool):
			problem("body", "upload %s: blob %s was never completed", id, ref)
		case v[5].(int64) != size:
			problem("body", "upload %s: blob %s is %d bytes, the row says %d", id, ref, v[5], size)
		case v[7].(int64) != size:
			problem("body", "upload %s: the chunks of blob %s hold %d bytes, the row says %d", id, ref, v[7], size)
		case v[6].(int64) != int64(v[8].(int32))+1:
			problem("body", "upload %s: blob %s has %d chunks numbered up to %d", id, ref, v[6], v[8])
		default:
			sum.BlobBytes += size
		}
	})
	q("unreferenced", `SELECT count(*) FROM blobs b
		WHERE NOT EXISTS (SELECT 1 FROM contents c WHERE c.blob = 'pg:' || b.id AND c.blob != '')
		AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.blob = 'pg:' || b.id)`, func(v []any) {
		sum.Unreferenced = v[0].(int64)
	})
	return sum, err
}
