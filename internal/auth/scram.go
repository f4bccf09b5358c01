package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
)

const (
	scramPrefix = "SCRAM-SHA-256$"
	// scramIterations is RFC 7677's minimum and PostgreSQL's default, and
	// the minimum xdg-go/scram clients accept. PBKDF2 runs on the client
	// during a SCRAM exchange, so this costs the server nothing at login.
	scramIterations = 4096
	// maxSCRAMIterations bounds what ParseSCRAMSHA256 accepts, so a corrupt
	// row cannot tell clients to spin for hours.
	maxSCRAMIterations = 10_000_000
)

// hashSCRAMSHA256 returns SCRAM-SHA-256 stored credentials for password in
// PostgreSQL's text format.
//
// The password is SASLprepped as xdg-go/scram's client does (RFC 5802). A
// password SASLprep rejects (for example one containing unassigned code
// points such as emoji) is used unprepared instead, as PostgreSQL does, so
// that clients with the same fallback can still log in; strict clients refuse
// such a password before sending anything, so this admits nothing extra.
func hashSCRAMSHA256(password string) (string, error) {
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		// The error never contains the password (scram redacts it).
		client, err = scram.SHA256.NewClientUnprepped("", password, "")
		if err != nil {
			return "", fmt.Errorf("auth: preparing SCRAM client: %w", err)
		}
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: generating salt: %w", err)
	}
	return scramSHA256WithSalt(client, salt)
}

func scramSHA256WithSalt(client *scram.Client, salt []byte) (string, error) {
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
	if err != nil {
		return "", fmt.Errorf("auth: deriving SCRAM credentials: %w", err)
	}
	return formatSCRAMSHA256(creds), nil
}

func formatSCRAMSHA256(c scram.StoredCredentials) string {
	enc := base64.StdEncoding
	return scramPrefix + strconv.Itoa(c.Iters) + ":" + enc.EncodeToString([]byte(c.Salt)) +
		"$" + enc.EncodeToString(c.StoredKey) + ":" + enc.EncodeToString(c.ServerKey)
}

// ParseSCRAMSHA256 parses stored credentials in PostgreSQL's format,
// "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" (standard base64),
// for use as the result of an xdg-go/scram server's CredentialLookup.
func ParseSCRAMSHA256(s string) (scram.StoredCredentials, error) {
	fail := func(why string) (scram.StoredCredentials, error) {
		return scram.StoredCredentials{}, fmt.Errorf("%w: SCRAM-SHA-256: %s", ErrMalformedHash, why)
	}
	rest, ok := strings.CutPrefix(s, scramPrefix)
	if !ok {
		return fail("missing SCRAM-SHA-256$ prefix")
	}
	factors, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return fail("missing keys")
	}
	iterStr, saltStr, ok := strings.Cut(factors, ":")
	if !ok {
		return fail("missing salt")
	}
	iters, err := strconv.Atoi(iterStr)
	if err != nil || iters < 1 || iters > maxSCRAMIterations {
		return fail("bad iteration count")
	}
	enc := base64.StdEncoding.Strict()
	salt, err := enc.DecodeString(saltStr)
	if err != nil || len(salt) == 0 {
		return fail("bad salt")
	}
	storedStr, serverStr, ok := strings.Cut(keys, ":")
	if !ok {
		return fail("missing server key")
	}
	stored, err := enc.DecodeString(storedStr)
	if err != nil || len(stored) != sha256.Size {
		return fail("bad stored key")
	}
	server, err := enc.DecodeString(serverStr)
	if err != nil || len(server) != sha256.Size {
		return fail("bad server key")
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters},
		StoredKey:  stored,
		ServerKey:  server,
	}, nil
}
