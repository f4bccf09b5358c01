package imap

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mailbox"
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

func cmdList(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadListCommand()
	if err != nil {
		return err
	}
	return s.list(tag, args, false)
}

func cmdLsub(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadLsub()
	if err != nil {
		return err
	}
	return s.list(tag, args, true)
}

// list answers LIST (with LIST-EXTENDED's selection and return options,
// RFC 5258, and LIST-STATUS, RFC 5819) or LSUB.
func (s *session) list(tag string, opts wire.List, lsub bool) error {
	ref, patterns := opts.Reference, opts.Patterns
	var status []string // STATUS items to return, nil for none
	if opts.ReturnStatus {
		status = append([]string{}, opts.StatusItems...)
	}
	// A reference or pattern that is not modified UTF-7 matches no
	// mailbox name: LIST succeeds with nothing to list.
	ref, refErr := s.fromWire(ref)
	var err error
	if refErr != nil && refErr != errBadMUTF7 {
		return refErr
	}
	verb := "LIST"
	if lsub {
		verb = "LSUB"
	}
	if len(patterns) == 1 && patterns[0] == "" {
		// The hierarchy delimiter and root (RFC 9051 6.3.9).
		s.untagged(verb + ` (\Noselect) "/" ""`)
		return s.ok(tag, "", verb+" completed")
	}
	var fulls []string
	for _, p := range patterns {
		if p, err = s.fromWire(p); err == errBadMUTF7 || refErr != nil {
			continue
		} else if err != nil {
			return err
		}
		full := ref + p
		if ref != "" && !strings.HasSuffix(ref, "/") && !strings.HasPrefix(p, "/") {
			full = ref + "/" + p
		}
		fulls = append(fulls, full)
	}
	matches := func(name string) bool {
		for _, f := range fulls {
			if matchPattern(f, name) {
				return true
			}
		}
		return false
	}
	folders, err := s.user.List(s.ctx)
	if err != nil {
		return err
	}
	subs, err := s.user.Subscriptions(s.ctx)
	if err != nil {
		return err
	}
	subscribed := map[string]bool{}
	for _, n := range subs {
		subscribed[n] = true
	}
	exists := map[string]mailbox.Folder{}
	hasChildren := map[string]bool{}
	// The levels of the other users' and shared namespaces above their
	// mailboxes ("Other Users", "Other Users/kim@example.org", "Shared",
	// "Shared/support@example.org") are not mailboxes;
	// they are listed as \Noselect so that clients can show the tree
	// and LIST "%" can walk it (RFC 2342 5, RFC 9051 6.3.9).
	namespaceLevels := map[string]bool{}
	for _, f := range folders {
		exists[f.Name()] = f
		for _, p := range store.ParentNames(f.Name()) {
			hasChildren[p] = true
		}
		if ns := f.Namespace(); ns != "" {
			namespaceLevels[strings.TrimSuffix(ns, "/")] = true
			namespaceLevels[ns+f.Owner()] = true
		}
	}
	var names []string
	if lsub || opts.SelectSubscribed {
		names = subs
	} else {
		for _, f := range folders {
			names = append(names, f.Name())
		}
		for n := range namespaceLevels {
			names = append(names, n)
		}
	}
	// RECURSIVEMATCH: a name that matches the pattern and has a selected
	// descendant the pattern does not match is listed with CHILDINFO (RFC
	// 5258 3.3 rule 2B, 3.5: not when every such descendant is listed
	// itself). LSUB does the same with \Noselect for an unsubscribed
	// parent: "foo/bar" subscribed makes LSUB "" % list "foo" (RFC 3501
	// 6.3.9).
	childInfo := hiddenParents(names, matches)
	if !opts.RecursiveMatch && !lsub {
		childInfo = nil
	}
	for p := range childInfo {
		if !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if !matches(name) {
			continue
		}
		f, ok := exists[name]
		mb := f.Mailbox()
		if opts.SelectSpecialUse && (!ok || mb.SpecialUse == "") && !childInfo[name] {
			continue
		}
		var attrs []string
		switch {
		case namespaceLevels[name]:
			attrs = append(attrs, `\Noselect`, `\HasChildren`)
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
		if (opts.ReturnSubscribed || opts.SelectSubscribed) && subscribed[name] {
			attrs = append(attrs, `\Subscribed`)
		}
		if lsub && (!ok || !subscribed[name]) {
			attrs = []string{`\Noselect`}
		}
		s.bw.WriteString("* " + verb + " (" + strings.Join(attrs, " ") + `) "/" `)
		s.enc.Mailbox(name)
		if childInfo[name] && opts.RecursiveMatch {
			if opts.SelectSubscribed {
				s.bw.WriteString(` ("CHILDINFO" ("SUBSCRIBED"))`)
			} else {
				s.bw.WriteString(` ("CHILDINFO" ("SPECIAL-USE"))`)
			}
		}
		s.bw.WriteString("\r\n")
		if status != nil && ok {
			line, err := s.statusLine(f, status)
			if errors.Is(err, mailbox.ErrNoPermission) {
				continue // listed without the right to STATUS it (RFC 5819 4)
			} else if err != nil {
				return err
			}
			s.bw.WriteString(line)
		}
	}
	return s.ok(tag, "", verb+" completed")
}

// hiddenParents returns the names that match the pattern and are parents
// of a selected name that does not match it.
func hiddenParents(selected []string, matches func(string) bool) map[string]bool {
	out := map[string]bool{}
	for _, n := range selected {
		if matches(n) {
			continue
		}
		for _, p := range store.ParentNames(n) {
			if matches(p) {
				out[p] = true
			}
		}
	}
	return out
}

func cmdStatus(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadStatus()
	if err != nil {
		return err
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return err
	}
	f, err := s.user.Folder(s.ctx, name)
	if err != nil {
		return storeError(err, name)
	}
	line, err := s.statusLine(f, args.Items)
	if err != nil {
		return err
	}
	s.bw.WriteString(line)
	return s.ok(tag, "", "STATUS completed")
}

// statusLine builds "* STATUS name (...)" CRLF for the items.
func (s *session) statusLine(f mailbox.Folder, items []string) (string, error) {
	st, err := s.user.Status(s.ctx, f)
	if err != nil {
		return "", storeError(err, f.Name())
	}
	mb := st.Mailbox
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
			// The messages the next SELECT will see as \Recent (RFC 3501
			// 6.3.10). IMAP4rev2 dropped the item; a rev2 client asking for
			// it anyway gets the same answer.
			n, err := s.srv.opts.Mailboxes.RecentCount(s.ctx, mb.ID)
			if err != nil {
				return "", err
			}
			out = append(out, fmt.Sprintf("RECENT %d", n))
		case "HIGHESTMODSEQ":
			s.enableCondstore() // RFC 7162 3.1
			out = append(out, fmt.Sprintf("HIGHESTMODSEQ %d", st.HighestModSeq))
		case "MAILBOXID":
			out = append(out, "MAILBOXID ("+mailboxID(mb.ID)+")")
		default:
			return "", bad("unknown STATUS item %s", truncate(it))
		}
	}
	var b strings.Builder
	b.WriteString("* STATUS ")
	name := mb.Name
	if !s.utf8 && name != "INBOX" {
		name = wire.EncodeMUTF7(name)
	}
	b.WriteString(quoteName(name))
	b.WriteString(" (" + strings.Join(out, " ") + ")\r\n")
	return b.String(), nil
}

// quoteName quotes a mailbox name for a response built as a string.
func quoteName(n string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(n) + `"`
}
