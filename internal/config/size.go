package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a byte count written as a string with an optional unit: "50MiB",
// "512KiB", "10MB", "1048576".
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1}, {"", 1},
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(text, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n < 0 || n > (1<<62)/u.mult {
			break
		}
		*s = Size(n * u.mult)
		return nil
	}
	return fmt.Errorf("want a size such as \"50MiB\", \"512KiB\" or a number of bytes, not %q", b)
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) {
	switch {
	case s != 0 && s%(1<<30) == 0:
		return []byte(fmt.Sprintf("%dGiB", s>>30)), nil
	case s != 0 && s%(1<<20) == 0:
		return []byte(fmt.Sprintf("%dMiB", s>>20)), nil
	case s != 0 && s%(1<<10) == 0:
		return []byte(fmt.Sprintf("%dKiB", s>>10)), nil
	}
	return []byte(strconv.FormatInt(int64(s), 10)), nil
}
