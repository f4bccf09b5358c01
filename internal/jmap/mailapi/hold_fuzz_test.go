package mailapi

import (
	"testing"
	"time"
)

// TestParseHold: the FUTURERELEASE parameters, good and bad.
func TestParseHold(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		params map[string]*string
		held   bool
		until  time.Time
		bad    bool
	}{
		{params: nil},
		{params: map[string]*string{"HOLDFOR": str("10")}, held: true, until: now.Add(10 * time.Second)},
		{params: map[string]*string{"holdfor": str("0")}, held: true, until: now},
		{params: map[string]*string{"HOLDFOR": str("604800")}, held: true, until: now.Add(MaxDelayedSend)},
		{params: map[string]*string{"HOLDFOR": str("604801")}, bad: true},
		{params: map[string]*string{"HOLDFOR": str("-1")}, bad: true},
		{params: map[string]*string{"HOLDFOR": str("1e3")}, bad: true},
		{params: map[string]*string{"HOLDFOR": str("")}, bad: true},
		{params: map[string]*string{"HOLDFOR": str("1234567890")}, bad: true},
		{params: map[string]*string{"HOLDFOR": nil}, bad: true},
		{params: map[string]*string{"HOLDUNTIL": str("2026-12-07T13:00:00Z")}, held: true, until: now.Add(time.Hour)},
		{params: map[string]*string{"HOLDUNTIL": str("2026-12-07T14:00:00+02:00")}, held: true, until: now},
		{params: map[string]*string{"HOLDUNTIL": str("2026-12-07T11:00:00Z")}, held: true, until: now},
		{params: map[string]*string{"HOLDUNTIL": str("2026-12-15T12:00:00Z")}, bad: true},
		{params: map[string]*string{"HOLDUNTIL": str("tomorrow")}, bad: true},
		{params: map[string]*string{"HOLDFOR": str("5"), "HOLDUNTIL": str("2026-12-07T13:00:00Z")}, bad: true},
		{params: map[string]*string{"HOLDFOR": str("5"), "holdFor": str("6")}, bad: true},
		{params: map[string]*string{"BODY": str("8BITMIME")}, bad: true},
	} {
		until, held, err := parseHold(tc.params, now)
		if (err != nil) != tc.bad || held != tc.held || !until.Equal(tc.until) {
			t.Errorf("%v: got %v %v %v; want held %v until %v, error %v", tc.params, until, held, err, tc.held, tc.until, tc.bad)
		}
	}
}

// FuzzParseHold: any parameter value is taken or refused without
// panicking, and a hold taken is within the bounds.
func FuzzParseHold(f *testing.F) {
	for _, s := range []string{"10", "0", "604800", "999999999", "2026-12-07T13:00:00Z", "2026-12-07T13:00:00.5+01:00", "", "x"} {
		f.Add("HOLDFOR", s)
		f.Add("HOLDUNTIL", s)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, value string) {
		until, held, err := parseHold(map[string]*string{name: &value}, now)
		if err != nil && held {
			t.Fatal("held with an error")
		}
		if held && (until.Before(now) || until.After(now.Add(MaxDelayedSend))) {
			t.Fatalf("%s=%q held until %v, out of bounds", name, value, until)
		}
	})
}
