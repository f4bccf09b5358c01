package store

import (
	"fmt"
	"slices"
)

// TableOrder orders tables so that each comes after the tables its foreign
// keys reference, ties broken by name: the order in which `mailroom store
// copy` fills an empty database without breaking a constraint, which both
// backends compute from their own catalog. refs maps a table to the tables
// it references; references to tables not in the list, and a table's
// references to itself, do not constrain the order. A cycle is an error:
// no insertion order could satisfy it.
func TableOrder(tables []string, refs map[string][]string) ([]string, error) {
	in := make(map[string]bool, len(tables))
	for _, t := range tables {
		in[t] = true
	}
	todo := slices.Clone(tables)
	slices.Sort(todo)
	done := make(map[string]bool, len(tables))
	out := make([]string, 0, len(tables))
	for len(todo) > 0 {
		progress := false
		rest := todo[:0]
		for _, t := range todo {
			ready := true
			for _, r := range refs[t] {
				if r != t && in[r] && !done[r] {
					ready = false
					break
				}
			}
			if ready {
				out = append(out, t)
				done[t] = true
				progress = true
			} else {
				rest = append(rest, t)
			}
		}
		todo = rest
		if !progress {
			return nil, fmt.Errorf("foreign keys form a cycle among tables %v", todo)
		}
	}
	return out, nil
}
