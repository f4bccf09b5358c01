package auth

import (
	"crypto/rand"
	"strings"
)

// appPasswordAlphabet has 32 symbols, so each one carries exactly 5 random
// bits: lower-case letters and digits without 0, 1, l and o, which are
// easily mistaken for one another when read off a screen and typed on a
// phone.
const appPasswordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// GenerateAppPassword returns a new random app password: four groups of
// four symbols joined by dashes ("hx7k-…"), 80 bits of entropy. That is
// beyond guessing online through the login throttle and, hashed with
// argon2id, offline too. It is shown to the user once and used exactly as
// shown, dashes included.
func GenerateAppPassword() string {
	var raw [16]byte
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return an error).
	_, _ = rand.Read(raw[:])
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(appPasswordAlphabet[r%32]) // 256 is a multiple of 32: no bias
	}
	return b.String()
}
