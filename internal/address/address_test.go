package address

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]string{
		"demo@example.test":       "demo@example.test",
		"Demo.User@Example.TEST":  "demo.user@example.test",
		"a+tag@x.org":             "a+tag@x.org",
		"o'brien@sub.example.org": "o'brien@sub.example.org",
		"用户@例子.测试":                "用户@例子.测试",
		"x@example.org.":          "x@example.org",
	}
	for in, want := range good {
		a, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if a.String() != want {
			t.Errorf("Parse(%q) = %q, want %q", in, a, want)
		}
	}
	bad := []string{
		"", "@", "demo", "demo@", "@example.test", "a b@example.test", ".a@x.org", "a.@x.org",
		"a..b@x.org", "a@-x.org", "a@x..org", "a@x_y.org", "\"q\"@x.org", "a@x.org\r\n", " a@x.org",
		strings.Repeat("l", 65) + "@x.org", "a@" + strings.Repeat("d", 64) + ".org", "a\x00@x.org",
	}
	for _, in := range bad {
		if a, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want error", in, a)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"demo@example.test", "a+b@x.org", "用户@例子.测试", "@", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		// A parsed address must parse again to itself.
		b, err := Parse(a.String())
		if err != nil || a != b {
			t.Fatalf("Parse(%q) = %q, reparse = %q, %v", s, a, b, err)
		}
	})
}
