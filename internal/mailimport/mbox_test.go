package mailimport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

type readMsg struct {
	body     string
	flags    store.Flags
	keywords string
	date     time.Time
	cl2      bool
	err      error
}

// readAll reads every message of an mbox held in memory.
func readAll(t testing.TB, data string) ([]readMsg, []Skip, MboxFormat) {
	t.Helper()
	format, err := DetectMboxFormat(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := NewMboxReader(strings.NewReader(data), 0, int64(len(data)), format)
	var out []readMsg
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(m.Body)
		out = append(out, readMsg{string(b), m.Flags, strings.Join(m.Keywords, " "), m.Date, m.CL2, err})
	}
	return out, r.Skipped(), format
}

func TestMboxVariants(t *testing.T) {
	date := time.Date(2022, 1, 3, 20, 5, 38, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		mbox   string
		format MboxFormat
		want   []string
		cl2    []bool
	}{{
		name:   "mboxo",
		mbox:   "From a@x Mon Jan  3 20:05:38 2022\nSubject: o\n\n>From here\n>>From kept\nFrom the desk\n\nFrom b@x Mon Jan  3 20:05:38 2022\n\nsecond\n",
		format: MboxO,
		// >>From makes it mboxrd: see the next case. Here without it:
	}, {
		name:   "mboxo without >>From",
		mbox:   "From a@x Mon Jan  3 20:05:38 2022\nSubject: o\n\n>From here\n> From not escaped\nFrom the desk\n\nFrom b@x Mon Jan  3 20:05:38 2022\n\nsecond\n",
		format: MboxO,
		want:   []string{"Subject: o\r\n\r\nFrom here\r\n> From not escaped\r\nFrom the desk\r\n", "\r\nsecond\r\n"},
		cl2:    []bool{false, false},
	}, {
		name:   "mboxrd",
		mbox:   "From a@x Mon Jan  3 20:05:38 2022\nSubject: rd\n\n>From one\n>>From two\n>>>From three\n\nFrom b@x Mon Jan  3 20:05:38 2022\n\nx\n",
		format: MboxRD,
		want:   []string{"Subject: rd\r\n\r\nFrom one\r\n>From two\r\n>>From three\r\n", "\r\nx\r\n"},
		cl2:    []bool{false, false},
	}, {
		name: "mboxcl2",
		mbox: "From a@x Mon Jan  3 20:05:38 2022\nContent-Length: 46\nSubject: cl\n\n" +
			"From Mon Jan  3 20:05:38 2022 not a separator\n" + "\n" +
			"From b@x Mon Jan  3 20:05:38 2022\nContent-Length: 13\n\n>From as is\n\n",
		format: MboxO,
		want: []string{"Content-Length: 46\r\nSubject: cl\r\n\r\nFrom Mon Jan  3 20:05:38 2022 not a separator\r\n",
			"Content-Length: 13\r\n\r\n>From as is\r\n\r\n"},
		cl2: []bool{true, true},
	}, {
		name:   "Content-Length inconsistent: lines",
		mbox:   "From a@x Mon Jan  3 20:05:38 2022\nContent-Length: 5\n\n>From body\n\nFrom b@x Mon Jan  3 20:05:38 2022\n\nx\n",
		format: MboxO,
		want:   []string{"Content-Length: 5\r\n\r\nFrom body\r\n", "\r\nx\r\n"},
		cl2:    []bool{false, false},
	}, {
		name:   "CRLF mbox stays CRLF",
		mbox:   "From a@x Mon Jan  3 20:05:38 2022\r\nSubject: c\r\n\r\nbody\r\n\r\nFrom b@x Mon Jan  3 20:05:38 2022\r\n\r\nx\r\n",
		format: MboxO,
		want:   []string{"Subject: c\r\n\r\nbody\r\n", "\r\nx\r\n"},
		cl2:    []bool{false, false},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, skips, format := readAll(t, tc.mbox)
			if tc.want == nil {
				if format != MboxRD {
					t.Fatalf("a >>From line: format %v, want mboxrd", format)
				}
				return
			}
			if format != tc.format || len(skips) != 0 {
				t.Fatalf("format %v, skips %v", format, skips)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d messages, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, g := range got {
				if g.err != nil || g.body != tc.want[i] || g.cl2 != tc.cl2[i] || !g.date.Equal(date) {
					t.Errorf("message %d: %q cl2 %v date %v err %v\nwant %q cl2 %v", i, g.body, g.cl2, g.date, g.err, tc.want[i], tc.cl2[i])
				}
			}
		})
	}
}

func TestMboxStatusFields(t *testing.T) {
	mbox := "From a@x Sat Feb 19 08:00:00 2011\nSubject: s\nStatus: RO\nX-Status: ADFT\nX-Keywords: $Label1, work\n  later\nX-UID: 7\nTo: b@x\n\nbody\n\n" +
		"From a@x Sat Feb 19 08:00:01 2011\nStatus: O\n\nunread\n"
	got, _, _ := readAll(t, mbox)
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	if got[0].body != "Subject: s\r\nTo: b@x\r\n\r\nbody\r\n" {
		t.Errorf("body %q", got[0].body)
	}
	if want := store.FlagSeen | store.FlagAnswered | store.FlagDeleted | store.FlagFlagged | store.FlagDraft; got[0].flags != want || got[0].keywords != "$Label1 work later" {
		t.Errorf("flags %v keywords %q", got[0].flags, got[0].keywords)
	}
	if got[1].flags != 0 || got[1].body != "\r\nunread\r\n" {
		t.Errorf("second: %v %q", got[1].flags, got[1].body)
	}
	if !got[0].date.Equal(time.Date(2011, 2, 19, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("date %v", got[0].date)
	}
}

func TestMboxTruncatedHeader(t *testing.T) {
	got, _, _ := readAll(t, "From a@x Sat Feb 19 08:00:00 2011\nSubject: s\n\nok\n\nFrom a@x Sat Feb 19 08:00:00 2011\nSubject: cut\n")
	if len(got) != 2 || got[0].err != nil || !errors.Is(got[1].err, ErrTruncated) {
		t.Fatalf("%+v", got)
	}
}

// The reader never panics, and what it gives has CRLF line endings only
// and offsets inside the input, whatever the input.
func FuzzMboxReader(f *testing.F) {
	f.Add("From a@x Mon Jan  3 20:05:38 2022\nSubject: o\n\n>From here\n\nFrom b@x Mon Jan  3 20:05:38 2022\n\nsecond\n")
	f.Add("garbage\nFrom a@x Mon Jan  3 20:05:38 2022\nContent-Length: 3\n\nabc\nFrom b@x Mon Jan  3 20:05:38 2022\nStatus: RO\nX-Keywords: a b\n\n>>From x")
	f.Add("From a@x Mon Jan  3 20:05:38 2022\r\nContent-Length: 999\r\n\r\n\r\r\n")
	f.Fuzz(func(t *testing.T, data string) {
		format, err := DetectMboxFormat(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r := NewMboxReader(strings.NewReader(data), 0, int64(len(data)), format)
		last := int64(-1)
		for range len(data) + 2 {
			m, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(m.Body)
			if err != nil && !errors.Is(err, ErrTruncated) {
				t.Fatal(err)
			}
			if m.Offset <= last || m.End() < m.Offset || m.End() > int64(len(data)) {
				t.Fatalf("offsets %d..%d after %d in %d bytes", m.Offset, m.End(), last, len(data))
			}
			last = m.Offset
			if err == nil {
				if i := bytes.IndexByte(bytes.ReplaceAll(b, []byte("\r\n"), nil), '\n'); i >= 0 {
					t.Fatalf("bare LF in %q", b)
				}
			}
		}
		t.Fatal("more messages than bytes")
	})
}
