package mime

import "testing"

func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in   string
		base string
		re   bool
	}{
		{"", "", false},
		{"Hello", "Hello", false},
		{"  Hello \t  world  ", "Hello world", false},
		{"Re: Hello", "Hello", true},
		{"RE:Hello", "Hello", true},
		{"re: re: Fwd: Hello", "Hello", true},
		{"Fw: Hello", "Hello", true},
		{"Re[2]: Hello", "Hello", true},
		{"Re [2]: Hello", "Hello", true},
		{"[list] Re: Hello", "Hello", true},
		{"[list] Hello", "Hello", false},
		{"[list]", "[list]", false}, // a blob that would leave nothing stays
		{"Hello (fwd)", "Hello", true},
		{"Hello (FWD) (fwd)  ", "Hello", true},
		{"[Fwd: Re: Hello]", "Hello", true},
		{"[fwd: [fwd: Hello (fwd)]]", "Hello", true},
		{"Reply to all", "Reply to all", false}, // "re" without ":" is a word
		{"Re:", "", true},
		{"[a][b] Re: x", "x", true},
		{"Ré: été", "Ré: été", false},
		{"Re: [", "[", true},
	}
	for _, tt := range tests {
		base, re := BaseSubject(tt.in)
		if base != tt.base || re != tt.re {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tt.in, base, re, tt.base, tt.re)
		}
	}
}

func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{"Re: [x] Fwd: y (fwd)", "[fwd: [fwd: a]]", "[[[", "re re: :"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, _ := BaseSubject(s)
		if len(base) > len(s) {
			t.Fatalf("base %q longer than %q", base, s)
		}
	})
}
