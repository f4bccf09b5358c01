package store

import (
	"errors"
	"slices"
	"testing"
)

func TestSortedKeys(t *testing.T) {
	if got := SortedKeys([]uint32{5, 1, 5, 3}); !slices.Equal(got, []int64{1, 3, 5}) {
		t.Errorf("UIDs: %v", got)
	}
	// Hashes above 2^63 become negative keys, still distinct and sorted.
	if got := SortedKeys([]uint64{1 << 63, 7, 1 << 63}); !slices.Equal(got, []int64{-1 << 63, 7}) {
		t.Errorf("hashes: %v", got)
	}
}

func TestCheckTargetsAndTrainings(t *testing.T) {
	if err := CheckTargets(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("no targets: %v", err)
	}
	if err := CheckTargets([]Target{{MailboxID: 1, Keywords: []string{"bad keyword"}}}); err == nil {
		t.Error("a keyword with a space was accepted")
	}
	if err := CheckTargets([]Target{{MailboxID: 1, Keywords: []string{"$Junk"}}}); err != nil {
		t.Errorf("a good target: %v", err)
	}
	if err := CheckJunkTrainings([]JunkTraining{{AccountID: 1, As: JunkHam + 1}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown class: %v", err)
	}
	if err := CheckJunkTrainings([]JunkTraining{{AccountID: 1, As: JunkSpam}}); err != nil {
		t.Errorf("a good training: %v", err)
	}
}
