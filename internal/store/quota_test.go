package store

import (
	"errors"
	"testing"
)

func TestParseQuotaLimit(t *testing.T) {
	for _, c := range []struct {
		in      string
		storage bool
		want    QuotaLimit
		err     bool
	}{
		{"unlimited", true, Unlimited, false},
		{"Inherit", false, Inherit, false},
		{"0", false, 0, false},
		{"1000", false, 1000, false},
		{"10GB", true, 10 << 30, false},
		{"10 GiB", true, 10 << 30, false},
		{"1.5M", true, 3 << 19, false},
		{"512k", true, 512 << 10, false},
		{"100B", true, 100, false},
		{"100", true, 100, false},
		{"1.5", false, 0, true},
		{"5GB", false, 0, true},
		{"-1", true, 0, true},
		{"", true, 0, true},
		{"lots", true, 0, true},
		{"5XB", true, 0, true},
		{"2000P", true, 0, true},
	} {
		got, err := ParseQuotaLimit(c.in, c.storage)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseQuotaLimit(%q, %v) = %v, %v; want %v, error %v", c.in, c.storage, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseQuotaLimit(%q): %v is not ErrInvalid", c.in, err)
		}
	}
}

func TestQuotaLevel(t *testing.T) {
	for _, c := range []struct {
		usage int64
		limit QuotaLimit
		want  int
	}{
		{0, 10, 0}, {7, 10, 0}, {8, 10, 80}, {9, 10, 80}, {10, 10, 95}, {12, 10, 95},
		{79, 100, 0}, {80, 100, 80}, {94, 100, 80}, {95, 100, 95},
		{5, Unlimited, 0}, {0, 0, 0}, {1, 0, 95},
		{MaxQuotaLimit, MaxQuotaLimit, 95}, {MaxQuotaLimit / 100 * 81, MaxQuotaLimit, 80}, {MaxQuotaLimit / 100 * 79, MaxQuotaLimit, 0},
	} {
		if got := QuotaLevel(c.usage, c.limit); got != c.want {
			t.Errorf("QuotaLevel(%d, %d) = %d, want %d", c.usage, c.limit, got, c.want)
		}
	}
}

func TestEffectiveQuota(t *testing.T) {
	in := QuotaLimits{Inherit, Inherit}
	if got := EffectiveQuota(in, in, in); got != (QuotaLimits{Unlimited, Unlimited}) {
		t.Fatalf("all inherit: %v", got)
	}
	if got := EffectiveQuota(QuotaLimits{Inherit, 5}, QuotaLimits{Unlimited, 7}, QuotaLimits{100, 9}); got != (QuotaLimits{Unlimited, 5}) {
		t.Fatalf("mixed: %v", got)
	}
	if got := EffectiveQuota(in, QuotaLimits{Inherit, 7}, QuotaLimits{100, Unlimited}); got != (QuotaLimits{100, 7}) {
		t.Fatalf("from the server: %v", got)
	}
}
