package mailfetch

import (
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestDue: a source runs every Interval after its last attempt, waits
// twice as long after each failure in a row, never more than a day, and
// a paused one never runs.
func TestDue(t *testing.T) {
	f := New(Config{Interval: 10 * time.Minute})
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago      time.Duration // since the last attempt; 0: never tried
		failures int
		paused   bool
		due      bool
	}{
		{0, 0, false, true},
		{0, 0, true, false},
		{9 * time.Minute, 0, false, false},
		{10 * time.Minute, 0, false, true},
		{10 * time.Minute, 1, false, true},
		{19 * time.Minute, 2, false, false},
		{20 * time.Minute, 2, false, true},
		{79 * time.Minute, 4, false, false},
		{80 * time.Minute, 4, false, true},
		{23 * time.Hour, 30, false, false},
		{24 * time.Hour, 30, false, true},
	} {
		src := store.FetchSource{Enabled: !tc.paused, FetchStatus: store.FetchStatus{Failures: tc.failures}}
		if tc.ago != 0 {
			src.LastAttempt = now.Add(-tc.ago)
		}
		if got := f.due(src, now); got != tc.due {
			t.Errorf("%v after the last attempt, %d failures, paused %v: due %v, want %v", tc.ago, tc.failures, tc.paused, got, tc.due)
		}
	}
}
