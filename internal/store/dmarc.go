package store

import (
	"context"
	"time"
)

// MaxDMARCRows bounds the DMARC evaluations kept for reports: a flood of
// mail from many addresses must not grow the database without end. Past
// it, evaluations of rows not yet seen are dropped (counted ones still
// count).
const MaxDMARCRows = 100_000

// DMARCResult is a count of messages that had the same DMARC evaluation on
// one UTC day: a row of an aggregate report (RFC 7489 appendix C).
type DMARCResult struct {
	Day          time.Time // UTC midnight
	PolicyDomain string    // where the DMARC record was found
	Policy       string    // the published policy as reported: "p=reject sp=none pct=100 adkim=r aspf=r"
	ReportTo     string    // the record's rua= URIs, space-separated
	SourceIP     string
	HeaderFrom   string
	EnvelopeFrom string // the SPF-checked domain
	Disposition  string // none, quarantine, reject
	DKIM         string // aligned DKIM: pass or fail
	SPF          string // aligned SPF: pass or fail
	Override     string // policy override reason, "" if none
	// AuthResults are the underlying results, "dkim:domain:selector:result"
	// and "spf:domain:scope:result" entries separated by spaces.
	AuthResults string
	Count       int
}

// DMARCLog keeps DMARC evaluations of received mail until they are sent
// to the domain owners in aggregate reports (RFC 7489 section 7.2).
type DMARCLog interface {
	// AddDMARCResult counts one evaluation (r.Count is ignored): into the
	// row with the same fields, or a new row while fewer than
	// MaxDMARCRows exist.
	AddDMARCResult(ctx context.Context, r DMARCResult) error
	// DMARCResults returns the rows of days before before.
	DMARCResults(ctx context.Context, before time.Time) ([]DMARCResult, error)
	// DeleteDMARCResults forgets the rows of days before before.
	DeleteDMARCResults(ctx context.Context, before time.Time) error
}
