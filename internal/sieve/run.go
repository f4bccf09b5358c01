package sieve

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/migadu/go-sieve/interp"
)

// command is one loaded command; test is one loaded test.
type command interface {
	run(ctx context.Context, r *runner) error
}

type test interface {
	check(ctx context.Context, r *runner) (bool, error)
}

// Message is what a script reads of the message: go-sieve's view of it
// (header fields by name, size, raw body).
type Message = interp.Message

// Input is one message on its way to one account.
type Input struct {
	Message Message
	// The envelope: the reverse path ("" for the null sender), the
	// recipient address that led to the account, and the login of the
	// authenticated sender ("" if none).
	From, To, Auth string
	// SpamScore is the junk filter's verdict on RFC 5235's scale: 0 not
	// tested, 1 surely not junk … 10 surely junk. SpamPercent is the same
	// on spamtestplus' 0–100 scale, -1 when not tested.
	SpamScore, SpamPercent int
	// Now is the time of the delivery.
	Now time.Time
}

// Environment answers what a script asks about the account.
type Environment interface {
	// MailboxExists reports whether the account has the mailbox
	// (mailboxexists, RFC 5490).
	MailboxExists(ctx context.Context, name string) (bool, error)
	// DuplicateSeen reports whether the duplicate-tracking id was
	// recorded for the account and is still valid (RFC 7352).
	DuplicateSeen(ctx context.Context, id string) (bool, error)
}

// Result is what the scripts decided for one message.
type Result struct {
	// Keep: the message goes to the account's INBOX (the implicit keep or
	// keep), with KeepFlags (flag names as the script wrote them).
	Keep      bool
	KeepFlags []string
	// FileInto: copies into other mailboxes.
	FileInto []FileInto
	// Redirect: copies sent on to other addresses.
	Redirect []Redirect
	// Reject: refuse the message with this reason (RFC 5429).
	Reject *Reject
	// Vacation: answer the sender (RFC 5230), if delivery's rules for
	// automatic replies allow it.
	Vacation *Vacation
	// Duplicates are the ids to record for duplicate (RFC 7352) once the
	// message is delivered.
	Duplicates []Duplicate
	// Discard: the script discarded the message (informational: Keep is
	// false then, unless a later keep).
	Discard bool
}

// FileInto is one fileinto action.
type FileInto struct {
	Mailbox string
	Flags   []string
	Create  bool // :create (RFC 5490): make the mailbox if it is missing
}

// Redirect is one redirect action.
type Redirect struct {
	Address string
	Copy    bool
}

// Reject is a reject or ereject action.
type Reject struct {
	Reason   string
	Extended bool // ereject: refuse in the SMTP dialogue where possible
}

// Vacation is a vacation action. Handle is "" when the script gave none:
// then every answer of the account is one, tracked per sender.
type Vacation struct {
	Subject, From, Reason string
	Mime                  bool
	Addresses             []string
	Handle                string
	Period                time.Duration
}

// Duplicate is one id to record for the duplicate test.
type Duplicate struct {
	ID     string
	Period time.Duration
}

// ErrLimit wraps the errors of a script that went over its limits.
var ErrLimit = errors.New("sieve: limit exceeded")

// errReturn ends an included script (RFC 6609 3.3); errStop ends them all.
var (
	errReturn = errors.New("return")
	errStop   = errors.New("stop")
)

// runner is one evaluation: the scripts of one delivery to one account.
type runner struct {
	d   *interp.RuntimeData
	env Environment
	in  Input
	lim Limits
	res Result
	// explicitKeep: a keep command ran (reject must not be combined
	// with it).
	explicitKeep bool

	steps    int
	deadline time.Time
	once     map[includeKey]bool
	globals  map[string]bool
}

// Run evaluates scripts in order on one message, sharing one result: the
// server's global script first, then the user's (a stop in any ends
// them all). nil scripts are skipped. On an error (a script over its
// limits, a runtime error) the result is the implicit keep alone, and
// the error says why: RFC 5228 2.10.6.
func Run(ctx context.Context, in Input, env Environment, scripts ...*Script) (res *Result, err error) {
	lim := Limits{}.withDefaults()
	for _, s := range scripts {
		if s != nil {
			lim = s.lim
			break
		}
	}
	r := &runner{env: env, in: in, lim: lim, deadline: time.Now().Add(lim.MaxTime)}
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Msg: fmt.Sprintf("internal error: %v", p)}
		}
		if err != nil {
			res = &Result{Keep: true}
		}
	}()
	ctx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	msg := nowMessage{Message: in.Message, now: now.Format(time.RFC1123Z)}
	r.d = interp.NewRuntimeData(nil, (*policy)(r), (*envelope)(&r.in), msg)
	for _, s := range scripts {
		if s == nil {
			continue
		}
		r.d.Script = s.lib
		r.d.Variables = map[string]string{}
		r.d.MatchVariables = nil
		r.globals = nil
		err := r.block(ctx, s.cmds)
		if errors.Is(err, errStop) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return &r.res, nil
}

func (r *runner) finish() error {
	res := &r.res
	if res.Reject != nil {
		// RFC 5429 2.1/2.2: a refused message is not also delivered or
		// answered.
		switch {
		case r.explicitKeep:
			return &Error{Msg: "reject cannot be combined with keep"}
		case len(res.FileInto) > 0:
			return &Error{Msg: "reject cannot be combined with fileinto"}
		case len(res.Redirect) > 0:
			return &Error{Msg: "reject cannot be combined with redirect"}
		case res.Vacation != nil:
			return &Error{Msg: "reject cannot be combined with vacation"}
		}
	}
	res.Keep = r.explicitKeep || r.d.ImplicitKeep
	if res.Keep && res.KeepFlags == nil {
		res.KeepFlags = append([]string(nil), r.d.Flags...)
	}
	return nil
}

// step counts one command or test against the limits.
func (r *runner) step() error {
	r.steps++
	if r.steps > r.lim.MaxSteps {
		return fmt.Errorf("%w: more than %d commands and tests", ErrLimit, r.lim.MaxSteps)
	}
	if r.steps%64 == 0 && time.Now().After(r.deadline) {
		return fmt.Errorf("%w: ran longer than %v", ErrLimit, r.lim.MaxTime)
	}
	return nil
}

func (r *runner) block(ctx context.Context, cmds []command) error {
	for _, c := range cmds {
		if err := r.step(); err != nil {
			return err
		}
		if err := c.run(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) check(ctx context.Context, t test) (bool, error) {
	if err := r.step(); err != nil {
		return false, err
	}
	ok, err := t.check(ctx, r)
	if err != nil && ctx.Err() != nil {
		return false, fmt.Errorf("%w: ran longer than %v", ErrLimit, r.lim.MaxTime)
	}
	return ok, err
}

// action counts one fileinto or redirect.
func (r *runner) action() error {
	if len(r.res.FileInto)+len(r.res.Redirect) >= r.lim.MaxActions {
		return fmt.Errorf("%w: more than %d actions", ErrLimit, r.lim.MaxActions)
	}
	return nil
}

// expand replaces variable references in s (RFC 5229), as go-sieve does
// for its own commands.
func (r *runner) expand(s string) string {
	if !r.d.Script.RequiresExtension("variables") || !strings.Contains(s, "${") {
		return s
	}
	return variableRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if n, err := strconv.Atoi(name); err == nil && n >= 0 {
			return r.d.MatchVariable(n)
		}
		v, err := r.d.Var(name)
		if err != nil {
			return ""
		}
		return v
	})
}

// policy lets go-sieve ask about redirect and mailboxexists.
type policy runner

func (p *policy) RedirectAllowed(ctx context.Context, d *interp.RuntimeData, addr string) (bool, error) {
	if !validAddress(addr) {
		return false, &Error{Msg: fmt.Sprintf("redirect: %q is not an address", addr)}
	}
	return true, nil
}

func (p *policy) MailboxExists(ctx context.Context, name string) (bool, error) {
	if p.env == nil {
		return false, nil
	}
	return p.env.MailboxExists(ctx, name)
}

// envelope gives go-sieve the envelope.
type envelope Input

func (e *envelope) EnvelopeFrom() string { return e.From }
func (e *envelope) EnvelopeTo() string   { return e.To }
func (e *envelope) AuthUsername() string { return e.Auth }

func itoa(n int) string { return strconv.Itoa(n) }
