package thread

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"mailroom/internal/mime"
)

// Message is what sorting and threading read of one message. The slice
// order callers pass is the mailbox order (sequence numbers): it breaks
// every tie, as RFC 5256 sections 2.2 and 3 require. The algorithms take
// pointers and only read through them, so a cache can hand out its own
// Messages without copying them.
type Message struct {
	// Num is the caller's name for the message (a sequence number or a
	// UID); the algorithms never read it.
	Num uint32
	// Sent is the sent date (see SentDate), Arrival the INTERNALDATE,
	// both Unix seconds.
	Sent, Arrival int64
	Size          int64
	// Fields are the header fields the keys come from; nil stands for
	// none. Behind a pointer so that a Compact Message, which needs them
	// no more, is small (48 bytes instead of 380).
	*Fields

	// derived holds the keys Prepare computed, shared by copies of the
	// Message; nil means they are computed for each use.
	derived *derived
}

// Fields are a Message's header fields.
type Fields struct {
	// Subject is the decoded Subject field.
	Subject string
	// From, To and Cc are the first entries of those address lists (a
	// group's start marker if the list starts with a group), zero when
	// the field is absent or empty.
	From, To, Cc mime.Address
	// MessageID, InReplyTo and References are the raw field values.
	MessageID, InReplyTo, References string
}

var noFields Fields

// fields is m.Fields, never nil.
func (m *Message) fields() *Fields {
	if m.Fields == nil {
		return &noFields
	}
	return m.Fields
}

// derived are the keys of a Message that cost work to compute: collated
// strings and parsed message ids.
type derived struct {
	subject                              string // collated base subject
	replyFwd                             bool
	from, to, cc, displayFrom, displayTo string
	id                                   string   // normalised Message-ID, "" if none
	refs                                 []string // parent ids: References, else In-Reply-To
}

// Prepare computes the message's derived keys once, for callers that keep
// Messages across many sorts and threadings (the mailbox service's cache):
// later sorts compare ready keys instead of collating strings again.
func (m *Message) Prepare() {
	f := m.fields()
	d := &derived{
		from:        Collate(AddrMailbox(f.From)),
		to:          Collate(AddrMailbox(f.To)),
		cc:          Collate(AddrMailbox(f.Cc)),
		displayFrom: Collate(Display(f.From)),
		displayTo:   Collate(Display(f.To)),
		id:          FirstMsgID(f.MessageID),
		refs:        parentIDs(nil, m),
	}
	d.subject, d.replyFwd = baseKey(f.Subject)
	m.derived = d
}

// Compact prepares m if it is not yet, then drops its Fields: every
// algorithm reads the derived keys instead. The derived strings pass through intern (when not nil), so
// that a cache of many Messages keeps each distinct address, base subject
// and message id once — a conversation of n messages names its first
// message n-1 times. For long-lived caches (the mailbox service's), where
// the raw fields would double the memory of each entry.
func (m *Message) Compact(intern func(string) string) {
	if m.derived == nil {
		m.Prepare()
	}
	m.Fields = nil
	if intern == nil {
		return
	}
	d := m.derived
	for _, p := range []*string{&d.subject, &d.from, &d.to, &d.cc, &d.displayFrom, &d.displayTo, &d.id} {
		*p = intern(*p)
	}
	// A slice of exactly the right length: append may have left spare room.
	refs := make([]string, len(d.refs))
	for i, r := range d.refs {
		refs[i] = intern(r)
	}
	if len(refs) == 0 {
		refs = nil
	}
	d.refs = refs
}

// parentIDs appends the ids REFERENCES links a message under: those of
// References, or when it has no valid one, the first of In-Reply-To
// (RFC 5256 section 4 step 1).
func parentIDs(dst []string, m *Message) []string {
	n := len(dst)
	f := m.fields()
	dst = MsgIDs(dst, f.References)
	if len(dst) == n {
		if id := FirstMsgID(f.InReplyTo); id != "" {
			dst = append(dst, id)
		}
	}
	return dst
}

// FromEnvelope describes a message by its envelope. It copies no string.
func FromEnvelope(num uint32, env *mime.Envelope, arrival, size int64) Message {
	f := &Fields{
		Subject:    env.DecodedSubject,
		MessageID:  env.MessageID,
		InReplyTo:  env.InReplyTo,
		References: env.References,
	}
	if len(env.From) > 0 {
		f.From = env.From[0]
	}
	if len(env.To) > 0 {
		f.To = env.To[0]
	}
	if len(env.Cc) > 0 {
		f.Cc = env.Cc[0]
	}
	return Message{Num: num, Sent: SentDate(env.Date, arrival), Arrival: arrival, Size: size, Fields: f}
}

// SentDate is RFC 5256 section 2.2's sent date: the Date field in UTC,
// or the INTERNALDATE (arrival, Unix seconds) when the field is absent or
// cannot be parsed. Comparing Unix seconds normalises time zones.
func SentDate(date string, arrival int64) int64 {
	date = strings.TrimSpace(date)
	if date == "" || len(date) > 256 {
		return arrival
	}
	t, err := mail.ParseDate(date)
	if err != nil {
		return arrival
	}
	return t.Unix()
}

// Collate returns a key under which byte order is the i;unicode-casemap
// collation (RFC 5051, which RFC 5255 and RFC 5957 name for SORT): each
// character titlecased and the string in compatibility decomposed form
// (NFKD), so "b" and "B" are equal and "é" sorts just after "E". For
// ASCII this is upper-casing, which is why "_" sorts after letters, as
// Dovecot answers too.
func Collate(s string) string {
	ascii := true
	lower := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'a' <= c && c <= 'z' {
			lower = true
		}
	}
	if ascii {
		if !lower {
			return s
		}
		b := make([]byte, len(s))
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b[i] = c
		}
		return string(b)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = norm.NFKD.String(s)
	return strings.Map(unicode.ToTitle, s)
}

// AddrMailbox is the SORT key of FROM, TO and CC (RFC 5256 section 3):
// the addr-mailbox of the first address, "" when there is none. For a
// list that starts with a group, that is the group name, as in IMAP's
// address structure.
func AddrMailbox(a mime.Address) string {
	if a.GroupEnd {
		return ""
	}
	return a.Mailbox
}

// Display is the SORT=DISPLAY key of DISPLAYFROM and DISPLAYTO (RFC 5957
// section 3): the decoded display name of the first address when it has
// one, otherwise its addr-spec (mailbox@host; the bare mailbox or group
// name when there is no host), "" when there is no address.
func Display(a mime.Address) string {
	switch {
	case a.GroupEnd:
		return ""
	case strings.TrimSpace(a.DecodedName) != "":
		return a.DecodedName
	case a.Host == "":
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// baseKey is a message's base subject (RFC 5256 section 2.1) under
// Collate, and whether a reply or forward marker was removed.
func baseKey(subject string) (string, bool) {
	b, rf := mime.BaseSubject(subject)
	return Collate(b), rf
}

// subjectKey is m's collated base subject and reply-or-forward flag.
func (m *Message) subjectKey() (string, bool) {
	if m.derived != nil {
		return m.derived.subject, m.derived.replyFwd
	}
	return baseKey(m.fields().Subject)
}
