package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultParams are the argon2id parameters for new hashes.
//
// They are the minimum recommended by the OWASP Password Storage Cheat Sheet
// (m=19 MiB, t=2, p=1). Going higher makes every login cost more memory and
// CPU on small self-hosted machines, which is what Mailroom targets; going
// lower weakens offline guessing of a stolen database. Because parameters are
// stored in each PHC string, they can be raised later without invalidating
// existing hashes. One lane keeps a login to one core; parallelism across
// logins comes from the Authenticator's semaphore instead.
var DefaultParams = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// Bounds on parameters accepted from a stored hash (and for new hashes). A
// corrupt or hostile database row must not be able to make one login allocate
// gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1024 * 1024 // 1 GiB
	maxTime      = 64
	maxThreads   = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64

	saltLen = 16
	keyLen  = 32
)

// Credentials is what the store keeps for one password.
type Credentials struct {
	// Argon2id is a PHC string:
	// $argon2id$v=19$m=19456,t=2,p=1$<salt, base64 raw std>$<hash, base64 raw std>
	Argon2id string
	// SCRAMSHA256 is in PostgreSQL's format:
	// SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>
	SCRAMSHA256 string
	// APOP is the plaintext-equivalent secret POP3 APOP needs (RFC 1939
	// section 7). Empty unless the operator enabled APOP when the password
	// was set: it is as good as the password to whoever reads the database.
	APOP string
}

// ErrMalformedHash is wrapped by the errors VerifyPassword and
// ParseSCRAMSHA256 return for strings they cannot parse or refuse to use.
var ErrMalformedHash = errors.New("auth: malformed password hash")

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("argon2id threads %d out of range 1..%d", p.Threads, maxThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		// argon2 needs at least 8 KiB per lane.
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	}
	return nil
}

// HashPassword derives the stored credentials for password: an argon2id hash
// with params p and SCRAM-SHA-256 credentials, each with its own 16-byte
// random salt.
func HashPassword(password string, p Params) (Credentials, error) {
	if err := p.validate(); err != nil {
		return Credentials{}, fmt.Errorf("auth: hashing password: %w", err)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Credentials{}, fmt.Errorf("auth: generating salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	phc := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key))

	scramCreds, err := hashSCRAMSHA256(password)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Argon2id: phc, SCRAMSHA256: scramCreds}, nil
}

// VerifyPassword reports whether password matches the argon2id PHC string
// encoded. The comparison is constant-time. It returns an error only when
// encoded is malformed or its parameters are out of bounds.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, want, err := parseArgon2id(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseArgon2id parses $argon2id$v=19$m=M,t=T,p=P$salt$hash strictly.
func parseArgon2id(encoded string) (Params, []byte, []byte, error) {
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id: %s", ErrMalformedHash, why)
	}
	// "" / "argon2id" / "v=19" / "m=..,t=..,p=.." / salt / hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("wrong number of fields")
	}
	if parts[1] != "argon2id" {
		return fail("unsupported algorithm")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported version")
	}
	var p Params
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return fail("parameters must be m=,t=,p=")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return fail("parameters must be m=,t=,p=")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fail("bad parameter " + name)
		}
		switch name {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return fail("parameters out of range")
			}
			p.Threads = uint8(n)
		}
	}
	if err := p.validate(); err != nil {
		return fail("parameters out of range")
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return fail("bad salt")
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return fail("bad hash")
	}
	return p, salt, key, nil
}
