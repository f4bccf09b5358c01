package store

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SettingKind is the type of a per-account setting.
type SettingKind int

// The kinds of settings.
const (
	KindBool SettingKind = iota
	KindString
	KindEnum
	KindInt
)

// SettingDef describes one per-account setting. Later features add entries
// to settingDefs; the store validates every write against it.
type SettingDef struct {
	Key     string
	Kind    SettingKind
	Default string
	Values  []string // KindEnum: the allowed values
	Doc     string
}

// settingDefs is the registry of per-account settings. It is read-only.
var settingDefs = []SettingDef{
	{Key: "admin", Kind: KindBool, Default: "false", Doc: "may use the admin pages and commands of the web interface"},
	{Key: "imap.enabled", Kind: KindBool, Default: "true", Doc: "IMAP logins allowed"},
	{Key: "pop3.enabled", Kind: KindBool, Default: "true", Doc: "POP3 logins allowed"},
	{Key: "pop3.enabled_at", Kind: KindInt, Default: "0", Doc: "when POP3 was last switched on (Unix seconds; set automatically)"},
	{Key: "pop3.delete_mode", Kind: KindEnum, Default: "expunge", Values: []string{"expunge", "trash", "keep"},
		Doc: "what a POP3 DELE does at QUIT: expunge (delete), trash (move to Trash), keep (leave on the server, never list to POP3 again)"},
	{Key: "pop3.mark_seen", Kind: KindBool, Default: "true", Doc: "messages retrieved with RETR are marked \\Seen at QUIT"},
	{Key: "pop3.scope", Kind: KindEnum, Default: "all", Values: []string{"all", "since-enabled"},
		Doc: "all: POP3 lists the whole INBOX; since-enabled: only mail that arrived after POP3 was last switched on"},
	{Key: "submission.enabled", Kind: KindBool, Default: "true", Doc: "may send mail through SMTP submission"},
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
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return "", fmt.Errorf("%w: setting %s wants an integer, not %q", ErrInvalid, key, value)
		}
		return value, nil
	}
	return value, nil
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
