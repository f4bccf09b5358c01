package mailapi

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FUTURERELEASE (RFC 4865) in an EmailSubmission's envelope: the only
// SMTP parameters this server takes (submissionExtensions), on mailFrom.

// maxHoldParam bounds a parameter value read: HOLDFOR is at most 9
// digits, a HOLDUNTIL date-time some 35 characters.
const maxHoldParam = 64

// parseHold reads the mailFrom parameters of an envelope: whether the
// submission is held and until when. HOLDFOR=<seconds> (1 to 9 digits) or
// HOLDUNTIL=<RFC 3339 date-time>, not both, at most MaxDelayedSend from
// now; a time not after now (HOLDFOR=0, a HOLDUNTIL past) holds it for
// release at once. Any other parameter is an error: the server takes
// none. The error says why, for the client.
func parseHold(params map[string]*string, now time.Time) (until time.Time, held bool, err error) {
	var holdFor, holdUntil *string
	for name, v := range params {
		switch strings.ToUpper(name) {
		case "HOLDFOR":
			if holdFor != nil {
				return time.Time{}, false, fmt.Errorf("HOLDFOR is given twice")
			}
			holdFor = v
			if v == nil {
				return time.Time{}, false, fmt.Errorf("HOLDFOR needs a value (seconds)")
			}
		case "HOLDUNTIL":
			if holdUntil != nil {
				return time.Time{}, false, fmt.Errorf("HOLDUNTIL is given twice")
			}
			holdUntil = v
			if v == nil {
				return time.Time{}, false, fmt.Errorf("HOLDUNTIL needs a value (a date-time)")
			}
		default:
			return time.Time{}, false, fmt.Errorf("this server takes no SMTP parameter %.64q in the envelope (only FUTURERELEASE's HOLDFOR and HOLDUNTIL)", name)
		}
	}
	limit := now.Add(MaxDelayedSend)
	switch {
	case holdFor != nil && holdUntil != nil:
		return time.Time{}, false, fmt.Errorf("HOLDFOR and HOLDUNTIL exclude each other (RFC 4865)")
	case holdFor != nil:
		v := *holdFor
		if len(v) == 0 || len(v) > 9 || strings.Trim(v, "0123456789") != "" {
			return time.Time{}, false, fmt.Errorf("HOLDFOR=%.*q is not a number of seconds (1 to 9 digits)", maxHoldParam, v)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		if n > int64(MaxDelayedSend/time.Second) {
			return time.Time{}, false, fmt.Errorf("HOLDFOR=%d is longer than this server holds messages (maxDelayedSend %d)", n, int64(MaxDelayedSend/time.Second))
		}
		return now.Add(time.Duration(n) * time.Second), true, nil
	case holdUntil != nil:
		v := *holdUntil
		t, err := time.Parse(time.RFC3339, v)
		if len(v) > maxHoldParam || err != nil {
			return time.Time{}, false, fmt.Errorf("HOLDUNTIL=%.*q is not an RFC 3339 date-time", maxHoldParam, v)
		}
		if t.After(limit) {
			return time.Time{}, false, fmt.Errorf("HOLDUNTIL=%s is later than this server holds messages (maxDelayedSend %d seconds)", v, int64(MaxDelayedSend/time.Second))
		}
		if t.Before(now) {
			t = now
		}
		return t, true, nil
	}
	return time.Time{}, false, nil
}
