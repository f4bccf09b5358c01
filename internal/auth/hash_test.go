package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// cheapParams keep tests fast; one test uses DefaultParams.
var cheapParams = Params{Time: 1, MemoryKiB: 64, Threads: 1}

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd ünïcode", "😀 emoji"} {
		creds, err := HashPassword(pw, cheapParams)
		if err != nil {
			t.Fatalf("HashPassword(%q): %v", pw, err)
		}
		if !phcRE.MatchString(creds.Argon2id) {
			t.Fatalf("argon2id string %q not in PHC form", creds.Argon2id)
		}
		if !strings.Contains(creds.Argon2id, "$m=64,t=1,p=1$") {
			t.Errorf("params not encoded: %q", creds.Argon2id)
		}
		ok, err := VerifyPassword(creds.Argon2id, pw)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(right) = %v, %v", ok, err)
		}
		ok, err = VerifyPassword(creds.Argon2id, pw+"x")
		if err != nil || ok {
			t.Errorf("VerifyPassword(wrong) = %v, %v", ok, err)
		}
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := HashPassword("same", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("same", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if a.Argon2id == b.Argon2id || a.SCRAMSHA256 == b.SCRAMSHA256 {
		t.Fatal("two hashes of the same password are equal: salt not random")
	}
}

func TestHashPasswordDefaultParams(t *testing.T) {
	creds, err := HashPassword("default params", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.Argon2id, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected prefix: %q", creds.Argon2id)
	}
	if ok, err := VerifyPassword(creds.Argon2id, "default params"); err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(creds.Argon2id, "Default params"); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
}

func TestHashPasswordRejectsBadParams(t *testing.T) {
	for _, p := range []Params{
		{Time: 0, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 0},
		{Time: 1, MemoryKiB: 4, Threads: 1},
		{Time: 1, MemoryKiB: 8 << 20, Threads: 1},
		{Time: 1000, MemoryKiB: 64, Threads: 1},
	} {
		if _, err := HashPassword("x", p); err == nil {
			t.Errorf("HashPassword with %+v: no error", p)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	const salt = "c29tZXNhbHRzb21lc2FsdA" // 16 bytes
	const hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash
	if _, err := VerifyPassword(good, "x"); err != nil {
		t.Fatalf("well-formed control string rejected: %v", err)
	}
	for _, s := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash + "$",
		"$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + hash, // 4 TiB
		"$argon2id$v=19$m=64,t=4000000000,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=255$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=1$" + "c2FsdA" + "$" + hash, // 4-byte salt
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + "AAAA",   // 3-byte hash
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash + "==",
		"$argon2id$v=19$m=64,t=1,p=1$" + "!!!!" + "$" + hash,
	} {
		ok, err := VerifyPassword(s, "x")
		if err == nil || ok {
			t.Errorf("VerifyPassword(%q) = %v, %v; want error", s, ok, err)
			continue
		}
		if !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) error %v does not wrap ErrMalformedHash", s, err)
		}
	}
}
