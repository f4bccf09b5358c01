package msgfmt

import (
	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
)

// Placeholders for the parts of an address that the header lacks. The
// grammar gives NIL in these positions a meaning (group markers), so a real
// address must not have them; these are the strings Dovecot sends.
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
)

// Envelope writes the IMAP ENVELOPE of env (RFC 9051 7.5.2, RFC 3501
// 7.4.2):
//
//	(date subject from sender reply-to to cc bcc in-reply-to message-id)
//
// with the raw header values. A nil env (a message whose structure has no
// envelope) is written with every field NIL.
func Envelope(e *wire.Encoder, env *mime.Envelope) {
	if env == nil {
		env = &mime.Envelope{}
	}
	e.BeginList()
	nstring(e, env.Date)
	e.SP()
	nstring(e, env.Subject)
	for _, l := range [...][]mime.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		e.SP()
		addressList(e, l)
	}
	e.SP()
	nstring(e, env.InReplyTo)
	e.SP()
	nstring(e, env.MessageID)
	e.EndList()
}

// addressList writes "(" 1*address ")" or NIL for an empty list. Entries
// follow each other without a space, as in the RFC's examples.
func addressList(e *wire.Encoder, l []mime.Address) {
	if len(l) == 0 {
		e.NIL()
		return
	}
	e.BeginList()
	for i := range l {
		address(e, &l[i])
	}
	e.EndList()
}

// address writes one address: (name adl mailbox host). Groups are
// (NIL NIL "name" NIL) ... (NIL NIL NIL NIL).
func address(e *wire.Encoder, a *mime.Address) {
	e.BeginList()
	switch {
	case a.GroupStart:
		// The group name is written even when empty (""): NIL there
		// would turn the start marker into an end marker.
		e.Raw("NIL NIL ")
		str(e, a.Mailbox)
		e.Raw(" NIL")
	case a.GroupEnd:
		e.Raw("NIL NIL NIL NIL")
	default:
		nstring(e, a.Name)
		e.SP()
		nstring(e, a.Adl)
		e.SP()
		str(e, orDefault(cleanText(a.Mailbox), missingMailbox))
		e.SP()
		str(e, orDefault(cleanText(a.Host), missingDomain))
	}
	e.EndList()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
