package imap

import (
	"strconv"
	"strings"

	"mailroom/internal/mailbox/thread"
)

// cmdThread is THREAD and UID THREAD (RFC 5256 section 4):
// ORDEREDSUBJECT or REFERENCES over the messages the criteria match.
func cmdThread(s *session, tag string, uid bool) error {
	if err := s.dec.ExpectSP(); err != nil {
		return err
	}
	q, err := s.dec.ReadThread()
	if err != nil {
		return err
	}
	if err := s.dec.ExpectCRLF(); err != nil {
		return err
	}
	if err := s.sendUpdates(uid); err != nil {
		return err
	}
	uids, err := s.searchUIDs(q.Key, q.Charset)
	if err != nil {
		return err
	}
	msgs, err := s.threadInputs(uids)
	if err != nil {
		return err
	}
	var roots []*thread.Node
	if q.Algorithm == "ORDEREDSUBJECT" {
		roots = thread.OrderedSubject(msgs)
	} else {
		roots = thread.References(msgs)
	}
	var b strings.Builder
	b.WriteString("THREAD")
	if len(roots) > 0 {
		b.WriteByte(' ')
	}
	writeThreads(&b, roots, func(i int) uint32 { return s.number(msgs[i], uid) })
	s.untagged(b.String())
	return s.ok(tag, "", "THREAD completed")
}

// writeThreads prints thread trees in RFC 5256's grammar,
//
//	thread-list    = "(" (thread-members / thread-nested) ")"
//	thread-members = nz-number *(SP nz-number) [SP thread-nested]
//	thread-nested  = 2*thread-list
//
// a message's only child following it in the same list and several
// children each in a list of their own; a dummy prints nothing. It walks
// with an explicit stack, so depth costs no Go stack.
func writeThreads(b *strings.Builder, roots []*thread.Node, num func(int) uint32) {
	// Each frame prints one node inside an already opened list; close
	// counts the ")" owed once the node's subtree is done.
	type frame struct {
		n     *thread.Node
		close int
	}
	var stack []frame
	var digits [10]byte
	for i := len(roots) - 1; i >= 0; i-- {
		stack = append(stack, frame{n: roots[i], close: 1})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		// A new list opens for this node (a root or one of several
		// children).
		b.WriteByte('(')
		n, closing := f.n, f.close
		// Print the chain of only children inline.
		first := true
		for {
			if n.Msg >= 0 {
				if !first {
					b.WriteByte(' ')
				}
				b.Write(strconv.AppendUint(digits[:0], uint64(num(n.Msg)), 10))
				first = false
			}
			if len(n.Children) != 1 {
				break
			}
			n = n.Children[0]
		}
		if len(n.Children) == 0 {
			b.WriteString(strings.Repeat(")", closing))
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		// Several children: each in its own list; the last one also
		// closes what this node owes.
		for i := len(n.Children) - 1; i >= 0; i-- {
			c := 1
			if i == len(n.Children)-1 {
				c += closing
			}
			stack = append(stack, frame{n: n.Children[i], close: c})
		}
	}
}
