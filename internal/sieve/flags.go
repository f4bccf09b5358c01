package sieve

import (
	"context"
	"strings"

	"github.com/migadu/go-sieve/interp"
	"github.com/migadu/go-sieve/parser"
)

// imap4flags' setflag, addflag and removeflag (RFC 5232 3), here rather
// than go-sieve's, which lower-cases every flag: IMAP keywords keep their
// case ($Forwarded, $Junk, $Label1), and clients and the junk filter
// compare them as written. Flags are still compared without regard to
// case, as RFC 5232 asks.

type flagOp int

const (
	flagSet flagOp = iota
	flagAdd
	flagRemove
)

type flagCmd struct {
	op       flagOp
	variable string // "" for the internal variable
	flags    []string
}

func (c *compiler) loadFlagCmd(s *Script, pc parser.Cmd, op flagOp) (command, error) {
	if !s.lib.RequiresExtension("imap4flags") {
		return nil, errorf(pc.Position, "%s needs require \"imap4flags\"", strings.ToLower(pc.Id))
	}
	var first, second []string
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Pos: []interp.SpecPosArg{
			{MinStrCount: 1, MatchStr: func(v []string) { first = v }},
			{Optional: true, MinStrCount: 1, MatchStr: func(v []string) { second = v }},
		},
	}, pc.Position, pc.Args, pc.Tests, pc.Block)
	if err != nil {
		return nil, errorAt(pc.Position, err)
	}
	cmd := flagCmd{op: op, flags: first}
	if second != nil {
		if len(first) != 1 {
			return nil, errorf(pc.Position, "%s: the variable is one name", strings.ToLower(pc.Id))
		}
		if settable, _ := s.lib.IsVarUsable(first[0]); !settable || !s.lib.RequiresExtension("variables") {
			return nil, errorf(pc.Position, "%s: %q is not a variable name (or variables is not required)", strings.ToLower(pc.Id), first[0])
		}
		cmd.variable, cmd.flags = first[0], second
	}
	return cmd, nil
}

func (c flagCmd) run(_ context.Context, r *runner) error {
	var names []string
	for _, f := range c.flags {
		names = append(names, strings.Fields(r.expand(f))...)
	}
	var cur []string
	if c.variable == "" {
		cur = r.d.Flags
	} else {
		v, err := r.d.Var(c.variable)
		if err != nil {
			return err
		}
		cur = strings.Fields(v)
	}
	switch c.op {
	case flagSet:
		cur = addFlags(nil, names)
	case flagAdd:
		cur = addFlags(cur, names)
	case flagRemove:
		var kept []string
		for _, f := range cur {
			if !containsFold(names, f) {
				kept = append(kept, f)
			}
		}
		cur = kept
	}
	if c.variable == "" {
		r.d.Flags = cur
		return nil
	}
	return r.d.SetVar(c.variable, strings.Join(cur, " "))
}

// addFlags adds names to list, each once whatever its case.
func addFlags(list, names []string) []string {
	out := append([]string(nil), list...)
	for _, n := range names {
		if !containsFold(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// flagsArg returns the :flags argument of a fileinto or keep as written,
// nil when there is none.
func flagsArg(pc parser.Cmd) []string {
	for i, a := range pc.Args {
		if t, ok := a.(parser.TagArg); ok && strings.EqualFold(t.Value, "flags") && i+1 < len(pc.Args) {
			switch v := pc.Args[i+1].(type) {
			case parser.StringArg:
				return []string{v.Value}
			case parser.StringListArg:
				return v.Value
			}
		}
	}
	return nil
}

// actionFlags is the flags an action stores its copy with: its own
// :flags as written (expanded), else the internal variable.
func (r *runner) actionFlags(own []string) []string {
	if own == nil {
		return append([]string(nil), r.d.Flags...)
	}
	var names []string
	for _, f := range own {
		names = append(names, strings.Fields(r.expand(f))...)
	}
	return addFlags(nil, names)
}
