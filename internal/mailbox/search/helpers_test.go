package search

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/connbuf"
	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// testMsg is a Message over bytes (or any io.ReaderAt), counting what the
// evaluator loads so that tests can check laziness and Close.
type testMsg struct {
	meta   store.MessageMeta
	seq    uint32
	recent bool
	ra     io.ReaderAt
	size   int64
	st     *mime.Message

	structCalls, opens, closes atomic.Int32
}

func (m *testMsg) Meta() store.MessageMeta { return m.meta }
func (m *testMsg) Seq() uint32             { return m.seq }
func (m *testMsg) Recent() bool            { return m.recent }

func (m *testMsg) Structure(ctx context.Context) (*mime.Message, error) {
	m.structCalls.Add(1)
	return m.st, ctx.Err()
}

func (m *testMsg) Body(ctx context.Context) (store.Body, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.opens.Add(1)
	return &testBody{ReaderAt: m.ra, size: m.size, closes: &m.closes}, nil
}

type testBody struct {
	io.ReaderAt
	size   int64
	closes *atomic.Int32
}

func (b *testBody) Size() int64  { return b.size }
func (b *testBody) Close() error { b.closes.Add(1); return nil }

// crlf turns the "\n" line ends of a readable literal into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// newMsg scans raw and wraps it.
func newMsg(t testing.TB, raw string, meta store.MessageMeta, seq uint32, recent bool) *testMsg {
	t.Helper()
	st, err := mime.Scan(strings.NewReader(raw), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	meta.Size = int64(len(raw))
	return &testMsg{meta: meta, seq: seq, recent: recent, ra: strings.NewReader(raw), size: int64(len(raw)), st: st}
}

// parseSearch reads "SEARCH <args>" with the wire decoder, as a session
// would.
func parseSearch(args string) (*wire.Search, error) {
	d := wire.NewDecoder(connbuf.NewReader(strings.NewReader("t SEARCH "+args+"\r\n")), wire.Limits{LiteralPlus: true}, nil)
	if _, err := d.ReadTag(); err != nil {
		return nil, err
	}
	if err := d.ExpectSP(); err != nil {
		return nil, err
	}
	if _, err := d.ReadAtom(); err != nil {
		return nil, err
	}
	if err := d.ExpectSP(); err != nil {
		return nil, err
	}
	s, err := d.ReadSearch()
	if err != nil {
		return nil, err
	}
	return s, d.ExpectCRLF()
}

func mustKey(t testing.TB, args string) *Key {
	t.Helper()
	s, err := parseSearch(args)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return keyOf(s.Key)
}

// keyOf converts IMAP's parsed criteria, as internal/imap does: the tests
// write criteria in IMAP's syntax because it is the shortest.
func keyOf(k *wire.SearchKey) *Key {
	if k == nil {
		return nil
	}
	out := &Key{Op: k.Op, Value: k.Value, Field: k.Field, EntryType: k.EntryType, Date: k.Date, Number: k.Number, Saved: k.Saved}
	out.Set = k.Set.Clone()
	for _, c := range k.Children {
		out.Children = append(out.Children, keyOf(c))
	}
	return out
}

// run compiles key and returns the UIDs of the matching messages.
func run(t testing.TB, key *Key, c Context, msgs []*testMsg) []uint32 {
	t.Helper()
	m, err := Compile(key, c)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	var out []uint32
	for _, msg := range msgs {
		ok, err := m.Match(context.Background(), msg)
		if err != nil {
			t.Fatalf("Match uid %d: %v", msg.meta.UID, err)
		}
		if ok {
			out = append(out, msg.meta.UID)
		}
	}
	return out
}

func utc(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

// genReaderAt is a synthetic message: head, then n bytes of filler text
// (lines of a repeating alphabet) with needle written at offset at, then
// tail. It costs no memory however large n is.
type genReaderAt struct {
	head, tail string
	n          int64
	needle     string
	at         int64
}

func (g *genReaderAt) Size() int64 { return int64(len(g.head)) + g.n + int64(len(g.tail)) }

func (g *genReaderAt) byteAt(off int64) byte {
	if off < int64(len(g.head)) {
		return g.head[off]
	}
	off -= int64(len(g.head))
	if off < g.n {
		if off >= g.at && off < g.at+int64(len(g.needle)) {
			return g.needle[off-g.at]
		}
		const line = "the quick brown fox jumps over the lazy dog 0123456789\r\n"
		return line[off%int64(len(line))]
	}
	return g.tail[off-g.n]
}

func (g *genReaderAt) ReadAt(p []byte, off int64) (int, error) {
	size := g.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < size {
		p[n] = g.byteAt(off)
		n++
		off++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// genMsg wraps a genReaderAt, scanning it as a stream.
func genMsg(t testing.TB, g *genReaderAt) *testMsg {
	t.Helper()
	st, err := mime.Scan(io.NewSectionReader(g, 0, g.Size()), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &testMsg{meta: store.MessageMeta{UID: 1, Size: g.Size()}, seq: 1, ra: g, size: g.Size(), st: st}
}

func msgMeta(uid uint32) store.MessageMeta { return store.MessageMeta{UID: uid} }
