package thread

import (
	"cmp"
	"slices"
)

// Node is one node of a thread tree: a message (Msg is its index in the
// slice given to the threader) or, when Msg is -1, a dummy standing for
// a message that is not there (RFC 5256 prints none for it).
type Node struct {
	Msg      int
	Children []*Node
}

// container is a node of the REFERENCES algorithm's id table, by index.
type container struct {
	msg      int32 // index into msgs, -1 for a dummy
	parent   int32 // -1 for none
	nchild   int32 // children linked so far (step 1)
	children []int32
	subject  string // collated base subject, for a message container
	replyFwd bool   // a reply or forward marker was removed from it
	keyed    bool   // subject and replyFwd are computed
}

// threader holds the state of one REFERENCES run.
type threader struct {
	msgs   []*Message
	c      []container
	ids    map[string]int32
	budget int // steps left for loop checks, see isAncestor
}

// walkBudget is the loop checks' allowance for a run over n messages.
func walkBudget(n int) int { return 1<<22 + 64*n }

// References threads msgs with RFC 5256 section 4's REFERENCES algorithm
// and returns the threads in order, each a tree.
func References(msgs []*Message) []*Node {
	t := &threader{msgs: msgs, c: make([]container, 0, len(msgs)+len(msgs)/2), ids: make(map[string]int32, len(msgs)),
		budget: walkBudget(len(msgs))}
	t.link()
	roots := t.prune()
	t.sortLevel(roots) // step 4: top-level siblings, by date
	roots = t.mergeSubjects(roots)
	t.sortAll(roots)
	return t.nodes(roots)
}

func (t *threader) newContainer(msg int32) int32 {
	t.c = append(t.c, container{msg: msg, parent: -1})
	return int32(len(t.c) - 1)
}

// lookup finds or creates the container of a referenced id.
func (t *threader) lookup(id string) int32 {
	if c, ok := t.ids[id]; ok {
		return c
	}
	c := t.newContainer(-1)
	t.ids[id] = c
	return c
}

// isAncestor reports whether a is b or one of b's ancestors, which would
// make linking a above b a loop. Walking up costs the depth, and the link
// rules keep the parent chains free of cycles. Every walk draws on the
// run's budget: ordinary mail needs a few steps a link, but References
// that ask again and again to link a deep chain's root under its own leaf
// would cost depth times attempts. Once the budget is spent, a link that
// needs a walk is treated as a loop and not made, so threading stays
// linear in its input whatever the input is.
func (t *threader) isAncestor(a, b int32) bool {
	for x := b; x >= 0; x = t.c[x].parent {
		if x == a || t.budget <= 0 {
			return true
		}
		t.budget--
	}
	return false
}

func (t *threader) setParent(child, parent int32) {
	if old := t.c[child].parent; old >= 0 {
		t.c[old].nchild--
	}
	t.c[child].parent = parent
	if parent >= 0 {
		t.c[parent].nchild++
	}
}

// link is step 1: a container per message, parent links from the
// References (or In-Reply-To) ids.
func (t *threader) link() {
	var refs, buf []string
	for i := range t.msgs {
		m := t.msgs[i]
		// (A) The message's own container. A duplicate or missing
		// Message-ID gets a container of its own, outside the table.
		var c int32 = -1
		var id string
		if m.derived != nil {
			id = m.derived.id
		} else {
			id = FirstMsgID(m.fields().MessageID)
		}
		if id != "" {
			if x, ok := t.ids[id]; !ok {
				c = t.newContainer(int32(i))
				t.ids[id] = c
			} else if t.c[x].msg < 0 {
				c = x
				t.c[c].msg = int32(i)
			}
		}
		if c < 0 {
			c = t.newContainer(int32(i))
		}
		// (B) Link the references in order, parent before child,
		// changing no existing link and making no loop.
		if m.derived != nil {
			refs = m.derived.refs
		} else {
			buf = parentIDs(buf[:0], m)
			refs = buf
		}
		prev := int32(-1)
		for _, id := range refs {
			x := t.lookup(id)
			if prev >= 0 && prev != x && t.c[x].parent < 0 &&
				(t.c[x].nchild == 0 || !t.isAncestor(x, prev)) {
				t.setParent(x, prev)
			}
			prev = x
		}
		// (C) The last reference is the parent, replacing any parent a
		// truncated References field suggested, unless that would be a
		// loop.
		t.setParent(c, -1)
		if prev >= 0 && prev != c && (t.c[c].nchild == 0 || !t.isAncestor(c, prev)) {
			t.setParent(c, prev)
		}
	}
}

// prune is steps 2 and 3: gather the roots, build the child lists, and
// remove dummies: a childless one goes, one with children gives way to
// them, except that several children are not promoted to the root.
func (t *threader) prune() []int32 {
	// The child lists share one array, each with room for exactly its
	// children (nchild counts them): one allocation instead of one a
	// parent. A list that grows later (subject merging) moves out.
	backing := make([]int32, 0, len(t.c))
	for i := range t.c {
		if n := int(t.c[i].nchild); n > 0 {
			t.c[i].children = backing[len(backing) : len(backing) : len(backing)+n]
			backing = backing[:len(backing)+n]
		}
	}
	var roots []int32
	for i := range t.c {
		if p := t.c[i].parent; p >= 0 {
			t.c[p].children = append(t.c[p].children, int32(i))
		} else {
			roots = append(roots, int32(i))
		}
	}
	var work []int32
	level := func(list []int32, parent int32) []int32 {
		if !slices.ContainsFunc(list, func(x int32) bool { return t.c[x].msg < 0 }) {
			return list // no dummy here: nothing to prune
		}
		atRoot := parent < 0
		out := make([]int32, 0, len(list))
		work = work[:0]
		for i := len(list) - 1; i >= 0; i-- {
			work = append(work, list[i])
		}
		for len(work) > 0 {
			x := work[len(work)-1]
			work = work[:len(work)-1]
			c := &t.c[x]
			switch {
			case c.msg >= 0:
				out = append(out, x)
			case len(c.children) == 0:
			case !atRoot || len(c.children) == 1:
				for i := len(c.children) - 1; i >= 0; i-- {
					t.c[c.children[i]].parent = parent
					work = append(work, c.children[i])
				}
			default:
				out = append(out, x)
			}
		}
		return out
	}
	roots = level(roots, -1)
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if len(t.c[x].children) == 0 {
			continue
		}
		t.c[x].children = level(t.c[x].children, x)
		stack = append(stack, t.c[x].children...)
	}
	// A dummy kept at the root for its several children may have lost
	// some of them, dummies themselves, since: judge it again.
	out := roots[:0]
	for _, x := range roots {
		c := &t.c[x]
		switch {
		case c.msg >= 0 || len(c.children) > 1:
			out = append(out, x)
		case len(c.children) == 1:
			t.c[c.children[0]].parent = -1
			out = append(out, c.children[0])
		}
	}
	return out
}

// first returns the message that stands for container x when ordering
// and naming threads: x itself, or a dummy's first child.
func (t *threader) first(x int32) int32 {
	for t.c[x].msg < 0 && len(t.c[x].children) > 0 {
		x = t.c[x].children[0]
	}
	return x
}

// byDate orders containers by the sent date of the message standing for
// them, then by mailbox order (RFC 5256 section 2.2).
func (t *threader) byDate(a, b int32) int {
	ma, mb := t.c[t.first(a)].msg, t.c[t.first(b)].msg
	if ma < 0 || mb < 0 {
		return cmp.Compare(ma, mb)
	}
	if r := cmp.Compare(t.msgs[ma].Sent, t.msgs[mb].Sent); r != 0 {
		return r
	}
	return cmp.Compare(ma, mb)
}

// sortLevel is step 4: sort the roots by date, a dummy by its first child
// after sorting its children.
func (t *threader) sortLevel(roots []int32) {
	for _, x := range roots {
		if t.c[x].msg < 0 {
			slices.SortFunc(t.c[x].children, t.byDate)
		}
	}
	slices.SortFunc(roots, t.byDate)
}

// threadSubject is the base subject of a root: its own, or a dummy's
// first child's. It is computed once per message.
func (t *threader) threadSubject(x int32) (string, bool) {
	f := t.first(x)
	c := &t.c[f]
	if c.msg < 0 {
		return "", false
	}
	if !c.keyed {
		c.subject, c.replyFwd = t.msgs[c.msg].subjectKey()
		c.keyed = true
	}
	return c.subject, c.replyFwd
}

// mergeSubjects is step 5: roots with the same base subject are gathered
// under one thread.
func (t *threader) mergeSubjects(roots []int32) []int32 {
	table := make(map[string]int32)
	isDummy := func(x int32) bool { return t.c[x].msg < 0 }
	// (B) One container per subject: a dummy is preferred, then a message
	// that is not a reply or forward.
	for _, x := range roots {
		subj, _ := t.threadSubject(x)
		if subj == "" {
			continue
		}
		y, ok := table[subj]
		if !ok {
			table[subj] = x
			continue
		}
		if !isDummy(y) && (isDummy(x) || (t.c[y].replyFwd && !t.c[x].replyFwd)) {
			table[subj] = x
		}
	}
	// (C) Merge every other root with that subject into it.
	replaced := make(map[int32]int32) // table container -> the dummy now standing in its place
	keep := make([]bool, len(roots))
	for i, x := range roots {
		keep[i] = true
		if t.c[x].parent >= 0 {
			continue // already gathered under a new dummy, which takes its place
		}
		subj, _ := t.threadSubject(x)
		if subj == "" {
			continue
		}
		y := table[subj]
		if y == x {
			continue
		}
		keep[i] = false
		switch {
		case isDummy(x) && isDummy(y):
			for _, ch := range t.c[x].children {
				t.c[ch].parent = y
			}
			t.c[y].children = append(t.c[y].children, t.c[x].children...)
			t.c[x].children = nil
		case isDummy(y) && !isDummy(x):
			t.addChild(y, x)
		case !isDummy(x) && !isDummy(y) && t.c[x].replyFwd && !t.c[y].replyFwd:
			t.addChild(y, x)
		default:
			d := t.newContainer(-1)
			replaced[y] = d
			t.addChild(d, y)
			t.addChild(d, x)
			table[subj] = d
		}
	}
	out := roots[:0]
	for i, x := range roots {
		if !keep[i] {
			continue
		}
		// A root that went under a new dummy is replaced by the dummy (the
		// chain, when that dummy was itself replaced, is followed).
		for {
			d, ok := replaced[x]
			if !ok {
				break
			}
			x = d
		}
		out = append(out, x)
	}
	return out
}

func (t *threader) addChild(parent, child int32) {
	t.c[child].parent = parent
	t.c[parent].children = append(t.c[parent].children, child)
}

// sortAll is step 6: every set of siblings by date, the deepest first so
// a dummy's first child is known when its own level is sorted.
func (t *threader) sortAll(roots []int32) {
	order := slices.Clone(roots)
	for i := 0; i < len(order); i++ {
		order = append(order, t.c[order[i]].children...)
	}
	for i := len(order) - 1; i >= 0; i-- {
		if ch := t.c[order[i]].children; len(ch) > 1 {
			slices.SortFunc(ch, t.byDate)
		}
	}
	slices.SortFunc(roots, t.byDate)
}

// nodes converts the container forest to Nodes.
func (t *threader) nodes(roots []int32) []*Node {
	all := make([]Node, len(t.c))
	out := make([]*Node, len(roots))
	for i := range t.c {
		all[i].Msg = int(t.c[i].msg)
	}
	total := 0
	for i := range t.c {
		total += len(t.c[i].children)
	}
	links := make([]*Node, 0, total) // every Children slice, in one array
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ch := t.c[x].children
		if len(ch) == 0 {
			continue
		}
		start := len(links)
		for _, y := range ch {
			links = append(links, &all[y])
		}
		all[x].Children = links[start:len(links):len(links)]
		stack = append(stack, ch...)
	}
	for i, x := range roots {
		out[i] = &all[x]
	}
	return out
}
