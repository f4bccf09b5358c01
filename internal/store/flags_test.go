package store

import (
	"slices"
	"testing"
)

func TestFlags(t *testing.T) {
	f := FlagSeen | FlagDeleted
	if got := f.Names(); !slices.Equal(got, []string{`\Seen`, `\Deleted`}) {
		t.Fatalf("Names = %v", got)
	}
	if g, ok := ParseFlag(`\FLAGGED`); !ok || g != FlagFlagged {
		t.Fatalf("ParseFlag = %v %v", g, ok)
	}
	if _, ok := ParseFlag("$Forwarded"); ok {
		t.Fatal("keyword parsed as system flag")
	}
	kw, err := NormalizeKeywords([]string{"Work", "$Junk", "work"})
	if err != nil || !slices.Equal(kw, []string{"$Junk", "Work"}) {
		t.Fatalf("NormalizeKeywords = %v %v", kw, err)
	}
	for _, bad := range []string{"", `\Seen`, "a b", "a(b", "ä", "x]"} {
		if _, err := NormalizeKeywords([]string{bad}); err == nil {
			t.Errorf("keyword %q accepted", bad)
		}
	}
}

func TestSettings(t *testing.T) {
	for in, want := range map[string]string{"yes": "true", "On": "true", "0": "false", "false": "false"} {
		if got, err := NormalizeSetting("pop3.enabled", in); err != nil || got != want {
			t.Errorf("NormalizeSetting(pop3.enabled, %q) = %q, %v", in, got, err)
		}
	}
	if _, err := NormalizeSetting("nope", "1"); err == nil {
		t.Fatal("unknown key accepted")
	}
	d := DefaultSettings()
	if !d.Bool("imap.enabled") || d.Bool("admin") {
		t.Fatalf("defaults %v", d)
	}
	defs := SettingDefs()
	if !slices.IsSortedFunc(defs, func(a, b SettingDef) int {
		if a.Key < b.Key {
			return -1
		}
		return 1
	}) {
		t.Fatal("SettingDefs not sorted")
	}
}
