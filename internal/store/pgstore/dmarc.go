package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store"
)

var _ store.DMARCLog = (*Store)(nil)

const dmarcColumns = "day, policy_domain, policy, report_to, source_ip, header_from, envelope_from, disposition, dkim, spf, override, auth_results, count"

// AddDMARCResult implements store.DMARCLog: one upsert, and a new row only
// while the table is under its bound. The bound is a count: SERIALIZABLE
// makes nodes adding rows at once conflict and retry, so the table never
// passes it.
func (s *Store) AddDMARCResult(ctx context.Context, r store.DMARCResult) error {
	day := r.Day.UTC().Truncate(24 * time.Hour).Unix()
	err := s.write(ctx, func(tx *txn) error {
		args := []any{day, r.PolicyDomain, r.Policy, r.ReportTo, r.SourceIP, r.HeaderFrom, r.EnvelopeFrom,
			r.Disposition, r.DKIM, r.SPF, r.Override, r.AuthResults}
		tag, err := tx.exec(`UPDATE dmarc_results SET count = count + 1 WHERE day = $1 AND policy_domain = $2
			AND policy = $3 AND report_to = $4 AND source_ip = $5 AND header_from = $6 AND envelope_from = $7
			AND disposition = $8 AND dkim = $9 AND spf = $10 AND override = $11 AND auth_results = $12`, args...)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		_, err = tx.exec(`INSERT INTO dmarc_results (`+dmarcColumns+`)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1
			WHERE (SELECT count(*) FROM dmarc_results) < $13`, append(args, s.dmarcRows())...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: add DMARC result: %w", err)
	}
	return nil
}

func (s *Store) dmarcRows() int {
	if s.opts.DMARCRows > 0 {
		return s.opts.DMARCRows
	}
	return store.MaxDMARCRows
}

// DMARCResults implements store.DMARCLog.
func (s *Store) DMARCResults(ctx context.Context, before time.Time) ([]store.DMARCResult, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+dmarcColumns+" FROM dmarc_results WHERE day < $1 ORDER BY day, policy_domain, source_ip", before.Unix())
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DMARCResult, error) {
		var r store.DMARCResult
		var day, count int64
		err := row.Scan(&day, &r.PolicyDomain, &r.Policy, &r.ReportTo, &r.SourceIP, &r.HeaderFrom, &r.EnvelopeFrom,
			&r.Disposition, &r.DKIM, &r.SPF, &r.Override, &r.AuthResults, &count)
		r.Day, r.Count = time.Unix(day, 0).UTC(), int(count)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: DMARC results: %w", err)
	}
	return out, nil
}

// DeleteDMARCResults implements store.DMARCLog.
func (s *Store) DeleteDMARCResults(ctx context.Context, before time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		_, err := tx.exec("DELETE FROM dmarc_results WHERE day < $1", before.Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete DMARC results: %w", err)
	}
	return nil
}
