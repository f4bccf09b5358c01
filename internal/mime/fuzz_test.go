package mime

import (
	"bytes"
	"testing"
)

func FuzzScan(f *testing.F) {
	for _, c := range corpus() {
		if len(c.input) < 64<<10 {
			f.Add([]byte(c.input), uint8(7))
		}
	}
	f.Add([]byte(nestedMultiparts(40)), uint8(1))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b--"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		// small limits, so the fuzzer reaches them
		l := Limits{MaxDepth: 6, MaxParts: 40, MaxHeaderBytes: 512, PreviewRunes: 40}
		m := scanChunks(t, in, l)
		checkInvariants(t, m, in)
		want, _ := m.MarshalBinary()
		got, _ := scanChunks(t, in, l, 1+int(chunk)%17, 1, 3).MarshalBinary()
		if !bytes.Equal(got, want) {
			t.Fatalf("chunking changes the result")
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, c := range corpus() {
		if len(c.input) < 64<<10 {
			if b, err := mustScan(f, c.input, Limits{}).MarshalBinary(); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte{binaryVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		// What decodes must encode, and the encoding must be stable (the
		// input itself may use non-minimal varints or unknown flag bits).
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded but cannot encode: %v", err)
		}
		var m2 Message
		if err := m2.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if out2, _ := m2.MarshalBinary(); !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding differs")
		}
		m.PartAt([]int{1, 2, 1})
	})
}
