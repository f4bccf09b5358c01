// Package imapmigrate copies an account from another IMAP server into a
// Mailroom account: every folder with its flags, keywords and internal
// dates, over parallel connections, resumable, and incremental on the
// next run (only new messages are copied, changed flags are updated).
package imapmigrate

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Source is the server and user an account is copied from.
type Source struct {
	// TLS is true for imaps:// (TLS from the first byte); false is
	// imap://, where STARTTLS is required.
	TLS  bool
	User string
	Host string
	Port int
}

// Addr is host:port.
func (s Source) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the URL without a password: what state files and logs name.
func (s Source) String() string {
	scheme := "imap"
	if s.TLS {
		scheme = "imaps"
	}
	u := url.URL{Scheme: scheme, User: url.User(s.User), Host: s.Addr()}
	return u.String()
}

// ParseSource parses imaps://user@host[:port] or imap://user@host[:port].
// A password in the URL is refused: it would end up in the shell's
// history and the process list.
func ParseSource(s string) (Source, error) {
	if len(s) > 2048 {
		return Source{}, errors.New("source URL: longer than 2048 bytes")
	}
	u, err := url.Parse(s)
	if err != nil {
		return Source{}, fmt.Errorf("source URL: %w", err)
	}
	var src Source
	switch strings.ToLower(u.Scheme) {
	case "imaps":
		src.TLS, src.Port = true, 993
	case "imap":
		src.Port = 143
	default:
		return Source{}, fmt.Errorf("source URL %q: the scheme must be imaps:// or imap://", s)
	}
	if u.Opaque != "" || u.User == nil || u.User.Username() == "" {
		return Source{}, fmt.Errorf("source URL %q: give the user name, as in imaps://user@host", s)
	}
	if _, ok := u.User.Password(); ok {
		return Source{}, fmt.Errorf("source URL: give the password with --password-stdin or --password-file, not in the URL")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Source{}, fmt.Errorf("source URL %q: only imaps://user@host[:port]", s)
	}
	src.User = u.User.Username()
	src.Host = u.Hostname()
	if src.Host == "" {
		return Source{}, fmt.Errorf("source URL %q: no host", s)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Source{}, fmt.Errorf("source URL %q: bad port %q", s, p)
		}
		src.Port = n
	}
	return src, nil
}
