package delivery

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"mailroom/internal/dsn"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// contactsTimeout bounds the store write that records a delivery's
// contacts: a slow store costs a suggestion, not the sender's wait.
const contactsTimeout = 2 * time.Second

// collectContacts records, once the message is stored, the people it
// shows the accounts to be in touch with (store.Contacts): the recipients
// of a message an account sent (Envelope.SenderAccount), and the author of
// a message a person sent to an account's INBOX. It is best-effort, like
// the notices: an error is logged, never returned, and the delivery has
// succeeded whatever happens here. Mail filed into Junk or elsewhere by
// Sieve, and mail from programs (automatic, bulk and list mail, null
// senders, noreply addresses), teach it nothing.
func (a *Agent) collectContacts(ctx context.Context, p *plan, env Envelope) {
	ctx, cancel := context.WithTimeout(ctx, contactsTimeout)
	defer cancel()
	var e *mime.Envelope
	if s := p.msg.Structure(); s != nil && s.Root != nil {
		e = s.Root.Envelope
	}
	now := a.now()
	if env.SenderAccount != 0 {
		if seen := sentContacts(e, env); len(seen) > 0 {
			if err := a.st.RecordContacts(ctx, env.SenderAccount, seen, now); err != nil {
				a.log.Warn("contacts of a sent message not recorded", "account", env.SenderAccount, "err", err)
			}
		}
	}
	if len(p.targets) == 0 || env.From == "" || e == nil {
		return
	}
	author, ok := authorOf(e)
	if !ok {
		return
	}
	var header mail.Header // read once, when a copy went to an INBOX
	done := map[int64]bool{}
	for i, t := range p.targets {
		acct := p.owners[i].acct
		if done[acct.ID] || p.refused[acct.ID] || strings.EqualFold(author.Email, acct.Email) {
			continue
		}
		inbox, err := a.inbox(ctx, acct.ID)
		if err != nil {
			a.log.Warn("contacts of a delivery not recorded", "account", acct.Email, "err", err)
			continue
		}
		if t.MailboxID != inbox {
			continue
		}
		done[acct.ID] = true
		if header == nil {
			if header, err = p.headerOf(); err != nil {
				a.log.Warn("contacts of a delivery not recorded", "account", acct.Email, "err", err)
				return
			}
			if why := automated(header, env.From, author.Email); why != "" {
				a.log.Debug("contacts of a delivery not recorded", "account", acct.Email, "reason", why)
				return
			}
		}
		if err := a.st.RecordContacts(ctx, acct.ID, []store.ContactSeen{author}, now); err != nil {
			a.log.Warn("contacts of a delivery not recorded", "account", acct.Email, "err", err)
		}
	}
}

// sentContacts are the people a sent message went to: the To, Cc and Bcc
// fields with their names, then the envelope's recipients that no field
// names (the Bcc of a client that left the field out), at most
// store.MaxContactsRecorded, the sender's own address left out.
func sentContacts(e *mime.Envelope, env Envelope) []store.ContactSeen {
	var seen []store.ContactSeen
	has := map[string]bool{strings.ToLower(env.AuthUser): true, strings.ToLower(env.From): true}
	add := func(email, name string) {
		key := strings.ToLower(email)
		if has[key] || len(seen) == store.MaxContactsRecorded {
			return
		}
		has[key] = true
		seen = append(seen, store.ContactSeen{Email: email, Name: name, Sent: true})
	}
	if e != nil {
		for _, l := range [][]mime.Address{e.To, e.Cc, e.Bcc} {
			for _, ad := range l {
				if ad.GroupStart || ad.GroupEnd || ad.Host == "" || ad.Mailbox == "" {
					continue
				}
				add(ad.Mailbox+"@"+ad.Host, ad.DecodedName)
			}
		}
	}
	for _, r := range env.Recipients {
		add(r.Address, "")
	}
	return seen
}

// authorOf is the person a received message is from: the first address
// of From, or of Reply-To when From has none.
func authorOf(e *mime.Envelope) (store.ContactSeen, bool) {
	for _, l := range [][]mime.Address{e.From, e.ReplyTo} {
		if i := slices.IndexFunc(l, func(ad mime.Address) bool {
			return !ad.GroupStart && !ad.GroupEnd && ad.Host != "" && ad.Mailbox != ""
		}); i >= 0 {
			return store.ContactSeen{Email: l[i].Mailbox + "@" + l[i].Host, Name: l[i].DecodedName}, true
		}
	}
	return store.ContactSeen{}, false
}

// automated says why a received message comes from a program rather than
// a person ("" if it does not seem to): the tests vacation notices use
// (vacation.go, RFC 3834), on the header and on both senders.
func automated(h mail.Header, envFrom, author string) string {
	if dsn.IsAutomatic(h) {
		return "automatic message"
	}
	for name := range h {
		if strings.HasPrefix(name, "List-") {
			return "mailing list (" + name + ")"
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "list", "junk":
		return "bulk mail (Precedence)"
	}
	for _, addr := range []string{envFrom, author} {
		if at := strings.LastIndexByte(addr, '@'); at > 0 && automatedSender(addr[:at]) {
			return "automated sender " + addr
		}
	}
	return ""
}
