package wire

import (
	"slices"
	"testing"
)

func TestParseSeqSet(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SeqSet
		str  string
		err  string
	}{
		{"1", SeqSet{{Start: 1, Stop: 1}}, "1", ""},
		{"*", SeqSet{{Start: 0, Stop: 0}}, "*", ""},
		{"1:*,3,5:7", SeqSet{{Start: 1, Stop: 0}, {Start: 3, Stop: 3}, {Start: 5, Stop: 7}}, "1:*,3,5:7", ""},
		{"7:5", SeqSet{{Start: 7, Stop: 5}}, "7:5", ""},
		{"*:4", SeqSet{{Start: 0, Stop: 4}}, "*:4", ""},
		{"4294967295", SeqSet{{Start: 4294967295, Stop: 4294967295}}, "4294967295", ""},
		{"4294967296", nil, "", "too large"},
		{"0", nil, "", "start at 1"},
		{"1:0", nil, "", "start at 1"},
		{"01", nil, "", "start at 1"},
		{"", nil, "", "expected a number"},
		{"1:", nil, "", "expected a number"},
		{",1", nil, "", "expected a number"},
		{"1,", nil, "", "expected a number"},
		{"1;2", nil, "", "invalid sequence set"},
		{"$", nil, "", "expected a number"},
		{"1 2", nil, "", "invalid sequence set"},
	} {
		got, err := ParseSeqSet(c.in)
		errContains(t, err, c.err)
		if !slices.Equal(got, c.want) {
			t.Errorf("ParseSeqSet(%q) = %v, want %v", c.in, got, c.want)
		}
		if err == nil && got.String() != c.str {
			t.Errorf("String() = %q, want %q", got.String(), c.str)
		}
	}
}

func TestReadSequenceSetSaved(t *testing.T) {
	type res struct {
		s     string
		saved bool
	}
	for _, c := range []struct {
		in   string
		want res
		err  string
	}{
		{"$", res{"", true}, ""},
		{"1:*", res{"1:*", false}, ""},
		{"$,1", res{}, "expected end of line"},
		{"1,$", res{}, "expected a number"},
	} {
		got, err := readOne(t, c.in, func(d *Decoder) (res, error) {
			s, saved, err := d.ReadSequenceSet()
			return res{s.String(), saved}, err
		})
		errContains(t, err, c.err)
		if err == nil && got != c.want {
			t.Errorf("%q: %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestSeqSetResolve(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  uint32
		want string
	}{
		{"1:*", 10, "1:10"},
		{"5:7,1:3,4", 10, "1:7"},
		{"9,2,4:3,*", 10, "2:4,9:10"},
		{"559:*", 500, "500:559"}, // RFC 9051: includes the last UID
		{"*:3", 2, "2:3"},
		{"1:3,5", 0, "1:3,5"},
		{"*,4:*,7", 0, "7"}, // "*" with nothing in use matches nothing
		{"4294967295,1:4294967294", 1, "1:4294967295"},
		{"3,3,3:3", 5, "3"},
	} {
		s, err := ParseSeqSet(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Resolve(c.max).String(); got != c.want {
			t.Errorf("Resolve(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestSeqSetContains(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  uint32
		n    []uint32
		notN []uint32
	}{
		{"1:*", 10, []uint32{1, 5, 10}, []uint32{11}},
		{"*", 10, []uint32{10}, []uint32{9, 11}},
		{"559:*", 500, []uint32{500, 559}, []uint32{499, 560}},
		{"2,4:6", 10, []uint32{2, 4, 6}, []uint32{1, 3, 7}},
		// UID FETCH 1:* on an empty mailbox: max is UIDNEXT, no message has it
		{"*", 0, nil, []uint32{0, 1}},
		{"3:*", 0, nil, []uint32{3}},
	} {
		s, _ := ParseSeqSet(c.in)
		for _, n := range c.n {
			if !s.Contains(n, c.max) {
				t.Errorf("%q (max %d) should contain %d", c.in, c.max, n)
			}
		}
		for _, n := range c.notN {
			if s.Contains(n, c.max) {
				t.Errorf("%q (max %d) should not contain %d", c.in, c.max, n)
			}
		}
	}
	s, _ := ParseSeqSet("1,3:*")
	if !s.HasStar() {
		t.Error("HasStar")
	}
	s, _ = ParseSeqSet("1,3:4")
	if s.HasStar() {
		t.Error("HasStar")
	}
}

func TestSeqSetRoundTrip(t *testing.T) {
	for _, in := range []string{"1", "1:*", "*:1", "1,2,3", "4:2,8,*,10:12"} {
		s, err := ParseSeqSet(in)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseSeqSet(s.String())
		if err != nil || !slices.Equal(s, s2) || s.String() != in {
			t.Errorf("round trip %q: %q", in, s.String())
		}
		c := s.Clone()
		c[0].Start = 99
		if s[0].Start == 99 {
			t.Error("Clone aliases")
		}
	}
}
