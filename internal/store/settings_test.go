package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeSetting(t *testing.T) {
	var eleven []string
	for i := range MaxAddressListSetting + 1 {
		eleven = append(eleven, fmt.Sprintf("u%d@example.test", i))
	}
	for _, c := range []struct {
		key, value, want string // want "!" : ErrInvalid
	}{
		{"forward.to", "", ""},
		{"forward.to", " , ", ""},
		{"forward.to", "Bob@Example.TEST", "bob@example.test"},
		{"forward.to", "a@x.example,b@y.example, A@X.example", "a@x.example, b@y.example"},
		{"forward.to", "Bob <bob@example.test>", "!"},
		{"forward.to", strings.Join(eleven, ","), "!"},
		{"forward.to", strings.Repeat("a@example.test,", 30), "a@example.test"}, // duplicates do not count
		{"vacation.subject", "Gone fishing 🎣", "Gone fishing 🎣"},
		{"vacation.subject", "two\nlines", "!"},
		{"vacation.subject", "tab\tok", "tab\tok"},
		{"vacation.subject", strings.Repeat("x", MaxStringSetting+1), "!"},
		{"vacation.subject", "\xff", "!"},
		{"vacation.body", "one\r\ntwo\n\nthree", "one\ntwo\n\nthree"},
		{"vacation.body", "bare\rCR", "!"},
		{"vacation.body", strings.Repeat("x", MaxTextSetting+1), "!"},
		{"vacation.interval_days", "007", "7"},
		{"vacation.interval_days", "0", "!"},
		{"vacation.interval_days", "365", "365"},
		{"vacation.interval_days", "366", "!"},
		{"vacation.until", "-5", "!"},
		{"pop3.enabled_at", "-5", "-5"}, // unbounded
	} {
		got, err := NormalizeSetting(c.key, c.value)
		if c.want == "!" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s=%.40q: got %q, %v, want ErrInvalid", c.key, c.value, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s=%.40q: got %q, %v, want %q", c.key, c.value, got, err, c.want)
		}
	}
}
