package mime

// Envelope is the IMAP ENVELOPE (RFC 3501 section 7.4.2, RFC 9051 section
// 7.5.2) of a message.
type Envelope struct {
	// Date and Subject are the raw field values, unfolded and trimmed:
	// what IMAP ENVELOPE sends. A field that is absent is "".
	Date, Subject string
	// DecodedSubject is Subject with RFC 2047 encoded words decoded, in
	// valid UTF-8.
	DecodedSubject string
	// Sender and ReplyTo are already defaulted to From when absent or
	// empty, as IMAP requires.
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
	// References is the raw References field, unfolded and trimmed. It is
	// not part of the IMAP ENVELOPE; threading (IMAP THREAD=REFERENCES,
	// conversations) reads it.
	References string
}

// Address is one entry of an IMAP address list. A group is represented as
// IMAP does: a start marker {Mailbox: group name, GroupStart: true}
// followed by its members and an end marker {GroupEnd: true}.
//
// An address without a domain (a tolerated syntax error such as "To:
// undisclosed") has Host ""; an IMAP encoder must not send that as NIL, or
// it would read as a group marker (Dovecot sends "MISSING_DOMAIN").
type Address struct {
	Name        string // raw display name (quotes and quoted-pair backslashes removed)
	DecodedName string // Name with RFC 2047 encoded words decoded, valid UTF-8
	Adl         string // obsolete source route ("@a,@b"), "" if none
	Mailbox     string // local part (quotes removed), or the group name for a start marker
	Host        string
	GroupStart  bool
	GroupEnd    bool
}

// envFields collects the raw envelope header values of one header block.
// Only the first occurrence of each field is used.
type envFields struct {
	date, subject, from, sender, replyTo, to, cc, bcc, inReplyTo, messageID, references string
	has                                                                                 uint16
}

const (
	hasDate = 1 << iota
	hasSubject
	hasFrom
	hasSender
	hasReplyTo
	hasTo
	hasCc
	hasBcc
	hasInReplyTo
	hasMessageID
	hasReferences
)

// set stores a field value if the field was not seen yet; it reports
// whether name is an envelope field.
func (e *envFields) set(name, value string) bool {
	var dst *string
	var bit uint16
	switch name {
	case "date":
		dst, bit = &e.date, hasDate
	case "subject":
		dst, bit = &e.subject, hasSubject
	case "from":
		dst, bit = &e.from, hasFrom
	case "sender":
		dst, bit = &e.sender, hasSender
	case "reply-to":
		dst, bit = &e.replyTo, hasReplyTo
	case "to":
		dst, bit = &e.to, hasTo
	case "cc":
		dst, bit = &e.cc, hasCc
	case "bcc":
		dst, bit = &e.bcc, hasBcc
	case "in-reply-to":
		dst, bit = &e.inReplyTo, hasInReplyTo
	case "message-id":
		dst, bit = &e.messageID, hasMessageID
	case "references":
		dst, bit = &e.references, hasReferences
	default:
		return false
	}
	if e.has&bit == 0 {
		e.has |= bit
		*dst = value
	}
	return true
}

// envelope builds the IMAP envelope from the collected fields.
func (e *envFields) envelope() *Envelope {
	env := &Envelope{
		Date:           e.date,
		Subject:        e.subject,
		DecodedSubject: DecodeHeader(e.subject),
		From:           ParseAddressList(e.from),
		Sender:         ParseAddressList(e.sender),
		ReplyTo:        ParseAddressList(e.replyTo),
		To:             ParseAddressList(e.to),
		Cc:             ParseAddressList(e.cc),
		Bcc:            ParseAddressList(e.bcc),
		InReplyTo:      e.inReplyTo,
		MessageID:      e.messageID,
		References:     e.references,
	}
	// RFC 3501 7.4.2: "If the Sender or Reply-To lines are absent in the
	// [RFC-2822] header, or are present but empty, the server sets the
	// corresponding member of the envelope to be the same value as the
	// from member". Copies, so that callers editing one list do not edit
	// the others.
	if len(env.Sender) == 0 && len(env.From) > 0 {
		env.Sender = append([]Address(nil), env.From...)
	}
	if len(env.ReplyTo) == 0 && len(env.From) > 0 {
		env.ReplyTo = append([]Address(nil), env.From...)
	}
	return env
}
