package sieve

import (
	"errors"
	"testing"
)

// TestCheckErrorLine: a script's error says on which line it is.
func TestCheckErrorLine(t *testing.T) {
	for _, tc := range []struct {
		script string
		line   int
	}{
		{"require \"fileinto\";\nfoo;\n", 2},
		{"require \"fileinto\";\n\nif header :contains \"subject\" \"x\" {\n  fileinto \"a\"\n}\n", 4},
		{"keep;\r\nkeep;\r\n\r\nstop\r\n", 4},
	} {
		var e *Error
		if err := Check(tc.script); !errors.As(err, &e) || e.Line != tc.line || e.Column == 0 || e.Msg == "" {
			t.Errorf("Check(%q) = %#v, want an error on line %d", tc.script, err, tc.line)
		}
	}
}
