package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

const dmarcColumns = "day, policy_domain, policy, report_to, source_ip, header_from, envelope_from, disposition, dkim, spf, override, auth_results, count"

// AddDMARCResult implements store.DMARCLog: one upsert, and a new row only
// while the table is under its bound.
func (s *Store) AddDMARCResult(ctx context.Context, r store.DMARCResult) error {
	day := r.Day.UTC().Truncate(24 * time.Hour).Unix()
	err := s.write(ctx, func(tx *txn) error {
		args := []any{day, r.PolicyDomain, r.Policy, r.ReportTo, r.SourceIP, r.HeaderFrom, r.EnvelopeFrom,
			r.Disposition, r.DKIM, r.SPF, r.Override, r.AuthResults}
		if err := tx.exec(`UPDATE dmarc_results SET count = count + 1 WHERE day = ?1 AND policy_domain = ?2
			AND policy = ?3 AND report_to = ?4 AND source_ip = ?5 AND header_from = ?6 AND envelope_from = ?7
			AND disposition = ?8 AND dkim = ?9 AND spf = ?10 AND override = ?11 AND auth_results = ?12`, args...); err != nil {
			return err
		}
		if tx.conn.Changes() > 0 {
			return nil
		}
		return tx.exec(`INSERT INTO dmarc_results (`+dmarcColumns+`)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1
			WHERE (SELECT count(*) FROM dmarc_results) < ?13`, append(args, s.dmarcRows())...)
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
	var out []store.DMARCResult
	err := s.query(ctx, "SELECT "+dmarcColumns+" FROM dmarc_results WHERE day < ? ORDER BY day, policy_domain, source_ip",
		func(st *sqlite.Stmt) error {
			out = append(out, store.DMARCResult{
				Day: time.Unix(st.ColumnInt64(0), 0).UTC(), PolicyDomain: st.ColumnText(1), Policy: st.ColumnText(2),
				ReportTo: st.ColumnText(3), SourceIP: st.ColumnText(4), HeaderFrom: st.ColumnText(5),
				EnvelopeFrom: st.ColumnText(6), Disposition: st.ColumnText(7), DKIM: st.ColumnText(8),
				SPF: st.ColumnText(9), Override: st.ColumnText(10), AuthResults: st.ColumnText(11), Count: st.ColumnInt(12),
			})
			return nil
		}, before.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: DMARC results: %w", err)
	}
	return out, nil
}

// DeleteDMARCResults implements store.DMARCLog.
func (s *Store) DeleteDMARCResults(ctx context.Context, before time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		return tx.exec("DELETE FROM dmarc_results WHERE day < ?", before.Unix())
	})
	if err != nil {
		return fmt.Errorf("store: delete DMARC results: %w", err)
	}
	return nil
}
