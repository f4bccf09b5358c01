package wire

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"mailroom/internal/connbuf"
)

// rig is a Decoder over a fixed input with a recording continuation
// callback.
type rig struct {
	d     *Decoder
	conts []int64 // sizes the callback was called with
	cont  func(n int64) error
}

// readers returns the ways a test feeds input: whole, and one byte per
// Read (the literal and line code must not depend on read sizes).
func readers(in string) map[string]*connbuf.Reader {
	return map[string]*connbuf.Reader{
		"whole":   connbuf.NewReader(strings.NewReader(in)),
		"onebyte": connbuf.NewReader(iotest.OneByteReader(strings.NewReader(in))),
	}
}

// eachRig runs f on a rig over in, once per reader kind.
func eachRig(t *testing.T, in string, l Limits, f func(t *testing.T, r *rig)) {
	t.Helper()
	for name, br := range readers(in) {
		t.Run(name, func(t *testing.T) {
			r := &rig{}
			r.d = NewDecoder(br, l, func(n int64) error {
				r.conts = append(r.conts, n)
				if r.cont != nil {
					return r.cont(n)
				}
				return nil
			})
			f(t, r)
		})
	}
}

// mustTag reads a tag and fails the test on error.
func mustTag(t *testing.T, d *Decoder, want string) {
	t.Helper()
	tag, err := d.ReadTag()
	if err != nil || tag != want {
		t.Fatalf("ReadTag = %q, %v; want %q", tag, err, want)
	}
}

func mustSP(t *testing.T, d *Decoder) {
	t.Helper()
	if err := d.ExpectSP(); err != nil {
		t.Fatalf("ExpectSP: %v", err)
	}
}

func mustCRLF(t *testing.T, d *Decoder) {
	t.Helper()
	if err := d.ExpectCRLF(); err != nil {
		t.Fatalf("ExpectCRLF: %v", err)
	}
}

// mustEOF checks that the input is exhausted at a command boundary.
func mustEOF(t *testing.T, d *Decoder) {
	t.Helper()
	if tag, err := d.ReadTag(); err != io.EOF {
		t.Fatalf("ReadTag at end = %q, %v; want io.EOF", tag, err)
	}
}

// errContains checks an error loosely: nil want means no error.
func errContains(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// dumpKey renders a search key tree compactly for comparisons.
func dumpKey(k *SearchKey) string {
	if k == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString("(" + k.Op)
	if k.Field != "" {
		fmt.Fprintf(&b, " field=%q", k.Field)
	}
	if k.EntryType != "" {
		b.WriteString(" type=" + k.EntryType)
	}
	if k.Value != "" {
		fmt.Fprintf(&b, " %q", k.Value)
	}
	if !k.Date.IsZero() {
		b.WriteString(" " + k.Date.Format("2006-01-02"))
	}
	if k.Number != 0 || k.Op == "MODSEQ" || k.Op == "LARGER" || k.Op == "SMALLER" {
		fmt.Fprintf(&b, " %d", k.Number)
	}
	if k.Set != nil {
		b.WriteString(" " + k.Set.String())
	}
	if k.Saved {
		b.WriteString(" $")
	}
	for _, c := range k.Children {
		b.WriteString(" " + dumpKey(c))
	}
	b.WriteString(")")
	return b.String()
}

// dumpItems renders fetch items compactly.
func dumpItems(items []FetchItem) string {
	var parts []string
	for i := range items {
		it := &items[i]
		s := string(AppendFetchKey(nil, it))
		if it.Peek {
			s += "/peek"
		}
		if it.Lazy {
			s += "/lazy"
		}
		if it.Partial != nil {
			s += fmt.Sprintf("/%d.%d", it.Partial.Offset, it.Partial.Count)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
