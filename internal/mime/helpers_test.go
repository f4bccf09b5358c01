package mime

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// crlf turns the "\n" line ends of a readable test literal into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// scanChunks scans input with the given chunk sizes, cycling through them.
func scanChunks(t testing.TB, input []byte, l Limits, sizes ...int) *Message {
	t.Helper()
	s := NewScanner(l)
	for i, k := 0, 0; i < len(input); k++ {
		n := len(input) - i
		if len(sizes) > 0 {
			n = min(sizes[k%len(sizes)], n)
		}
		w, err := s.Write(input[i : i+n])
		if err != nil || w != n {
			t.Fatalf("Write = %d, %v; want %d, nil", w, err, n)
		}
		i += n
	}
	m, err := s.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return m
}

func mustScan(t testing.TB, input string, l Limits) *Message {
	t.Helper()
	m := scanChunks(t, []byte(input), l)
	checkInvariants(t, m, []byte(input))
	return m
}

// countLF counts line ends in b: what BodyLines means.
func countLF(b []byte) int64 { return int64(bytes.Count(b, []byte{'\n'})) }

// countLines counts line starts in b: what HeaderLines means.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// checkInvariants verifies what must hold for any input: ordered offsets
// within [0, Size], children inside their parent's body and in order, line
// counts matching the bytes, and a lossless binary round trip.
func checkInvariants(t testing.TB, m *Message, input []byte) {
	t.Helper()
	if m.Size != int64(len(input)) {
		t.Fatalf("Size = %d, want %d", m.Size, len(input))
	}
	if m.Root == nil || m.Root.HeaderStart != 0 || m.Root.End != m.Size {
		t.Fatalf("root range wrong: %+v", m.Root)
	}
	if m.Root.Envelope == nil {
		t.Fatalf("root has no envelope")
	}
	var walk func(p *Part, path string, depth int)
	walk = func(p *Part, path string, depth int) {
		if !(0 <= p.HeaderStart && p.HeaderStart <= p.BodyStart && p.BodyStart <= p.End && p.End <= m.Size) {
			t.Fatalf("part %s: bad offsets %d %d %d (size %d)", path, p.HeaderStart, p.BodyStart, p.End, m.Size)
		}
		if got := countLines(input[p.HeaderStart:p.BodyStart]); got != p.HeaderLines {
			t.Fatalf("part %s: HeaderLines = %d, bytes have %d: %q", path, p.HeaderLines, got, clip(input[p.HeaderStart:p.BodyStart]))
		}
		if got := countLF(input[p.BodyStart:p.End]); got != p.BodyLines {
			t.Fatalf("part %s: BodyLines = %d, bytes have %d", path, p.BodyLines, got)
		}
		if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
			t.Fatalf("part %s: empty type/subtype/encoding: %q/%q %q", path, p.Type, p.Subtype, p.Encoding)
		}
		if isMessageType(p) && len(p.Parts) > 1 {
			t.Fatalf("part %s: message part with %d children", path, len(p.Parts))
		}
		for _, c := range p.Parts {
			if isMessageType(p) && c.Envelope == nil {
				t.Fatalf("part %s: encapsulated message without envelope", path)
			}
		}
		prev := p.BodyStart
		for i, c := range p.Parts {
			cp := path + "." + strconv.Itoa(i+1)
			if c.HeaderStart < prev || c.End > p.End {
				t.Fatalf("part %s: [%d,%d) outside parent body [%d,%d) or before previous sibling end %d",
					cp, c.HeaderStart, c.End, p.BodyStart, p.End, prev)
			}
			prev = c.End
			walk(c, cp, depth+1)
		}
	}
	walk(m.Root, "root", 0)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	var m2 Message
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	b2, err := m2.MarshalBinary()
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("binary round trip differs (err %v)", err)
	}
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// parsePath turns "2.1.3" into []int{2,1,3}; "" is the root.
func parsePath(s string) []int {
	if s == "" {
		return nil
	}
	var out []int
	for _, f := range strings.Split(s, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

func partAt(t testing.TB, m *Message, path string) *Part {
	t.Helper()
	p, ok := m.PartAt(parsePath(path))
	if !ok {
		t.Fatalf("PartAt(%q) not found", path)
	}
	return p
}

// wantBody checks BODY[path] bytes ("*": any) and the part's type.
func wantBody(t testing.TB, m *Message, input, path, typ, body string) {
	t.Helper()
	p := partAt(t, m, path)
	if got := input[p.BodyStart:p.End]; body != "*" && got != body {
		t.Errorf("BODY[%s] = %q, want %q", path, clip([]byte(got)), clip([]byte(body)))
	}
	if typ != "" {
		if got := p.Type + "/" + p.Subtype; got != typ {
			t.Errorf("part %s type = %s, want %s", path, got, typ)
		}
	}
}

// dump renders the tree for failure messages.
func dump(m *Message) string {
	var b strings.Builder
	var walk func(p *Part, ind string)
	walk = func(p *Part, ind string) {
		fmt.Fprintf(&b, "%s%s/%s [%d %d %d] lines %d/%d %q\n", ind, p.Type, p.Subtype,
			p.HeaderStart, p.BodyStart, p.End, p.HeaderLines, p.BodyLines, p.Filename)
		for _, c := range p.Parts {
			walk(c, ind+"  ")
		}
	}
	walk(m.Root, "")
	return b.String()
}

// chunkings scans input several ways and requires identical encodings.
func checkChunking(t *testing.T, input []byte, l Limits) {
	t.Helper()
	want, err := scanChunks(t, input, l).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(int64(len(input))))
	ways := [][]int{{3}, {1, 2, 5, 80, 1}, {4096}}
	if len(input) <= 1<<20 {
		ways = append(ways, []int{1})
	}
	var rnd []int
	for range 64 {
		rnd = append(rnd, 1+rng.Intn(200))
	}
	ways = append(ways, rnd)
	for _, w := range ways {
		got, err := scanChunks(t, input, l, w...).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunking %v changes the result", w[:min(len(w), 5)])
		}
	}
}

// diffMessages describes the first difference between a and b, "" if none.
func diffMessages(a, b *Message) string {
	if a.Size != b.Size || a.Flags != b.Flags || a.Preview != b.Preview {
		return fmt.Sprintf("header fields: %d %v %q vs %d %v %q", a.Size, a.Flags, a.Preview, b.Size, b.Flags, b.Preview)
	}
	var walk func(p, q *Part, path string) string
	walk = func(p, q *Part, path string) string {
		pp, qq := *p, *q
		pp.Parts, qq.Parts = nil, nil
		if !reflect.DeepEqual(pp, qq) {
			return fmt.Sprintf("part %s: %+v vs %+v", path, pp, qq)
		}
		if len(p.Parts) != len(q.Parts) {
			return fmt.Sprintf("part %s: %d vs %d children", path, len(p.Parts), len(q.Parts))
		}
		for i := range p.Parts {
			if d := walk(p.Parts[i], q.Parts[i], path+"."+strconv.Itoa(i+1)); d != "" {
				return d
			}
		}
		return ""
	}
	return walk(a.Root, b.Root, "root")
}
