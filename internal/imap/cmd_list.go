package imap

import (
	"fmt"
	"sort"
	"strings"

	"mailroom/internal/store"
)

// matchPattern reports whether name matches an IMAP LIST pattern: "*"
// matches anything, "%" anything but the hierarchy delimiter (RFC 9051
// 6.3.9). INBOX matches case-insensitively.
func matchPattern(pattern, name string) bool {
	if strings.HasPrefix(strings.ToUpper(pattern), "INBOX") && strings.HasPrefix(name, "INBOX") {
		pattern = "INBOX" + pattern[5:]
	}
	return match(pattern, name)
}

func match(p, n string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(n); i >= 0; i-- {
				if match(p[1:], n[i:]) {
					return true
				}
			}
			return false
		case '%':
			for i := 0; i <= len(n); i++ {
				if match(p[1:], n[i:]) {
					return true
				}
				if i < len(n) && n[i] == '/' {
					return false
				}
			}
			return false
		default:
			if len(n) == 0 || n[0] != p[0] {
				return false
			}
			p, n = p[1:], n[1:]
		}
	}
	return len(n) == 0
}

func cmdList(s *session, tag string, _ bool) error { return s.list(tag, false) }
func cmdLsub(s *session, tag string, _ bool) error { return s.list(tag, true) }

func (s *session) list(tag string, lsub bool) error {
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	ref, err := s.dec.ReadMailbox()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	pattern, err := s.dec.ReadListMailbox()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if ref, err = s.fromWire(ref); err != nil {
		return err
	}
	if pattern, err = s.fromWire(pattern); err != nil {
		return err
	}
	verb := "LIST"
	if lsub {
		verb = "LSUB"
	}
	if pattern == "" {
		// The hierarchy delimiter and root (RFC 9051 6.3.9).
		s.untagged(verb + ` (\Noselect) "/" ""`)
		return s.ok(tag, "", verb+" completed")
	}
	full := ref + pattern
	if ref != "" && !strings.HasSuffix(ref, "/") && !strings.HasPrefix(pattern, "/") {
		full = ref + "/" + pattern
	}
	boxes, err := s.srv.opts.Store.MailboxList(s.ctx, s.principal.AccountID)
	if err != nil {
		return err
	}
	exists := map[string]store.Mailbox{}
	hasChildren := map[string]bool{}
	for _, mb := range boxes {
		exists[mb.Name] = mb
		for _, p := range store.ParentNames(mb.Name) {
			hasChildren[p] = true
		}
	}
	var names []string
	if lsub {
		subs, err := s.srv.opts.Store.Subscriptions(s.ctx, s.principal.AccountID)
		if err != nil {
			return err
		}
		names = subs
	} else {
		for _, mb := range boxes {
			names = append(names, mb.Name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if !matchPattern(full, name) {
			continue
		}
		var attrs []string
		mb, ok := exists[name]
		switch {
		case !ok:
			attrs = append(attrs, `\NonExistent`)
		case hasChildren[name]:
			attrs = append(attrs, `\HasChildren`)
		default:
			attrs = append(attrs, `\HasNoChildren`)
		}
		if ok && mb.SpecialUse != "" {
			attrs = append(attrs, string(mb.SpecialUse))
		}
		if lsub && !ok {
			attrs = []string{`\Noselect`}
		}
		s.bw.WriteString("* " + verb + " (" + strings.Join(attrs, " ") + `) "/" `)
		s.enc.Mailbox(name)
		s.bw.WriteString("\r\n")
	}
	return s.ok(tag, "", verb+" completed")
}

func cmdStatus(s *session, tag string, _ bool) error {
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	name, err := s.readMailboxName()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	var items []string
	if err := s.dec.ReadList(func() error {
		a, err := s.dec.ReadAtom()
		items = append(items, strings.ToUpper(a))
		return err
	}); err != nil {
		return err
	}
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	mb, err := s.srv.opts.Store.Mailbox(s.ctx, s.principal.AccountID, name)
	if err != nil {
		return storeError(err, name)
	}
	st, err := s.srv.opts.Store.MailboxStatus(s.ctx, mb.ID)
	if err != nil {
		return storeError(err, name)
	}
	var out []string
	for _, it := range items {
		switch it {
		case "MESSAGES":
			out = append(out, fmt.Sprintf("MESSAGES %d", st.Messages))
		case "UIDNEXT":
			out = append(out, fmt.Sprintf("UIDNEXT %d", st.UIDNext))
		case "UIDVALIDITY":
			out = append(out, fmt.Sprintf("UIDVALIDITY %d", st.UIDValidity))
		case "UNSEEN":
			out = append(out, fmt.Sprintf("UNSEEN %d", st.Unseen))
		case "DELETED":
			out = append(out, fmt.Sprintf("DELETED %d", st.Deleted))
		case "SIZE":
			out = append(out, fmt.Sprintf("SIZE %d", st.Size))
		case "RECENT":
			out = append(out, "RECENT 0") // only the selecting session sees \Recent
		case "HIGHESTMODSEQ":
			out = append(out, fmt.Sprintf("HIGHESTMODSEQ %d", st.HighestModSeq))
		case "MAILBOXID":
			out = append(out, "MAILBOXID ("+mailboxID(mb.ID)+")")
		default:
			return bad("unknown STATUS item %s", truncate(it))
		}
	}
	s.bw.WriteString("* STATUS ")
	s.enc.Mailbox(mb.Name)
	s.bw.WriteString(" (" + strings.Join(out, " ") + ")\r\n")
	return s.ok(tag, "", "STATUS completed")
}
