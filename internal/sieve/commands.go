package sieve

import (
	"context"
	"regexp"

	"github.com/migadu/go-sieve/interp"

	"mailroom/internal/address"
)

// variableRef is RFC 5229 3's variable-ref, as go-sieve matches it.
var variableRef = regexp.MustCompile(`\${(?:[a-zA-Z_][a-zA-Z0-9_]*\.(?:(?:[a-zA-Z_][a-zA-Z0-9_]*|[0-9]+)\.)*)?(?:[a-zA-Z_][a-zA-Z0-9_]*|[0-9]+)}`)

func validAddress(s string) bool {
	_, err := address.Parse(s)
	return err == nil
}

// ifCmd is an if with its elsif and else branches.
type ifCmd struct{ branches []branch }

type branch struct {
	test  test // nil for else
	block []command
}

func (c ifCmd) run(ctx context.Context, r *runner) error {
	for _, b := range c.branches {
		if b.test != nil {
			ok, err := r.check(ctx, b.test)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		return r.block(ctx, b.block)
	}
	return nil
}

type stopCmd struct{}

func (stopCmd) run(context.Context, *runner) error { return errStop }

type returnCmd struct{}

func (returnCmd) run(context.Context, *runner) error { return errReturn }

// libraryCmd is a command go-sieve runs by itself (set, setflag, …).
type libraryCmd struct{ c interp.Cmd }

func (c libraryCmd) run(ctx context.Context, r *runner) error {
	err := c.c.Execute(ctx, r.d)
	if err == interp.ErrStop {
		return errStop
	}
	return err
}

// fileintoCmd records a fileinto with the flags it stores the copy with:
// its :flags (as written: go-sieve keeps them lower-cased), else the
// internal flags variable (RFC 5232 3, 5). go-sieve lets :flags overwrite
// the variable; that is undone here, as :flags is for this action alone.
type fileintoCmd struct {
	c     interp.CmdFileInto
	flags []string
}

func (c fileintoCmd) run(ctx context.Context, r *runner) error {
	if err := r.action(); err != nil {
		return err
	}
	saved := r.d.Flags
	n := len(r.d.Mailboxes)
	if err := c.c.Execute(ctx, r.d); err != nil {
		return err
	}
	r.d.Flags = saved
	flags := r.actionFlags(c.flags)
	if len(r.d.Mailboxes) == n {
		return nil // the same mailbox again: one copy (RFC 5228 2.10.3)
	}
	r.res.FileInto = append(r.res.FileInto, FileInto{
		Mailbox: r.d.Mailboxes[n],
		Flags:   flags,
		Create:  c.c.Create,
	})
	return nil
}

// keepCmd is an explicit keep, with its own :flags.
type keepCmd struct {
	c     interp.CmdKeep
	flags []string
}

func (c keepCmd) run(ctx context.Context, r *runner) error {
	saved := r.d.Flags
	if err := c.c.Execute(ctx, r.d); err != nil {
		return err
	}
	r.d.Flags = saved
	r.explicitKeep = true
	r.res.KeepFlags = r.actionFlags(c.flags)
	return nil
}

// redirectCmd records a redirect; go-sieve checks the address through
// policy and counts the redirects against MaxRedirects.
type redirectCmd struct{ c interp.CmdRedirect }

func (c redirectCmd) run(ctx context.Context, r *runner) error {
	if err := r.action(); err != nil {
		return err
	}
	n := len(r.d.RedirectAddr)
	if err := c.c.Execute(ctx, r.d); err != nil {
		return err
	}
	for _, a := range r.d.RedirectAddr[n:] {
		dup := false
		for _, x := range r.res.Redirect {
			dup = dup || x.Address == a
		}
		if !dup {
			r.res.Redirect = append(r.res.Redirect, Redirect{Address: a, Copy: c.c.Copy})
		}
	}
	return nil
}

type discardCmd struct{}

func (discardCmd) run(_ context.Context, r *runner) error {
	r.d.ImplicitKeep = false
	r.res.Discard = true
	return nil
}

// libraryTest is a test go-sieve evaluates.
type libraryTest struct{ t interp.Test }

func (t libraryTest) check(ctx context.Context, r *runner) (bool, error) {
	return t.t.Check(ctx, r.d)
}

// listTest is anyof or allof; it evaluates its tests only as far as the
// answer needs (RFC 5228 5.2, 5.3).
type listTest struct {
	all   bool
	tests []test
}

func (t listTest) check(ctx context.Context, r *runner) (bool, error) {
	for _, sub := range t.tests {
		ok, err := r.check(ctx, sub)
		if err != nil {
			return false, err
		}
		if ok != t.all {
			return ok, nil
		}
	}
	return t.all, nil
}

type notTest struct{ t test }

func (t notTest) check(ctx context.Context, r *runner) (bool, error) {
	ok, err := r.check(ctx, t.t)
	return !ok, err
}
