package thread

import (
	"cmp"
	"slices"
	"strings"
)

// OrderedSubject threads msgs with RFC 5256 section 4's ORDEREDSUBJECT
// algorithm: messages sorted by base subject, then sent date; each run of
// one base subject is a thread whose first message is the parent of all
// the others; threads ordered by their first message's sent date.
func OrderedSubject(msgs []*Message) []*Node {
	subj := make([]string, len(msgs))
	for i := range msgs {
		subj[i], _ = msgs[i].subjectKey()
	}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	byDate := func(a, b int) int {
		if r := cmp.Compare(msgs[a].Sent, msgs[b].Sent); r != 0 {
			return r
		}
		return cmp.Compare(a, b)
	}
	slices.SortFunc(order, func(a, b int) int {
		if r := strings.Compare(subj[a], subj[b]); r != 0 {
			return r
		}
		return byDate(a, b)
	})
	nodes := make([]Node, len(msgs))
	var roots []*Node
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && subj[order[j]] == subj[order[i]] {
			j++
		}
		root := &nodes[order[i]]
		root.Msg = order[i]
		if j > i+1 {
			root.Children = make([]*Node, 0, j-i-1)
			for _, k := range order[i+1 : j] {
				nodes[k].Msg = k
				root.Children = append(root.Children, &nodes[k])
			}
		}
		roots = append(roots, root)
		i = j
	}
	slices.SortFunc(roots, func(a, b *Node) int { return byDate(a.Msg, b.Msg) })
	return roots
}
