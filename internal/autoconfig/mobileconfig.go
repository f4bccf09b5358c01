package autoconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MobileConfigContentType is the media type under which to serve
// [Handler.MobileConfig]. iOS and macOS offer to install a file that has
// this type.
const MobileConfigContentType = "application/x-apple-aspen-config"

// MobileConfig returns an Apple configuration profile that sets up the mail
// account email in Apple Mail. The profile is an XML property list, and it
// is not signed. accountName is the name that appears on sent mail, and it
// may be empty. protocol is "imap" or "pop3".
//
// The profile holds no password: the device asks for it while installing
// the profile, once for receiving and sending together. Its identifiers and
// UUIDs are derived from the server's host name and the address. So
// installing the profile again, even for the other protocol, replaces the
// account instead of adding a second one.
//
// A profile has room for one incoming and one outgoing server. Each is the
// first implicit-TLS endpoint of its protocol, or else the first endpoint.
// MobileConfig returns an error if email or accountName is not acceptable,
// or if the protocol or submission is switched off.
//
// The keys are those of the com.apple.mail.managed payload in Apple's
// Device Management reference.
func (h *Handler) MobileConfig(email, accountName, protocol string) ([]byte, error) {
	addr, err := parseAddress(email)
	if err != nil {
		return nil, fmt.Errorf("autoconfig: mobileconfig: %w", err)
	}
	if err := checkAccountName(accountName); err != nil {
		return nil, fmt.Errorf("autoconfig: mobileconfig for %s: %w", addr, err)
	}
	var accountType string
	var in Endpoint
	var ok bool
	switch protocol {
	case "imap":
		accountType = "EmailTypeIMAP"
		in, ok = preferred(h.srv.IMAP)
	case "pop3":
		accountType = "EmailTypePOP"
		in, ok = preferred(h.srv.POP3)
	default:
		return nil, fmt.Errorf("autoconfig: mobileconfig for %s: protocol %q, want \"imap\" or \"pop3\"", addr, protocol)
	}
	if !ok {
		return nil, fmt.Errorf("autoconfig: mobileconfig for %s: %s is switched off", addr, protocol)
	}
	out, ok := preferred(h.srv.Submission)
	if !ok {
		return nil, fmt.Errorf("autoconfig: mobileconfig for %s: submission is switched off", addr)
	}

	// The address has been normalised to lower case. This way the same
	// account always gets the same identifiers.
	login := addr.String()
	profileUUID := accountUUID(h.srv.Hostname, login, "profile")
	mailUUID := accountUUID(h.srv.Hostname, login, "mail")
	// iOS replaces an installed profile with a new one that has the same
	// PayloadIdentifier. The identifier is in reverse-DNS style, as Apple
	// asks. It is built from the server's name and the account's UUID.
	profileID := reverseDNS(h.srv.Hostname) + ".mailroom." + profileUUID
	title := h.srv.DisplayName
	if title == "" {
		title = h.srv.Hostname
	}

	// UseSSL is Apple's only control for transport security. Apple
	// documents it only as "enables SSL". It is true even for a STARTTLS
	// port, because false would allow the password to be sent without TLS.
	// The ambiguity is also why preferred picks an implicit-TLS port
	// whenever there is one.
	mail := plistDict{
		{"EmailAccountDescription", login},
		{"EmailAccountName", accountName},
		{"EmailAccountType", accountType},
		{"EmailAddress", login},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", h.srv.Hostname},
		{"IncomingMailServerPortNumber", in.Port},
		{"IncomingMailServerUseSSL", true},
		{"IncomingMailServerUsername", login},
		{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
		{"OutgoingMailServerHostName", h.srv.Hostname},
		{"OutgoingMailServerPortNumber", out.Port},
		{"OutgoingMailServerUseSSL", true},
		{"OutgoingMailServerUsername", login},
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PayloadDescription", "Configures the mail account " + login + "."},
		{"PayloadDisplayName", login},
		{"PayloadIdentifier", profileID + ".mail"},
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadUUID", mailUUID},
		{"PayloadVersion", 1},
	}
	if accountName == "" {
		mail = slices.DeleteFunc(mail, func(e plistEntry) bool { return e.key == "EmailAccountName" })
	}
	profile := plistDict{
		{"PayloadContent", []plistDict{mail}},
		{"PayloadDescription", "Sets up " + login + " in Mail. You will be asked for the password."},
		{"PayloadDisplayName", title + ": " + login},
		{"PayloadIdentifier", profileID},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", profileUUID},
		{"PayloadVersion", 1},
	}

	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	profile.write(&b, 0)
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

// checkAccountName rejects names that would not survive the trip: names
// that are too long, that are not valid UTF-8, or that contain control
// characters. XML 1.0 cannot carry most control characters, and a header
// line must not contain a line break.
func checkAccountName(s string) error {
	if len(s) > maxAccountNameLen {
		return fmt.Errorf("account name longer than %d octets", maxAccountNameLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("account name is not UTF-8")
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return errors.New("account name contains a control character")
	}
	return nil
}

// accountUUID derives a UUID from the server, the account and the role of
// the payload. It is a name-based UUID version 8 built on SHA-256, as in RFC
// 9562 appendix B.2. The same inputs always give the same UUID. That is what
// lets a profile that is downloaded again replace the installed one. Host
// names and addresses cannot contain NUL, so the separators keep the inputs
// apart.
func accountUUID(hostname, email, role string) string {
	sum := sha256.Sum256([]byte("mailroom autoconfig\x00" + hostname + "\x00" + email + "\x00" + role))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// reverseDNS turns mail.example.org into org.example.mail.
func reverseDNS(host string) string {
	labels := strings.Split(host, ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// A plistDict is a property list dictionary whose keys are kept in order.
// The values are string, int, bool or []plistDict. This is all that a
// profile needs.
type plistDict []plistEntry

type plistEntry struct {
	key   string
	value any
}

// write writes d in Apple's XML plist format. Every string goes through
// xml.EscapeText. The writer is hand-made rather than xml.Encoder because
// Apple writes booleans as <true/> and <false/>, and xml.Encoder cannot
// write an empty element.
func (d plistDict) write(b *bytes.Buffer, depth int) {
	indent := strings.Repeat("\t", depth)
	b.WriteString(indent + "<dict>\n")
	for _, e := range d {
		b.WriteString(indent + "\t<key>")
		xml.EscapeText(b, []byte(e.key))
		b.WriteString("</key>\n")
		switch v := e.value.(type) {
		case string:
			b.WriteString(indent + "\t<string>")
			xml.EscapeText(b, []byte(v))
			b.WriteString("</string>\n")
		case int:
			fmt.Fprintf(b, "%s\t<integer>%d</integer>\n", indent, v)
		case bool:
			if v {
				b.WriteString(indent + "\t<true/>\n")
			} else {
				b.WriteString(indent + "\t<false/>\n")
			}
		case []plistDict:
			b.WriteString(indent + "\t<array>\n")
			for _, item := range v {
				item.write(b, depth+2)
			}
			b.WriteString(indent + "\t</array>\n")
		default:
			panic(fmt.Sprintf("autoconfig: plist value of type %T", v))
		}
	}
	b.WriteString(indent + "</dict>\n")
}
