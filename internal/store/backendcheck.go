package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// What every backend checks or needs the same way, so that SQLite and
// PostgreSQL cannot drift apart on it.

// CheckTargets checks the targets of one delivery before a backend opens
// its transaction: at least one mailbox, valid keywords.
func CheckTargets(targets []Target) error {
	if len(targets) == 0 {
		return fmt.Errorf("%w: no target mailbox", ErrInvalid)
	}
	for _, t := range targets {
		if _, err := NormalizeKeywords(t.Keywords); err != nil {
			return err
		}
		if name := searchedPrefixField(t.HeaderPrefix); name != "" {
			return fmt.Errorf("%w: a header prefix may not hold %s", ErrInvalid, name)
		}
	}
	return nil
}

// searchedPrefixField returns the first field of prefix that a search
// key of its own reads (From, To, Cc, Bcc, Subject), or "".
func searchedPrefixField(prefix []byte) string {
	for line := range bytes.Lines(prefix) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue // a continuation
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimRight(name, " \t")
		for _, f := range []string{"From", "To", "Cc", "Bcc", "Subject"} {
			if strings.EqualFold(string(name), f) {
				return f
			}
		}
	}
	return ""
}

// CheckJunkTrainings checks trainings before a backend writes them.
func CheckJunkTrainings(ts []JunkTraining) error {
	for _, t := range ts {
		if t.As < JunkUntrained || t.As > JunkHam || t.AccountID < 0 {
			return fmt.Errorf("%w: class %d, account %d", ErrInvalid, t.As, t.AccountID)
		}
	}
	return nil
}

// SortedKeys returns xs as sorted, distinct signed 64-bit keys, the form
// SQL stores UIDs and token hashes in (a hash above 2^63 wraps to a
// negative key, which is fine for equality and order of the keys).
func SortedKeys[T ~uint32 | ~uint64](xs []T) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ContextReader stops a copy (staging a body) when ctx ends: io.Copy
// itself does not look at a context.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
