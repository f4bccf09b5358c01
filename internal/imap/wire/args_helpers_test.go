package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cmdCase is one line of a command reader's table: the whole command as a
// client sends it (CRLF added), and either the struct read or a fragment
// of the error (its BAD text).
type cmdCase[T any] struct {
	in   string
	want T
	err  string
}

// readCmd starts the command in line — tag, name, and "UID" SP name for
// the UID forms — calls read for its arguments and check with what it
// returned, while the arena still holds it. On error the rest is discarded
// as the session does; in both cases the input must then be at its end.
func readCmd[T any](t *testing.T, r *rig, read func(*Decoder) (T, error), check func(T, error)) {
	t.Helper()
	d := r.d
	if _, err := d.ReadTag(); err != nil {
		t.Fatalf("ReadTag: %v", err)
	}
	mustSP(t, d)
	if name, _ := d.ReadAtom(); strings.EqualFold(name, "UID") {
		mustSP(t, d)
		d.ReadAtom()
	}
	got, err := read(d)
	check(got, err)
	if err != nil {
		if derr := d.DiscardLine(); derr != nil {
			t.Fatalf("DiscardLine: %v", derr)
		}
	}
	mustEOF(t, d)
}

// runCmdCases runs a command reader over its table, with every reader
// kind (whole input, one byte per read).
func runCmdCases[T any](t *testing.T, read func(*Decoder) (T, error), cases []cmdCase[T]) {
	t.Helper()
	for _, c := range cases {
		eachRig(t, c.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			t.Helper()
			readCmd(t, r, read, func(got T, err error) {
				t.Helper()
				if c.err != "" {
					if err == nil || !strings.Contains(err.Error(), c.err) {
						t.Errorf("%q: error %v, want one containing %q", c.in, err, c.err)
					}
					return
				}
				if err != nil {
					t.Errorf("%q: %v", c.in, err)
					return
				}
				if !equalEmpty(reflect.ValueOf(got), reflect.ValueOf(c.want)) {
					t.Errorf("%q:\n got  %s\n want %s", c.in, show(got), show(c.want))
				}
			})
		})
	}
}

// show renders a struct with what its pointers point to.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

var timeType = reflect.TypeFor[time.Time]()

// equalEmpty is reflect.DeepEqual but for nil and empty slices, which are
// the same to every caller (the arena hands out either), and times, which
// are compared as instants.
func equalEmpty(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalEmpty(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalEmpty(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type() == timeType {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
		}
		for i := range a.NumField() {
			if !equalEmpty(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	}
	panic("equalEmpty: unhandled kind " + a.Kind().String())
}

func u64(v uint64) *uint64 { return &v }

func seqs(s string) SeqSet {
	v, err := ParseSeqSet(s)
	if err != nil {
		panic(err)
	}
	return v
}
