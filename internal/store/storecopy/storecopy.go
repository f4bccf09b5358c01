// Package storecopy copies a whole Mailroom installation from one store to
// another (SQLite to PostgreSQL and back: `mailroom store copy`), row for
// row, so that ids, UIDs, UIDVALIDITY, MODSEQs and the expunge history stay
// what IMAP clients have cached, then verifies the copy: row counts and a
// SHA-256 per table, and every body's bytes, read back from the
// destination and compared with what was read from the source.
//
// The backends do the SQL (sqlitestore.Transfer, pgstore.Transfer): this
// package sees tables of backend-neutral values (int64, float64, string,
// []byte, nil), read in primary key order, and bodies as streams. The
// tables come from each database's own catalog, so tables that later
// migrations add are copied without a change here; a table or column that
// only one side has stops the copy before it starts.
package storecopy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"mailroom/internal/store/blob"
)

// Source is a store read for copying.
type Source interface {
	// Tables lists the tables to copy, each after those it references.
	Tables(ctx context.Context) ([]string, error)
	Columns(ctx context.Context, table string) ([]string, error)
	Count(ctx context.Context, table string) (int64, error)
	// Rows calls fn with each row, in primary key order (text bytewise),
	// the same order on every backend. fn must not keep row.
	Rows(ctx context.Context, table string, columns []string, fn func(row []any) error) error
	// Sequences returns per table the highest id its counter handed out.
	Sequences(ctx context.Context) (map[string]int64, error)
	OpenBody(ctx context.Context, ref string) (blob.Reader, error)
}

// Destination is an empty store filled by a copy, in one transaction.
type Destination interface {
	Source
	Begin(ctx context.Context) error
	Write(ctx context.Context, table string, columns []string, rows [][]any) error
	// PutBody stores a body and returns the reference to record for it.
	PutBody(ctx context.Context, r io.Reader) (string, error)
	SetSequences(ctx context.Context, seqs map[string]int64) error
	Commit(ctx context.Context) error
	Rollback() error
}

// bodyColumns names the columns that reference a body. Their values are
// local to a store (a file name, "pg:42"): a copy stores the body in the
// destination and records the new reference, and the checksums cover the
// body's SHA-256 in their place.
var bodyColumns = map[string]string{"contents": "blob", "uploads": "blob"}

// Options adjust Copy and Verify.
type Options struct {
	// Progress is called as the work advances (often: rate-limit there).
	Progress func(Progress)
	// BatchRows and BatchBytes bound the rows written at once (defaults
	// 1000 and 8 MiB): memory stays bounded whatever the table's size.
	BatchRows  int
	BatchBytes int
}

// Progress is how far a phase ("copy", "verify") has come.
type Progress struct {
	Phase     string
	Table     string
	Rows      int64 // done in this phase, over every table
	TotalRows int64
	Bodies    int64
	BodyBytes int64
	Elapsed   time.Duration
	Done      bool // the phase is over
}

// TableSum is what verification compares of a table.
type TableSum struct {
	Name   string
	Rows   int64
	SHA256 [32]byte
}

// Sums summarises a store's content.
type Sums struct {
	Tables    []TableSum
	Bodies    int64
	BodyBytes int64
	// BodiesSHA256 is over the SHA-256 of every body, in table order.
	BodiesSHA256 [32]byte
	Sequences    map[string]int64
}

// Rows is the number of rows over all tables.
func (s Sums) Rows() int64 {
	var n int64
	for _, t := range s.Tables {
		n += t.Rows
	}
	return n
}

// Report is the outcome of a copy or a verification.
type Report struct {
	Source, Destination Sums
	// Copied and Verified are how long each phase took (Copied is zero
	// for Verify).
	Copied, Verified time.Duration
	// Diffs says what differs; empty when the copy is faithful.
	Diffs []string
	// Notes name the tables only one side has (empty, so not copied).
	Notes []string
}

// MismatchError is a verification that found differences.
type MismatchError struct{ Diffs []string }

func (e *MismatchError) Error() string {
	return "verification failed: " + strings.Join(e.Diffs, "; ")
}

// ErrNotEmpty is a destination that already holds data: a copy never
// merges two installations.
var ErrNotEmpty = errors.New("destination is not empty")

// plan is what to copy: the tables both sides have, in the destination's
// dependency order, with their columns in the source's order.
type plan struct {
	tables []string
	cols   map[string][]string
	notes  []string // tables not copied, and why
}

func makePlan(ctx context.Context, src, dst Source) (plan, error) {
	srcTables, err := src.Tables(ctx)
	if err != nil {
		return plan{}, err
	}
	dstTables, err := dst.Tables(ctx)
	if err != nil {
		return plan{}, err
	}
	// A table only one backend has (state of that backend's own, which
	// its Transfer has not declared local) has nothing to copy while it
	// is empty on the source; left empty on the destination, it is
	// what a new installation would have. Rows in it cannot be carried
	// over: that stops the copy rather than leave them behind.
	var diffs []string
	p := plan{cols: map[string][]string{}}
	for _, table := range minus(srcTables, dstTables) {
		n, err := src.Count(ctx, table)
		if err != nil {
			return plan{}, err
		}
		if n > 0 {
			diffs = append(diffs, fmt.Sprintf("table %s, only on the source, holds %d rows", table, n))
		}
		p.notes = append(p.notes, fmt.Sprintf("table %s is only on the source, and empty", table))
	}
	for _, table := range minus(dstTables, srcTables) {
		p.notes = append(p.notes, fmt.Sprintf("table %s is only on the destination, and left empty", table))
	}
	for _, table := range dstTables {
		if !slices.Contains(srcTables, table) {
			continue
		}
		sc, err := src.Columns(ctx, table)
		if err != nil {
			return plan{}, err
		}
		dc, err := dst.Columns(ctx, table)
		if err != nil {
			return plan{}, err
		}
		if only := minus(sc, dc); len(only) > 0 {
			diffs = append(diffs, fmt.Sprintf("columns of %s only on the source: %s", table, strings.Join(only, ", ")))
		}
		if only := minus(dc, sc); len(only) > 0 {
			diffs = append(diffs, fmt.Sprintf("columns of %s only on the destination: %s", table, strings.Join(only, ", ")))
		}
		if col, ok := bodyColumns[table]; ok && !slices.Contains(sc, col) {
			diffs = append(diffs, fmt.Sprintf("table %s has no body column %s", table, col))
		}
		p.tables = append(p.tables, table)
		p.cols[table] = sc
	}
	if len(diffs) > 0 {
		return plan{}, fmt.Errorf("the two stores' schemas differ (use the same mailroom version on both): %s", strings.Join(diffs, "; "))
	}
	return p, nil
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// meter reports progress.
type meter struct {
	fn       func(Progress)
	p        Progress
	start    time.Time
	lastCall time.Time
}

func newMeter(fn func(Progress), phase string, total int64) *meter {
	m := &meter{fn: fn, start: time.Now()}
	m.p = Progress{Phase: phase, TotalRows: total}
	return m
}

func (m *meter) report(force bool) {
	if m.fn == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(m.lastCall) < 50*time.Millisecond {
		return
	}
	m.lastCall = now
	m.p.Elapsed = now.Sub(m.start)
	m.fn(m.p)
}

func (m *meter) done() time.Duration {
	m.p.Done = true
	m.report(true)
	return time.Since(m.start)
}

// summer hashes one table's rows in a backend-neutral encoding.
type summer struct {
	h    hash.Hash
	buf  []byte
	rows int64
}

func newSummer(table string, cols []string) *summer {
	s := &summer{h: sha256.New()}
	// The header makes a table's sum depend on its name and columns.
	s.buf = appendString(s.buf[:0], 's', table)
	for _, c := range cols {
		s.buf = appendString(s.buf, 's', c)
	}
	s.h.Write(s.buf)
	return s
}

func (s *summer) add(row []any) error {
	b := s.buf[:0]
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 'i'), uint64(v))
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(v))
		case string:
			b = appendString(b, 's', v)
		case []byte:
			b = appendString(b, 'b', v)
		default:
			return fmt.Errorf("storecopy: value of type %T", v)
		}
	}
	s.buf = b
	s.h.Write(b)
	s.rows++
	return nil
}

func appendString[T string | []byte](b []byte, tag byte, s T) []byte {
	b = binary.AppendUvarint(append(b, tag), uint64(len(s)))
	return append(b, s...)
}

func (s *summer) sum(table string) TableSum {
	t := TableSum{Name: table, Rows: s.rows}
	s.h.Sum(t.SHA256[:0])
	return t
}

// bodyReadSize is how much of a body is read at once: pgstore's chunk, so
// that each read is one query for one chunk.
const bodyReadSize = 256 << 10

// bodies hashes the bodies of one side.
type bodies struct {
	all   hash.Hash
	n     int64
	bytes int64
}

func newBodies() *bodies { return &bodies{all: sha256.New()} }

// read streams the body ref of s into w (if not nil) and returns its digest
// as the checksums encode it.
func (b *bodies) read(ctx context.Context, s Source, ref string, w func(io.Reader) error, m *meter) (string, error) {
	r, err := s.OpenBody(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("open body %s: %w", ref, err)
	}
	defer r.Close()
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(bufio.NewReaderSize(io.NewSectionReader(r, 0, r.Size()), bodyReadSize), h), m: m}
	if w != nil {
		err = w(cr)
	} else {
		_, err = io.Copy(io.Discard, cr)
	}
	if err != nil {
		return "", fmt.Errorf("body %s: %w", ref, err)
	}
	if cr.n != r.Size() {
		return "", fmt.Errorf("body %s: read %d bytes of %d", ref, cr.n, r.Size())
	}
	var d [32]byte
	h.Sum(d[:0])
	b.all.Write(d[:])
	b.n++
	b.bytes += cr.n
	m.p.Bodies++
	return "sha256:" + hex.EncodeToString(d[:]), nil
}

type countReader struct {
	r io.Reader
	n int64
	m *meter
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.m.p.BodyBytes += int64(n)
	c.m.report(false)
	return n, err
}

func (b *bodies) finish(s *Sums) {
	s.Bodies, s.BodyBytes = b.n, b.bytes
	b.all.Sum(s.BodiesSHA256[:0])
}

// Copy copies src into dst, which must be empty, in one transaction of
// dst, then verifies the result. A verification that finds differences
// returns the report and a *MismatchError.
func Copy(ctx context.Context, src Source, dst Destination, opts Options) (*Report, error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = 1000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 8 << 20
	}
	p, err := makePlan(ctx, src, dst)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, table := range p.tables {
		n, err := dst.Count(ctx, table)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("%w: table %s has %d rows (store copy fills a new, empty store and never merges)", ErrNotEmpty, table, n)
		}
		if n, err = src.Count(ctx, table); err != nil {
			return nil, err
		}
		total += n
	}
	rep := &Report{Notes: p.notes}
	if err := dst.Begin(ctx); err != nil {
		return nil, err
	}
	m := newMeter(opts.Progress, "copy", total)
	if err := copyRows(ctx, src, dst, p, opts, m, &rep.Source); err != nil {
		return nil, errors.Join(err, dst.Rollback())
	}
	if err := dst.Commit(ctx); err != nil {
		return nil, errors.Join(err, dst.Rollback())
	}
	rep.Copied = m.done()
	return rep, verifyInto(ctx, dst, p, opts, rep)
}

func copyRows(ctx context.Context, src Source, dst Destination, p plan, opts Options, m *meter, sums *Sums) error {
	bs := newBodies()
	for _, table := range p.tables {
		cols := p.cols[table]
		m.p.Table = table
		m.report(true)
		bodyCol := -1
		if c, ok := bodyColumns[table]; ok {
			bodyCol = slices.Index(cols, c)
		}
		sum := newSummer(table, cols)
		var batch [][]any
		var batchBytes int
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := dst.Write(ctx, table, cols, batch); err != nil {
				return err
			}
			m.p.Rows += int64(len(batch))
			m.report(false)
			batch, batchBytes = batch[:0], 0
			return nil
		}
		err := src.Rows(ctx, table, cols, func(row []any) error {
			out := slices.Clone(row)
			if bodyCol >= 0 {
				if ref, _ := row[bodyCol].(string); ref != "" {
					var newRef string
					digest, err := bs.read(ctx, src, ref, func(r io.Reader) (err error) {
						newRef, err = dst.PutBody(ctx, r)
						return err
					}, m)
					if err != nil {
						return fmt.Errorf("copy %s: %w", table, err)
					}
					row[bodyCol], out[bodyCol] = digest, newRef
				}
			}
			if err := sum.add(row); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			batch = append(batch, out)
			batchBytes += rowBytes(out)
			if len(batch) >= opts.BatchRows || batchBytes >= opts.BatchBytes {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return err
		}
		sums.Tables = append(sums.Tables, sum.sum(table))
	}
	seqs, err := src.Sequences(ctx)
	if err != nil {
		return err
	}
	if err := dst.SetSequences(ctx, seqs); err != nil {
		return err
	}
	sums.Sequences = seqs
	bs.finish(sums)
	return nil
}

func rowBytes(row []any) int {
	n := 0
	for _, v := range row {
		switch v := v.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		}
		n += 8
	}
	return n
}

// summarise reads every table and body of s.
func summarise(ctx context.Context, s Source, p plan, m *meter) (Sums, error) {
	var sums Sums
	bs := newBodies()
	for _, table := range p.tables {
		cols := p.cols[table]
		m.p.Table = table
		m.report(true)
		bodyCol := -1
		if c, ok := bodyColumns[table]; ok {
			bodyCol = slices.Index(cols, c)
		}
		sum := newSummer(table, cols)
		err := s.Rows(ctx, table, cols, func(row []any) error {
			if bodyCol >= 0 {
				if ref, _ := row[bodyCol].(string); ref != "" {
					digest, err := bs.read(ctx, s, ref, nil, m)
					if err != nil {
						return fmt.Errorf("verify %s: %w", table, err)
					}
					row[bodyCol] = digest
				}
			}
			m.p.Rows++
			m.report(false)
			return sum.add(row)
		})
		if err != nil {
			return Sums{}, err
		}
		sums.Tables = append(sums.Tables, sum.sum(table))
	}
	seqs, err := s.Sequences(ctx)
	if err != nil {
		return Sums{}, err
	}
	sums.Sequences = seqs
	bs.finish(&sums)
	return sums, nil
}

// verifyInto reads dst back and compares it with rep.Source.
func verifyInto(ctx context.Context, dst Source, p plan, opts Options, rep *Report) error {
	m := newMeter(opts.Progress, "verify", rep.Source.Rows())
	d, err := summarise(ctx, dst, p, m)
	if err != nil {
		return err
	}
	rep.Verified = m.done()
	rep.Destination = d
	rep.Diffs = compare(rep.Source, d)
	if len(rep.Diffs) > 0 {
		return &MismatchError{Diffs: rep.Diffs}
	}
	return nil
}

// Verify compares two stores without copying: the same tables, rows,
// bodies and sequences (the destination's at least the source's).
func Verify(ctx context.Context, src, dst Source, opts Options) (*Report, error) {
	p, err := makePlan(ctx, src, dst)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, table := range p.tables {
		n, err := src.Count(ctx, table)
		if err != nil {
			return nil, err
		}
		total += n
	}
	rep := &Report{Notes: p.notes}
	m := newMeter(opts.Progress, "read source", total)
	if rep.Source, err = summarise(ctx, src, p, m); err != nil {
		return nil, err
	}
	m.done()
	return rep, verifyInto(ctx, dst, p, opts, rep)
}

func compare(src, dst Sums) []string {
	var diffs []string
	for i, s := range src.Tables {
		d := dst.Tables[i]
		switch {
		case s.Rows != d.Rows:
			diffs = append(diffs, fmt.Sprintf("table %s: %d rows on the source, %d on the destination", s.Name, s.Rows, d.Rows))
		case s.SHA256 != d.SHA256:
			diffs = append(diffs, fmt.Sprintf("table %s: %d rows each, but their contents differ (sha256 %x… on the source, %x… on the destination)",
				s.Name, s.Rows, s.SHA256[:8], d.SHA256[:8]))
		}
	}
	if src.Bodies != dst.Bodies || src.BodyBytes != dst.BodyBytes {
		diffs = append(diffs, fmt.Sprintf("bodies: %d (%d bytes) on the source, %d (%d bytes) on the destination", src.Bodies, src.BodyBytes, dst.Bodies, dst.BodyBytes))
	} else if src.BodiesSHA256 != dst.BodiesSHA256 {
		diffs = append(diffs, fmt.Sprintf("bodies: %d each, but their bytes differ", src.Bodies))
	}
	tables := make([]string, 0, len(src.Sequences))
	for t := range src.Sequences {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	for _, t := range tables {
		// A backend that has no counter for the table (SQLite without
		// AUTOINCREMENT) reuses no id it knows of anyway.
		if d, ok := dst.Sequences[t]; ok && d < src.Sequences[t] {
			diffs = append(diffs, fmt.Sprintf("sequence of %s: %d on the source, %d on the destination: ids would be reused", t, src.Sequences[t], d))
		}
	}
	return diffs
}
