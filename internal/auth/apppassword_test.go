package auth

import (
	"regexp"
	"testing"
)

func TestGenerateAppPassword(t *testing.T) {
	shape := regexp.MustCompile(`^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$`)
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		pw := GenerateAppPassword()
		if !shape.MatchString(pw) {
			t.Fatalf("app password %q has the wrong shape", pw)
		}
		if seen[pw] {
			t.Fatalf("app password %q generated twice", pw)
		}
		seen[pw] = true
		for _, r := range pw {
			counts[r]++
		}
	}
	// Every symbol of the alphabet turns up: 32,000 draws, 1,000 expected each.
	for _, r := range appPasswordAlphabet {
		if counts[r] < 700 {
			t.Errorf("symbol %q drawn %d times in 32,000", r, counts[r])
		}
	}
}
