package mime

import "testing"

func TestSkipCFWS(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"  abc":                   "abc",
		"(comment) abc":           "abc",
		" (a (nested) one)\r\n x": "x",
		`(with \) quoted) y`:      "y",
		"(unterminated abc":       "",
		"(one)(two) z (not this)": "z (not this)",
	} {
		if got := SkipCFWS(in); got != want {
			t.Errorf("SkipCFWS(%q) = %q, want %q", in, got, want)
		}
	}
}
