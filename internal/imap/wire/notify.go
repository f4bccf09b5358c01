package wire

import "strings"

// Notify is a NOTIFY command's arguments (RFC 5465 section 8):
//
//	notify          = "NOTIFY" SP (notify-set / notify-none)
//	notify-none     = "NONE"
//	notify-set      = "SET" [status-indicator] SP event-groups
//	status-indicator = SP "STATUS"
//	event-groups    = event-group *(SP event-group)
//	event-group     = "(" filter-mailboxes SP events ")"
//
// Only the syntax is checked here; which events are supported, and the
// rules on how they combine, are the session's to answer (NO [BADEVENT],
// BAD).
type Notify struct {
	None   bool // NOTIFY NONE
	Status bool // NOTIFY SET STATUS
	Groups []NotifyGroup
}

// NotifyGroup is one event-group.
type NotifyGroup struct {
	// Filter is the canonical upper-case filter: SELECTED,
	// SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE or
	// MAILBOXES.
	Filter string
	// Mailboxes are the names after SUBTREE and MAILBOXES, as sent
	// (INBOX in any case as "INBOX", like ReadMailbox).
	Mailboxes []string
	// Events are the event names in their RFC 5465 spelling when known
	// (MessageNew, MessageExpunge, FlagChange, AnnotationChange,
	// MailboxName, SubscriptionChange, MailboxMetadataChange,
	// ServerMetadataChange), other atoms (event-ext) as sent. Empty for
	// the events NONE.
	Events []string
	// Fetch is MessageNew's fetch-att list, nil when not given. The items
	// are copies, not in the command arena.
	Fetch []FetchItem
}

// notifyFilters are the filter-mailboxes keywords.
var notifyFilters = []string{"SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "MAILBOXES"}

// NotifyEvents are the events RFC 5465 and RFC 5464 define, in their
// canonical spelling.
var NotifyEvents = []string{"MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange",
	"MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange"}

// maxNotifyNames bounds the names and events one NOTIFY may carry: the line
// limit bounds them too, but a literal per name would pass it.
const maxNotifyNames = 1000

// ReadNotify reads NOTIFY's arguments after "NOTIFY" SP, up to the line end.
func (d *Decoder) ReadNotify() (*Notify, error) {
	n := &Notify{}
	w, err := d.atomBytes("SET or NONE")
	if err != nil {
		return nil, err
	}
	switch {
	case equalFoldASCII(w, "NONE"):
		n.None = true
		return n, nil
	case !equalFoldASCII(w, "SET"):
		return nil, syntaxErr(d.pos-len(w), "NOTIFY takes SET or NONE")
	}
	if err := d.ExpectSP(); err != nil {
		return nil, err
	}
	if d.peekWord("STATUS") {
		d.pos += len("STATUS")
		n.Status = true
		if err := d.ExpectSP(); err != nil {
			return nil, err
		}
	}
	names := 0
	for {
		g, err := d.notifyGroup(&names)
		if err != nil {
			return nil, err
		}
		n.Groups = append(n.Groups, g)
		if !d.SP() {
			return n, nil
		}
	}
}

// notifyGroup reads "(" filter-mailboxes SP events ")".
func (d *Decoder) notifyGroup(names *int) (NotifyGroup, error) {
	var g NotifyGroup
	if err := d.open(); err != nil {
		return g, err
	}
	defer d.close()
	f, err := d.atomBytes("a NOTIFY filter")
	if err != nil {
		return g, err
	}
	for _, name := range notifyFilters {
		if equalFoldASCII(f, name) {
			g.Filter = name
		}
	}
	if g.Filter == "" {
		return g, syntaxErr(d.pos-len(f), "unknown NOTIFY filter %q", f)
	}
	if err := d.ExpectSP(); err != nil {
		return g, err
	}
	if g.Filter == "SUBTREE" || g.Filter == "MAILBOXES" {
		// one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
		add := func() error {
			if *names++; *names > maxNotifyNames {
				return syntaxErr(d.pos, "too many mailboxes and events in NOTIFY (limit %d)", maxNotifyNames)
			}
			m, err := d.ReadMailbox()
			g.Mailboxes = append(g.Mailboxes, m)
			return err
		}
		if d.peekByte() == '(' {
			err = d.ReadList(add)
			if err == nil && len(g.Mailboxes) == 0 {
				err = syntaxErr(d.pos, "empty mailbox list")
			}
		} else {
			err = add()
		}
		if err != nil {
			return g, err
		}
		if err := d.ExpectSP(); err != nil {
			return g, err
		}
	}
	if rest := d.line[d.pos:]; len(rest) >= 5 && equalFoldASCII(rest[:4], "NONE") && rest[4] == ')' {
		d.pos += len("NONE)")
		return g, nil
	}
	// "(" event *(SP event) ")", where MessageNew may be followed by its
	// fetch-att list: read element by element, not with ReadList, since
	// the list follows the event as a sibling.
	if err := d.open(); err != nil {
		return g, err
	}
	defer d.close()
	for {
		if *names++; *names > maxNotifyNames {
			return g, syntaxErr(d.pos, "too many mailboxes and events in NOTIFY (limit %d)", maxNotifyNames)
		}
		e, err := d.atomBytes("a NOTIFY event")
		if err != nil {
			return g, err
		}
		name := string(e)
		for _, known := range NotifyEvents {
			if strings.EqualFold(name, known) {
				name = known
			}
		}
		g.Events = append(g.Events, name)
		c, err := d.Peek()
		if err != nil {
			return g, err
		}
		if c == ' ' && name == "MessageNew" && d.pos+1 < len(d.line) && d.line[d.pos+1] == '(' {
			d.pos++
			if d.pos+1 < len(d.line) && d.line[d.pos+1] == ')' {
				return g, syntaxErr(d.pos, "empty fetch-att list")
			}
			start := len(d.arena.items)
			if err := d.ReadList(d.fetchAtt); err != nil {
				return g, err
			}
			for _, it := range d.arena.items[start:] {
				g.Fetch = append(g.Fetch, it.Clone())
			}
			if c, err = d.Peek(); err != nil {
				return g, err
			}
		}
		if c == ')' {
			d.pos++
			break
		}
		if err := d.ExpectSP(); err != nil {
			return g, err
		}
	}
	if len(g.Events) == 0 {
		return g, syntaxErr(d.pos, "empty event list")
	}
	return g, d.expectByte(')')
}

// ReadCancelUpdate reads CANCELUPDATE's arguments after "CANCELUPDATE"
// (RFC 5267 section 5): 1*(SP quoted), the tags of updating searches. It
// stops before the line end.
func (d *Decoder) ReadCancelUpdate() ([]string, error) {
	var tags []string
	for d.SP() {
		if len(tags) >= maxNotifyNames {
			return nil, syntaxErr(d.pos, "too many tags (limit %d)", maxNotifyNames)
		}
		if d.peekByte() != '"' {
			return nil, d.unexpected("a quoted tag")
		}
		b, err := d.quoted()
		if err != nil {
			return nil, err
		}
		tags = append(tags, string(b))
	}
	if len(tags) == 0 {
		return nil, d.unexpected("SP and a quoted tag")
	}
	return tags, nil
}

// contextOption takes the RETURN options of RFC 5267 section 4 that ask
// for no result data of their own: UPDATE (keep the result live), with
// RFC 5465 section 7's optional fetch-att list, and CONTEXT (a hint, which
// this server does not need: results are evaluated from the live index).
// With only these, RETURN means RETURN (ALL), as an empty list does (RFC
// 4731 3.1).
func (d *Decoder) contextOption(b []byte, s *Search) (bool, error) {
	switch {
	case equalFoldASCII(b, "UPDATE"):
		s.Update = true
		if d.pos+1 < len(d.line) && d.line[d.pos] == ' ' && d.line[d.pos+1] == '(' {
			d.pos++
			if d.pos+1 < len(d.line) && d.line[d.pos+1] == ')' {
				return true, syntaxErr(d.pos, "empty fetch-att list")
			}
			start := len(d.arena.items)
			if err := d.ReadList(d.fetchAtt); err != nil {
				return true, err
			}
			for _, it := range d.arena.items[start:] {
				s.UpdateFetch = append(s.UpdateFetch, it.Clone())
			}
		}
		return true, nil
	case equalFoldASCII(b, "CONTEXT"):
		return true, nil
	}
	return false, nil
}
