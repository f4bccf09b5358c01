// Package address parses and normalises the email addresses Mailroom uses as
// account names, alias names and alias targets.
//
// Account identity is case-insensitive in both the local part and the domain,
// as in Postfix virtual maps and Dovecot: "Demo@Example.TEST" and
// "demo@example.test" are the same account. Addresses are therefore kept in
// lower case once parsed.
package address

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Address is a parsed, normalised email address.
type Address struct {
	Local  string
	Domain string
}

// String returns local@domain.
func (a Address) String() string { return a.Local + "@" + a.Domain }

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid address")

// Parse parses a mailbox address "local@domain" as used for accounts and
// aliases. It accepts a dot-atom local part (RFC 5322 atext, plus UTF-8 for
// SMTPUTF8 users) and a domain of LDH or UTF-8 labels. It refuses quoted local
// parts, comments and display names: those are never account names.
func Parse(s string) (Address, error) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return Address{}, fmt.Errorf("%w %q: want local@domain", ErrInvalid, s)
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local); err != nil {
		return Address{}, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	d, err := ParseDomain(domain)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	return Address{Local: strings.ToLower(local), Domain: d}, nil
}

// ParseDomain validates and lower-cases a domain name.
func ParseDomain(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("%w: empty domain", ErrInvalid)
	}
	if len(s) > 253 {
		return "", fmt.Errorf("%w domain %q: longer than 253 octets", ErrInvalid, s)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w domain %q: not UTF-8", ErrInvalid, s)
	}
	for _, label := range strings.Split(s, ".") {
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("%w domain %q: %v", ErrInvalid, s, err)
		}
	}
	return strings.ToLower(s), nil
}

func checkLabel(label string) error {
	if label == "" {
		return errors.New("empty label")
	}
	if len(label) > 63 {
		return fmt.Errorf("label %q longer than 63 octets", label)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'", label)
	}
	for _, r := range label {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
		case r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
		default:
			return fmt.Errorf("label %q has character %q", label, r)
		}
	}
	return nil
}

// atext per RFC 5322 section 3.2.3, without the alphanumerics.
const atextSpecials = "!#$%&'*+-/=?^_`{|}~"

func checkLocal(local string) error {
	if len(local) > 64 {
		return errors.New("local part longer than 64 octets")
	}
	if !utf8.ValidString(local) {
		return errors.New("local part not UTF-8")
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return errors.New("misplaced '.' in local part")
	}
	for _, r := range local {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.':
		case r < 0x80 && strings.ContainsRune(atextSpecials, r):
		case r >= 0x80 && unicode.IsPrint(r) && !unicode.IsSpace(r):
		default:
			return fmt.Errorf("local part has character %q", r)
		}
	}
	return nil
}
