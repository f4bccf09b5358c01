package store

import (
	"context"
	"fmt"
	"time"

	"mailroom/internal/auth"
)

// LoginCounts keeps the login throttle's failure counts and trust records
// (auth.SharedCounts) for every node serving the store, so that guesses
// spread over several nodes are counted together. Keys are short ASCII
// strings chosen by the throttle (at most MaxSharedNameLen octets).
type LoginCounts interface {
	// LoginCounts returns the counts of the keys that have one: one
	// indexed read, on the path of every login.
	LoginCounts(ctx context.Context, keys []string) (map[string]auth.SharedCount, error)
	// AddLoginCounts decays each key's count to now by halfLife (a count
	// changed later than now, by a node whose clock is ahead, is not
	// decayed) and adds delta, atomically against every other node; a
	// result below auth.ForgetBelow deletes the key. halfLife must be
	// positive.
	AddLoginCounts(ctx context.Context, keys []string, delta float64, now time.Time, halfLife time.Duration) error
	// PutLoginCount sets a key's count.
	PutLoginCount(ctx context.Context, key string, c auth.SharedCount) error
	// PruneLoginCounts deletes the counts of the keys that start with
	// prefix and were last changed before before; it returns how many.
	PruneLoginCounts(ctx context.Context, prefix string, before time.Time) (int, error)
}

var _ auth.SharedCounts = LoginCounts(nil)

// MaxLoginKeys bounds the keys of one LoginCounts call (the throttle asks
// for four).
const MaxLoginKeys = 16

// CheckLoginKeys is the backends' check of the keys of a LoginCounts call.
func CheckLoginKeys(keys []string) error {
	if len(keys) > MaxLoginKeys {
		return fmt.Errorf("%w: %d keys, at most %d", ErrInvalid, len(keys), MaxLoginKeys)
	}
	for _, k := range keys {
		if err := CheckSharedName(k); err != nil {
			return err
		}
	}
	return nil
}
