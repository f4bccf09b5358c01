package store

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mailroom/internal/address"
)

// SettingKind is the type of a per-account setting.
type SettingKind int

// The kinds of settings.
const (
	KindBool SettingKind = iota
	// KindString is one line of text: no control characters, at most
	// MaxStringSetting octets, since such values end up in header fields.
	KindString
	KindEnum
	KindInt
	// KindText is free text over several lines (LF or CRLF), at most
	// MaxTextSetting octets.
	KindText
	// KindAddressList is a comma-separated list of at most
	// MaxAddressListSetting mail addresses, "" for none. It is stored
	// normalised: lower case, without duplicates, joined by ", ".
	KindAddressList
)

// Bounds on setting values: they are read on every delivery to the
// account, so one account cannot make that arbitrarily expensive.
const (
	MaxStringSetting      = 200
	MaxTextSetting        = 16 << 10
	MaxAddressListSetting = 10
)

// MaxVacationInterval is the longest vacation.interval_days: a backend may
// forget vacation replies older than that.
const MaxVacationInterval = 365 * 24 * time.Hour

// SettingDef describes one per-account setting. Later features add entries
// to settingDefs; the store validates every write against it.
type SettingDef struct {
	Key     string
	Kind    SettingKind
	Default string
	Values  []string // KindEnum: the allowed values
	// Min and Max bound a KindInt; both zero means any integer.
	Min, Max int64
	Doc      string
}

// settingDefs is the registry of per-account settings. It is read-only.
var settingDefs = []SettingDef{
	{Key: "admin", Kind: KindBool, Default: "false", Doc: "may use the admin pages and commands of the web interface"},
	{Key: "imap.enabled", Kind: KindBool, Default: "true", Doc: "IMAP logins allowed"},
	{Key: "jmap.enabled", Kind: KindBool, Default: "true", Doc: "JMAP access allowed (the API for web and mobile apps)"},
	{Key: "pop3.enabled", Kind: KindBool, Default: "true", Doc: "POP3 logins allowed"},
	{Key: "pop3.enabled_at", Kind: KindInt, Default: "0", Doc: "when POP3 was last switched on (Unix seconds; set automatically)"},
	{Key: "pop3.delete_mode", Kind: KindEnum, Default: "expunge", Values: []string{"expunge", "trash", "keep"},
		Doc: "what a POP3 DELE does at QUIT: expunge (delete), trash (move to Trash), keep (leave on the server, never list to POP3 again)"},
	{Key: "pop3.mark_seen", Kind: KindBool, Default: "true", Doc: "messages retrieved with RETR are marked \\Seen at QUIT"},
	{Key: "pop3.scope", Kind: KindEnum, Default: "all", Values: []string{"all", "since-enabled"},
		Doc: "all: POP3 lists the whole INBOX; since-enabled: only mail that arrived after POP3 was last switched on"},
	{Key: "submission.enabled", Kind: KindBool, Default: "true", Doc: "may send mail through SMTP submission (and the webmail and JMAP)"},
	// internal/jmap/mailapi/identity.go: one JSON document, written whole
	// by Identity/set, so that an identity's fields change together.
	{Key: "identity.profiles", Kind: KindText, Default: "",
		Doc: "JMAP identities: the name, signatures, reply-to and bcc of each address the account sends as, and identities a JMAP client added (JSON, written by JMAP Identity/set)"},
	// delegation.go: where a copy goes when a delegate sends as this account.
	{Key: SentCopySetting, Kind: KindEnum, Default: SentCopyDelegate, Values: []string{SentCopyDelegate, SentCopyBoth},
		Doc: "mail a delegate sends as this account: delegate (a copy in the delegate's Sent only) or both (also in this account's Sent)"},

	// IMAP URLAUTH (RFC 4467): the mailbox access keys are derived from
	// the secret and each mailbox's generation; RESETKEY replaces the
	// secret (every mailbox) or bumps a generation (one mailbox).
	{Key: "imap.urlauth_secret", Kind: KindString, Default: "",
		Doc: "secret the IMAP URLAUTH mailbox access keys derive from (set on first use; changing or clearing it revokes every URLAUTH URL)"},
	{Key: "imap.urlauth_generations", Kind: KindText, Default: "",
		Doc: "IMAP URLAUTH key generation of each mailbox RESETKEY was used on, one \"mailbox-id generation\" per line (set automatically)"},

	{Key: "forward.to", Kind: KindAddressList, Default: "",
		Doc: "forward incoming mail to these addresses (comma-separated, at most 10; empty: no forwarding)"},
	{Key: "forward.keep", Kind: KindBool, Default: "true", Doc: "keep a copy of forwarded mail in INBOX"},

	{Key: "vacation.enabled", Kind: KindBool, Default: "false", Doc: "answer incoming mail with an automatic vacation notice"},
	{Key: "vacation.subject", Kind: KindString, Default: "Out of office",
		Doc: `subject of the vacation notice; empty: "Auto: " and the subject of the message answered`},
	{Key: "vacation.body", Kind: KindText, Default: "I am away and will read your message when I am back.",
		Doc: "text of the vacation notice (plain text, several lines)"},
	{Key: "vacation.from", Kind: KindInt, Default: "0", Min: 0, Max: math.MaxInt64,
		Doc: "when the vacation notice starts (Unix seconds; 0: as soon as it is enabled)"},
	{Key: "vacation.until", Kind: KindInt, Default: "0", Min: 0, Max: math.MaxInt64,
		Doc: "when the vacation notice stops (Unix seconds; 0: no end)"},
	// RFC 3834 §2: not the same response to the same sender more than
	// once within several days, 7 RECOMMENDED (also Sieve's default).
	{Key: "vacation.interval_days", Kind: KindInt, Default: "7", Min: 1, Max: int64(MaxVacationInterval / (24 * time.Hour)),
		Doc: "a sender gets the vacation notice at most once in this many days"},
}

// SettingDefs returns the definitions of every per-account setting, sorted by key.
func SettingDefs() []SettingDef {
	out := slices.Clone(settingDefs)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// LookupSetting returns the definition of key.
func LookupSetting(key string) (SettingDef, bool) {
	for _, d := range settingDefs {
		if d.Key == key {
			return d, true
		}
	}
	return SettingDef{}, false
}

// NormalizeSetting validates value for key and returns its canonical form
// (e.g. "yes" -> "true"). The error names the key and what is wrong.
func NormalizeSetting(key, value string) (string, error) {
	d, ok := LookupSetting(key)
	if !ok {
		return "", fmt.Errorf("%w: unknown setting %q", ErrInvalid, key)
	}
	switch d.Kind {
	case KindBool:
		switch strings.ToLower(value) {
		case "true", "yes", "on", "1":
			return "true", nil
		case "false", "no", "off", "0":
			return "false", nil
		}
		return "", fmt.Errorf("%w: setting %s wants true or false, not %q", ErrInvalid, key, value)
	case KindEnum:
		if slices.Contains(d.Values, value) {
			return value, nil
		}
		return "", fmt.Errorf("%w: setting %s wants one of %s, not %q", ErrInvalid, key, strings.Join(d.Values, ", "), value)
	case KindInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%w: setting %s wants an integer, not %q", ErrInvalid, key, value)
		}
		if (d.Min != 0 || d.Max != 0) && (n < d.Min || n > d.Max) {
			return "", fmt.Errorf("%w: setting %s wants an integer from %d to %d, not %d", ErrInvalid, key, d.Min, d.Max, n)
		}
		return strconv.FormatInt(n, 10), nil
	case KindString, KindText:
		return normalizeText(d, value)
	case KindAddressList:
		return normalizeAddressList(key, value)
	}
	return value, nil
}

// normalizeText checks a KindString or KindText value.
func normalizeText(d SettingDef, value string) (string, error) {
	limit := MaxStringSetting
	if d.Kind == KindText {
		limit = MaxTextSetting
		// One line end everywhere, so that whoever writes it into a
		// message need not care which one a client sent.
		value = strings.ReplaceAll(value, "\r\n", "\n")
	}
	if len(value) > limit {
		return "", fmt.Errorf("%w: setting %s is longer than %d octets", ErrInvalid, d.Key, limit)
	}
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("%w: setting %s is not UTF-8", ErrInvalid, d.Key)
	}
	for _, r := range value {
		if r == '\n' && d.Kind == KindText || r == '\t' {
			continue
		}
		// A CR or LF in a one-line value would end the header field it
		// is written into and start another (header injection).
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: setting %s has the control character %U", ErrInvalid, d.Key, r)
		}
	}
	return value, nil
}

// normalizeAddressList checks a KindAddressList value and returns its
// canonical form.
func normalizeAddressList(key, value string) (string, error) {
	var out []string
	for _, f := range strings.Split(value, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := address.Parse(f)
		if err != nil {
			return "", fmt.Errorf("%w: setting %s: %v", ErrInvalid, key, err)
		}
		if !slices.Contains(out, a.String()) {
			out = append(out, a.String())
		}
	}
	if len(out) > MaxAddressListSetting {
		return "", fmt.Errorf("%w: setting %s takes at most %d addresses", ErrInvalid, key, MaxAddressListSetting)
	}
	return strings.Join(out, ", "), nil
}

// Settings is an account's complete settings, defaults filled in.
type Settings map[string]string

// DefaultSettings returns every setting at its default.
func DefaultSettings() Settings {
	s := make(Settings, len(settingDefs))
	for _, d := range settingDefs {
		s[d.Key] = d.Default
	}
	return s
}

// Bool returns a boolean setting (false if unset or not a boolean).
func (s Settings) Bool(key string) bool { return s[key] == "true" }

// String returns a setting's value.
func (s Settings) String(key string) string { return s[key] }

// Int returns an integer setting (0 if unset or invalid).
func (s Settings) Int(key string) int64 {
	n, _ := strconv.ParseInt(s[key], 10, 64)
	return n
}

// Addresses returns a KindAddressList setting as its addresses (nil if empty).
func (s Settings) Addresses(key string) []string {
	var out []string
	for _, f := range strings.Split(s[key], ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseAlias parses an alias address as the directory stores it; "@domain"
// is the domain's catch-all (an Address with no local part). A bad one is
// ErrInvalid.
func ParseAlias(alias string) (address.Address, error) {
	if strings.HasPrefix(alias, "@") {
		d, err := address.ParseDomain(alias[1:])
		if err != nil {
			return address.Address{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return address.Address{Domain: d}, nil
	}
	a, err := address.Parse(alias)
	if err != nil {
		return address.Address{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return a, nil
}
