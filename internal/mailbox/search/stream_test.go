package search

import (
	"context"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// The stream matcher finds a needle wherever the writes cut it, including
// inside a multi-byte rune, and never across a boundary.
func TestNeedleSetSplits(t *testing.T) {
	text := "xx Straße ǅungla KELVIN ÉTÉ yy"
	needles := []string{"STRASSE", "straße", "ǆUNGLA", "kelvin", "été", "yy", "x S"}
	want := []bool{false, true, true, true, true, true, true}
	for cut1 := 0; cut1 <= len(text); cut1++ {
		for cut2 := cut1; cut2 <= len(text); cut2++ {
			var folded [][]byte
			for _, n := range needles {
				folded = append(folded, foldString(nil, n))
			}
			var ns needleSet
			ns.reset(folded)
			ns.Write([]byte(text[:cut1]))
			ns.Write([]byte(text[cut1:cut2]))
			ns.Write([]byte(text[cut2:]))
			ns.boundary()
			for i := range needles {
				if ns.hit[i] != want[i] {
					t.Fatalf("cuts %d,%d: %q found=%v", cut1, cut2, needles[i], ns.hit[i])
				}
			}
		}
	}
	var ns needleSet
	ns.reset([][]byte{foldString(nil, "ab")})
	ns.Write([]byte("a"))
	ns.boundary()
	ns.Write([]byte("b"))
	if ns.done() {
		t.Error("match across a boundary")
	}
}

func TestFoldRune(t *testing.T) {
	for _, c := range [][2]rune{{'a', 'A'}, {'K', 'K'}, {'k', 'K'}, {'ſ', 'S'}, {'ß', 'ß'}, {'ẞ', 'ß'}, {'ǅ', 'Ǆ'}, {'ж', 'Ж'}, {'€', '€'}} {
		if got := foldRune(c[0]); got != c[1] {
			t.Errorf("foldRune(%q) = %q, want %q", c[0], got, c[1])
		}
		if utf8.RuneLen(foldRune(c[0])) > utf8.RuneLen(c[0]) {
			t.Errorf("foldRune(%q) grew", c[0])
		}
	}
}

func plainHead() string {
	return crlf("From: a@example.com\nSubject: big\nContent-Type: text/plain; charset=utf-8\n\n")
}

// A needle straddling the matcher's chunk boundaries in a large body is
// found, in plain and base64 parts.
func TestChunkBoundary(t *testing.T) {
	const needle = "Needle-Spanning-Chunks"
	c := Context{MaxSeq: 1, MaxUID: 1}
	m, err := Compile(mustKey(t, `BODY "needle-spanning-CHUNKS"`), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{0, chunkSize - 1, chunkSize - 5, 3*chunkSize - int64(len(needle)) + 1, 7*chunkSize + 3} {
		g := &genReaderAt{head: plainHead(), n: 8 * chunkSize, needle: needle, at: at}
		if ok, err := m.Match(context.Background(), genMsg(t, g)); !ok || err != nil {
			t.Errorf("plain, needle at %d: %v %v", at, ok, err)
		}
	}
	// base64: the decoded offsets of the needle straddle chunk ends.
	for _, at := range []int{chunkSize - 3, 2*chunkSize - 10, 5*chunkSize - 1} {
		text := strings.Repeat("z", at) + needle + strings.Repeat("w", 2*chunkSize)
		enc := base64.StdEncoding.EncodeToString([]byte(text))
		var body strings.Builder
		for len(enc) > 76 {
			body.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		body.WriteString(enc + "\r\n")
		raw := crlf("Subject: b64\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n") + body.String()
		msg := newMsg(t, raw, msgMeta(1), 1, false)
		if ok, err := m.Match(context.Background(), msg); !ok || err != nil {
			t.Errorf("base64, needle at %d: %v %v", at, ok, err)
		}
	}
	g := &genReaderAt{head: plainHead(), n: 4 * chunkSize}
	if ok, _ := m.Match(context.Background(), genMsg(t, g)); ok {
		t.Error("match without the needle")
	}
}

// Searching a 20 MB body allocates a small fixed amount, whatever the size.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB scan")
	}
	const size = 20 << 20
	g := &genReaderAt{head: plainHead(), n: size, needle: "the-end", at: size - 10}
	msg := genMsg(t, g)
	m, err := Compile(mustKey(t, `OR TEXT "nowhere to be found" OR BODY "absent" BODY "THE-END"`), Context{})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ok, err := m.Match(context.Background(), msg)
	runtime.ReadMemStats(&after)
	if !ok || err != nil {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("searching %d bytes allocated %d bytes", size, alloc)
	} else {
		t.Logf("searching %d bytes allocated %d bytes", size, alloc)
	}
	// A latin-1 quoted-printable part goes through both decoders.
	g = &genReaderAt{
		head: crlf("Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"),
		n:    size, needle: "Gr=FC=DFe", at: size / 2,
	}
	msg = genMsg(t, g)
	m, _ = Compile(mustKey(t, `BODY "GRÜßE" NOT BODY "absent"`), Context{})
	runtime.GC()
	runtime.ReadMemStats(&before)
	ok, err = m.Match(context.Background(), msg)
	runtime.ReadMemStats(&after)
	if !ok || err != nil {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("searching %d QP bytes allocated %d bytes", size, alloc)
	}
}
