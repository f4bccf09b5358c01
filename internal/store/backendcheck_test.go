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

// TestCheckTargetsPrefix: a header prefix of trace fields is fine; one
// holding a field that FROM, TO, CC, BCC or SUBJECT would search (which
// the index answers from the shared content) is refused.
func TestCheckTargetsPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"Return-Path: <a@example.test>\r\nDelivered-To: b@example.test\r\n", true},
		{"Received: from x\r\n\tby y; Mon, 7 Dec 2026 01:00:00 +0000\r\nX-Spam: no\r\n", true},
		{"X-Original-To: c@example.test\r\n", true},
		{"Delivered-To: b@example.test\r\nSubject: injected\r\n", false},
		{"FROM : someone\r\n", false},
		{"cc: x@example.test\r\n", false},
		{"X-Note: a\r\n To: folded continuation, not a field\r\n", true},
	} {
		err := CheckTargets([]Target{{MailboxID: 1, HeaderPrefix: []byte(tc.prefix)}})
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", tc.prefix, err)
		}
	}
}
