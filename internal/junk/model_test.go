package junk

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
)

// snapshot returns a model's contents for comparison.
func snapshot(m *Model) (map[uint64][2]uint32, [2]int) {
	out := make(map[uint64][2]uint32)
	m.Each(func(h uint64, s, hm uint32) { out[h] = [2]uint32{s, hm} })
	s, h := m.Counts()
	return out, [2]int{s, h}
}

func equalModels(t *testing.T, a, b *Model) {
	t.Helper()
	ta, ca := snapshot(a)
	tb, cb := snapshot(b)
	if ca != cb {
		t.Fatalf("message counts %v != %v", ca, cb)
	}
	if !maps.Equal(ta, tb) {
		t.Fatalf("token counts differ: %d vs %d tokens", len(ta), len(tb))
	}
}

func TestLearnUnlearnSymmetry(t *testing.T) {
	base := NewModel()
	base.Learn([]string{"common", "hello", "offer"}, false)
	base.Learn([]string{"common", "offer", "cheap"}, true)
	before := NewModel()
	if err := before.UnmarshalBinary(mustMarshal(t, base)); err != nil {
		t.Fatal(err)
	}

	msg := []string{"offer", "new", "cheap", "new"} // a repeat counts once
	base.Learn(msg, true)
	if s, h := base.Token(Hash("new")); s != 1 || h != 0 {
		t.Fatalf("new: spam %d ham %d, want 1 0", s, h)
	}
	if s, _ := base.Counts(); s != 2 {
		t.Fatalf("spam messages %d, want 2", s)
	}
	base.Unlearn(msg, true)
	equalModels(t, base, before)
	if s, h := base.Token(Hash("new")); s != 0 || h != 0 || base.Len() != 4 {
		t.Fatalf("unlearned token kept: %d %d, %d tokens", s, h, base.Len())
	}

	// Moving a message from spam to ham: unlearn one, learn the other.
	base.Learn(msg, true)
	base.Unlearn(msg, true)
	base.Learn(msg, false)
	if s, h := base.Token(Hash("offer")); s != 1 || h != 2 {
		t.Fatalf("offer after correction: spam %d ham %d, want 1 2", s, h)
	}

	// Unlearning what was never learned never goes below zero.
	empty := NewModel()
	empty.Unlearn([]string{"x"}, true)
	if s, h := empty.Counts(); s != 0 || h != 0 || empty.Len() != 0 {
		t.Fatalf("empty model after Unlearn: %d %d %d", s, h, empty.Len())
	}
}

func mustMarshal(t *testing.T, m *Model) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStorageRoundTrip: a model written out with Each and Counts and read
// back with Add and AddMessages (the incremental form) or through
// MarshalBinary classifies the same.
func TestStorageRoundTrip(t *testing.T) {
	m := handModel()
	loaded := NewModel()
	m.Each(func(h uint64, s, hm uint32) { loaded.Add(h, int32(s), int32(hm)) })
	s, h := m.Counts()
	loaded.AddMessages(int32(s), int32(h))
	equalModels(t, m, loaded)

	decoded := NewModel()
	if err := decoded.UnmarshalBinary(mustMarshal(t, m)); err != nil {
		t.Fatal(err)
	}
	equalModels(t, m, decoded)
	msg := Tokens(crlf("Subject: cheap pills\n\nbuy cheap pills online now\n"))
	if a, b := m.Classify(msg, nil).Score, decoded.Classify(msg, nil).Score; a != b {
		t.Fatalf("scores differ after round trip: %v %v", a, b)
	}

	// A delta applied with Add (as a store keeping increments would).
	loaded.Add(Hash("pills"), 3, -1)
	ps, ph := m.Token(Hash("pills"))
	ls, lh := loaded.Token(Hash("pills"))
	if ls != ps+3 || lh != subSat(ph, 1) {
		t.Fatalf("delta: %d %d from %d %d", ls, lh, ps, ph)
	}
	// Clamped, never wrapping.
	loaded.Add(Hash("pills"), -1000, math.MaxInt32)
	loaded.Add(Hash("pills"), 0, math.MaxInt32)
	loaded.Add(Hash("pills"), 0, math.MaxInt32)
	if s, h := loaded.Token(Hash("pills")); s != 0 || h != math.MaxUint32 {
		t.Fatalf("clamping: %d %d", s, h)
	}
}

func TestUnmarshalCorrupt(t *testing.T) {
	good := mustMarshal(t, handModel())
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     []byte("XXXX"),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"huge count": append([]byte(binaryMagic), 1, 1,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"duplicate": append([]byte(binaryMagic), 0, 0, 2, 5, 1, 0, 0, 1, 0),
	} {
		m := handModel()
		if err := m.UnmarshalBinary(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
		equalModels(t, m, handModel()) // unchanged
	}
}

func TestPrune(t *testing.T) {
	m := NewModel()
	// "keep" tokens are in many messages; "rare" ones in one each, the
	// old ones learned before the recent ones.
	for i := range 50 {
		m.Learn([]string{"keep1", "keep2", fmt.Sprintf("oldrare%d", i)}, i%2 == 0)
	}
	for i := range 50 {
		m.Learn([]string{"keep1", "keep2", fmt.Sprintf("newrare%d", i)}, i%2 == 0)
	}
	if m.Len() != 102 {
		t.Fatalf("%d tokens before pruning", m.Len())
	}
	if n := m.Prune(1000); n != 0 || m.Len() != 102 {
		t.Fatalf("pruning below the bound dropped %d", n)
	}
	if n := m.Prune(52); n != 50 || m.Len() != 52 {
		t.Fatalf("Prune(52) dropped %d, %d left", n, m.Len())
	}
	for _, tok := range []string{"keep1", "keep2", "newrare0", "newrare49"} {
		if s, h := m.Token(Hash(tok)); s+h == 0 {
			t.Errorf("%s pruned", tok)
		}
	}
	for _, tok := range []string{"oldrare0", "oldrare49"} {
		if s, h := m.Token(Hash(tok)); s+h != 0 {
			t.Errorf("%s kept", tok)
		}
	}
	// Message counts are not touched.
	if s, h := m.Counts(); s != 50 || h != 50 {
		t.Fatalf("counts %d %d", s, h)
	}
	m.Prune(0)
	if m.Len() != 0 {
		t.Fatalf("Prune(0) left %d", m.Len())
	}
}

// TestConcurrent learns, unlearns, classifies, prunes and stores from
// several goroutines at once (run with -race).
func TestConcurrent(t *testing.T) {
	m := handModel()
	base := handModel()
	msgs := [][]string{
		Tokens(crlf("Subject: cheap pills\n\nbuy cheap pills now\n")),
		Tokens(crlf("Subject: meeting notes\n\nthe meeting notes from monday\n")),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				msg := msgs[(g+i)%2]
				switch (g + i) % 6 {
				case 0:
					m.Learn(msg, i%2 == 0)
				case 1:
					m.Unlearn(msg, i%2 == 0)
				case 2:
					m.Classify(msg, base)
				case 3:
					m.Each(func(uint64, uint32, uint32) {})
				case 4:
					m.Prune(1000)
					m.Add(Hash("x"), 1, 1)
				case 5:
					if _, err := m.MarshalBinary(); err != nil {
						t.Error(err)
					}
					base.Classify(msg, m)
				}
			}
		}()
	}
	wg.Wait()
	// Self as base must not deadlock either.
	m.Classify(msgs[0], m)
}

func TestHashStable(t *testing.T) {
	// Stored models depend on Hash never changing: FNV-1a 64.
	if got := Hash(""); got != 14695981039346656037 {
		t.Fatalf("Hash(\"\") = %d", got)
	}
	if got := Hash("a"); got != 0xaf63dc4c8601ec8c {
		t.Fatalf("Hash(\"a\") = %#x", got)
	}
	if hs := Hashes([]string{"a", "b", "a"}); len(hs) != 2 || hs[0] != Hash("a") {
		t.Fatalf("Hashes: %v", hs)
	}
}
