package smtp

import (
	"errors"
	"fmt"
	"io"
	gomime "mime"
	"net/mail"
	"strings"

	"mailroom/internal/mime"
)

// The originator fields (From, Sender, Reply-To) of a submitted message
// are what its readers show as "who wrote this", and what DMARC aligns
// with. A message whose originator readers can parse in different ways
// lets one account pass for another: `From: user1@example.test
// <user2@example.test>` was accepted as from user2 while some readers
// show user1. So submission refuses (RFC 6409 5.1: an MSA that examines
// the message SHOULD reject illegal address syntax in address header
// fields; 6.3: 554 after end-of-data) any originator field that is not
// unambiguous:
//
//  1. exactly one From, at most one Sender and one Reply-To field
//     (RFC 5322 3.6);
//  2. each must parse under RFC 5322's strict grammar (an unquoted "@"
//     in a display name does not), and the tolerant reader the webmail
//     and IMAP ENVELOPE use (internal/mime) must find the same addresses;
//  3. From is a mailbox-list and Sender a single mailbox: no group syntax
//     (RFC 5322 3.6.2); Reply-To is an address-list and may hold groups;
//  4. more than one From address needs a Sender (RFC 5322 3.6.2);
//  5. a display name may not contain an address other than its own
//     (`"ceo@bank.example" <ann@example.test>`), encoded words decoded.
//
// The addresses in From and Sender must then belong to the account
// (checkSubmissionHeader).

// errAmbiguous wraps every originator refusal; the text says which rule.
var errAmbiguous = errors.New("ambiguous originator")

// originator is what checkOriginator found.
type originator struct {
	from   []string // addresses, lower-cased
	sender string   // "" without a Sender field
}

// wordDecoder decodes encoded words in any charset internal/mime knows.
var wordDecoder = &gomime.WordDecoder{CharsetReader: func(label string, r io.Reader) (io.Reader, error) {
	return mime.CharsetReader(label, r), nil
}}

// checkOriginator applies the rules above to a header block.
func checkOriginator(hdr []byte) (originator, error) {
	var o originator
	fields := map[string][]string{}
	for _, name := range []string{"From", "Sender", "Reply-To"} {
		fields[name] = headerFields(hdr, name)
	}
	switch n := len(fields["From"]); {
	case n == 0:
		return o, fmt.Errorf("%w: the message has no From: field", errAmbiguous)
	case n > 1:
		return o, fmt.Errorf("%w: the message has %d From: fields; RFC 5322 allows exactly one", errAmbiguous, n)
	}
	for _, name := range []string{"Sender", "Reply-To"} {
		if n := len(fields[name]); n > 1 {
			return o, fmt.Errorf("%w: the message has %d %s: fields; RFC 5322 allows at most one", errAmbiguous, n, name)
		}
	}
	from, err := parseOriginator("From", fields["From"][0], false)
	if err != nil {
		return o, err
	}
	if len(from) == 0 {
		return o, fmt.Errorf("%w: the From: field has no address", errAmbiguous)
	}
	o.from = from
	if len(fields["Sender"]) == 1 {
		sender, err := parseOriginator("Sender", fields["Sender"][0], false)
		if err != nil {
			return o, err
		}
		if len(sender) != 1 {
			return o, fmt.Errorf("%w: the Sender: field must hold exactly one address", errAmbiguous)
		}
		o.sender = sender[0]
	}
	if len(from) > 1 && o.sender == "" {
		return o, fmt.Errorf("%w: a From: field with %d addresses needs a Sender: field (RFC 5322 3.6.2)", errAmbiguous, len(from))
	}
	if len(fields["Reply-To"]) == 1 {
		if _, err := parseOriginator("Reply-To", fields["Reply-To"][0], true); err != nil {
			return o, err
		}
	}
	return o, nil
}

// parseOriginator parses one field value strictly and checks the tolerant
// reader agrees; it returns the addresses, lower-cased.
func parseOriginator(name, value string, groups bool) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	strict, err := p.ParseList(value)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s: field is not a valid address list (%v); an address used as a display name must be quoted", errAmbiguous, name, err)
	}
	var tolerant []string
	for _, a := range mime.ParseAddressList(value) {
		if a.GroupStart && !groups {
			return nil, fmt.Errorf("%w: the %s: field may not hold a group", errAmbiguous, name)
		}
		if a.GroupStart || a.GroupEnd {
			continue
		}
		tolerant = append(tolerant, strings.ToLower(a.Mailbox+"@"+a.Host))
	}
	var out []string
	for _, a := range strict {
		addr := strings.ToLower(a.Address)
		if local, domain, ok := cutLast(addr, "@"); ok && strings.HasPrefix(local, `"`) {
			// net/mail keeps a quoted local part quoted; internal/mime
			// unquotes it.
			local = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(strings.Trim(local, `"`))
			addr = local + "@" + domain
		}
		if other, ok := otherAddressIn(a.Name, addr); ok {
			return nil, fmt.Errorf("%w: the %s: field shows the address %s as the display name of %s", errAmbiguous, name, other, addr)
		}
		out = append(out, addr)
	}
	if strings.Join(out, ",") != strings.Join(tolerant, ",") {
		return nil, fmt.Errorf("%w: the %s: field can be read in more than one way", errAmbiguous, name)
	}
	return out, nil
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// otherAddressIn finds an address-like word (local@domain.tld) in a
// display name that is not own. Fullwidth and small at signs count too:
// they look like "@" on screen.
func otherAddressIn(displayName, own string) (string, bool) {
	name := strings.NewReplacer("\uff20", "@", "\ufe6b", "@").Replace(displayName)
	for _, word := range strings.FieldsFunc(name, func(r rune) bool {
		return r == ' ' || r == '\t' || strings.ContainsRune(`<>()[]"',;:`, r)
	}) {
		local, domain, ok := cutLast(word, "@")
		if !ok || local == "" || !strings.Contains(strings.Trim(domain, "."), ".") {
			continue
		}
		if !strings.EqualFold(word, own) {
			return word, true
		}
	}
	return "", false
}

// headerFields returns the unfolded values of every field called name.
func headerFields(hdr []byte, name string) []string {
	var out []string
	lines := strings.Split(string(hdr), "\r\n")
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += " " + strings.TrimSpace(lines[i])
		}
		out = append(out, strings.TrimSpace(v))
	}
	return out
}
