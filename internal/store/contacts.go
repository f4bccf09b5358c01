package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Collected contacts: per account, the people the account writes to and
// hears from, for address suggestions while composing (the webmail's
// "other contacts"). The delivery agent records them after a message is
// stored (internal/delivery/contacts.go); JMAP's Suggestion/query reads
// them. They are a convenience, never evidence: bounded per account
// (MaxContacts, the least used pruned), cut to length, forgotten on
// request (ForgetContact) and with the account.

// Contact is one collected address of an account.
type Contact struct {
	Email    string // as last seen; the key is its lower case
	Name     string // display name last seen with it, "" if none
	Sent     int64  // messages the account sent to it
	Received int64  // messages it sent to the account's INBOX
	LastSeen time.Time
}

// ContactSeen is one address of one message, for RecordContacts.
type ContactSeen struct {
	Email string
	Name  string
	// Sent: the account wrote to the address; otherwise the address wrote
	// to the account.
	Sent bool
}

// Bounds of the collected contacts.
const (
	// MaxContacts is how many contacts an account keeps: past it, a
	// RecordContacts prunes the least used (fewest sent, then received,
	// then oldest) of those it did not just record.
	MaxContacts = 2000
	// MaxContactEmail bounds an address, in octets (RFC 5321's path
	// limit less the brackets); a longer one is not recorded.
	MaxContactEmail = 254
	// MaxContactName bounds a display name, in octets: a longer one is
	// cut at a character boundary.
	MaxContactName = 200
	// MaxContactsRecorded bounds the addresses of one RecordContacts call.
	MaxContactsRecorded = 200
	// MaxSuggestText bounds the text of SuggestContacts, in characters.
	MaxSuggestText = 200
	// MaxSuggestLimit bounds the contacts one SuggestContacts returns.
	MaxSuggestLimit = 50
)

// Contacts keeps the collected contacts of each account.
type Contacts interface {
	// RecordContacts adds one message's addresses to the account's
	// contacts, in one transaction: each counts once per call (the same
	// address twice in seen, as To and Cc say, counts once for each
	// direction it was seen in), its name becomes the last non-empty one
	// seen, and its last-seen time becomes at if later. Addresses that are
	// not addresses (no "@", too long, control characters) are skipped;
	// more than MaxContactsRecorded is ErrInvalid; an unknown account is
	// ErrNotFound. It never deletes an address it records (see MaxContacts).
	RecordContacts(ctx context.Context, accountID int64, seen []ContactSeen, at time.Time) error
	// SuggestContacts returns up to limit (1..MaxSuggestLimit) of the
	// account's contacts whose address, or a word of whose name, starts
	// with text (case-insensitively, Unicode lower case; runs of white
	// space in text match one space between words, so "ann ex" finds
	// "Ann Example"), those written to most first, then those heard
	// from most, then the most recently seen, then by address.
	SuggestContacts(ctx context.Context, accountID int64, text string, limit int) ([]Contact, error)
	// ForgetContact removes an address (any case) from the account's
	// contacts and reports whether it was there. It comes back if mail
	// is exchanged with it again.
	ForgetContact(ctx context.Context, accountID int64, email string) (bool, error)
}

// ContactRow is one address of a RecordContacts call as the backends store
// it (PrepareContacts).
type ContactRow struct {
	Key   string // Email in lower case: unique per account
	Email string
	Name  string
	Terms string // what SuggestContacts matches: ContactTerms
	// Words are the terms a prefix is looked up by (the backends' index
	// of them): Key and the name's words, each once.
	Words    []string
	Sent     int64 // 0 or 1
	Received int64 // 0 or 1
}

// PrepareContacts is the backends' common reading of a RecordContacts
// call: the valid addresses, one row per key, sorted by key (so that
// concurrent writers of one account take row locks in the same order).
func PrepareContacts(seen []ContactSeen) ([]ContactRow, error) {
	if len(seen) > MaxContactsRecorded {
		return nil, fmt.Errorf("%w: %d contacts at once, at most %d", ErrInvalid, len(seen), MaxContactsRecorded)
	}
	rows := make([]ContactRow, 0, len(seen))
	for _, c := range seen {
		email := strings.TrimSpace(c.Email)
		if !validContactEmail(email) {
			continue
		}
		r := ContactRow{Key: strings.ToLower(email), Email: email, Name: cleanContactName(c.Name)}
		if c.Sent {
			r.Sent = 1
		} else {
			r.Received = 1
		}
		if i := slices.IndexFunc(rows, func(x ContactRow) bool { return x.Key == r.Key }); i >= 0 {
			x := &rows[i]
			x.Sent = max(x.Sent, r.Sent)
			x.Received = max(x.Received, r.Received)
			if r.Name != "" {
				x.Name = r.Name
			}
			continue
		}
		rows = append(rows, r)
	}
	for i := range rows {
		rows[i].Terms = ContactTerms(rows[i].Key, rows[i].Name)
		for _, w := range strings.Fields(rows[i].Terms) {
			if !slices.Contains(rows[i].Words, w) {
				rows[i].Words = append(rows[i].Words, w)
			}
		}
	}
	slices.SortFunc(rows, func(a, b ContactRow) int { return strings.Compare(a.Key, b.Key) })
	return rows, nil
}

func validContactEmail(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || len(email) > MaxContactEmail || !utf8.ValidString(email) {
		return false
	}
	return !strings.ContainsFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// cleanContactName makes a display name one line of valid UTF-8, its
// white space collapsed, at most MaxContactName octets.
func cleanContactName(name string) string {
	name = strings.Join(strings.FieldsFunc(strings.ToValidUTF8(name, ""), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	name = strings.Trim(name, `"' `)
	if len(name) > MaxContactName {
		cut := MaxContactName
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = strings.TrimSpace(name[:cut])
	}
	return name
}

// ContactTerms is what SuggestContacts matches a query against: the
// lower-case address and the words of the name, each preceded by a space,
// so that a query (SuggestQuery) matches where it occurs after a space. A
// name's words are split at white space and at the punctuation that
// surrounds names ("Example, Ann (Sales)").
func ContactTerms(key, name string) string {
	var b strings.Builder
	b.WriteString(" ")
	b.WriteString(key)
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`,;:()[]<>"`, r)
	}) {
		b.WriteString(" ")
		b.WriteString(w)
	}
	return b.String()
}

// SuggestDense is where the backends' SuggestContacts changes ways: a
// word that starts fewer terms than this reads those contacts and sorts
// them; one that starts more (a single letter, say) walks the account's
// contacts in rank order and stops at the limit, which many matches make
// soon. Either way a keystroke reads at most a few hundred rows.
const SuggestDense = 256

// Suggestion is a SuggestContacts text as the backends look it up.
type Suggestion struct {
	// From and To bound the terms (ContactRow.Words) that start with the
	// text's first word: From <= term < To, bytewise.
	From, To string
	// Phrase, when the text has several words, is " " and the words
	// joined by single spaces, which ContactTerms must also contain
	// (the words in a row); "" for one word, which From and To decide.
	Phrase string
}

// SuggestQuery checks a SuggestContacts text and limit and returns how
// the backends look the text up: its words in lower case, the first by
// the index of terms, the others, if any, as a substring of
// ContactTerms.
func SuggestQuery(text string, limit int) (Suggestion, error) {
	if limit < 1 || limit > MaxSuggestLimit {
		return Suggestion{}, fmt.Errorf("%w: limit %d, want 1 to %d", ErrInvalid, limit, MaxSuggestLimit)
	}
	if !utf8.ValidString(text) || utf8.RuneCountInString(text) > MaxSuggestText {
		return Suggestion{}, fmt.Errorf("%w: suggestion text must be valid UTF-8 of at most %d characters", ErrInvalid, MaxSuggestText)
	}
	words := strings.Fields(strings.ToLower(text))
	if len(words) == 0 {
		return Suggestion{}, fmt.Errorf("%w: empty suggestion text", ErrInvalid)
	}
	// U+10FFFF is the greatest character: every term that starts with
	// the word sorts before the word followed by it.
	q := Suggestion{From: words[0], To: words[0] + "\U0010FFFF"}
	if len(words) > 1 {
		q.Phrase = " " + strings.Join(words, " ")
	}
	return q, nil
}

// ContactKey is the key of an address, for ForgetContact.
func ContactKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
