package sieve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/migadu/go-sieve/interp"
	"github.com/migadu/go-sieve/parser"
)

// Vacation and duplicate periods.
const (
	defaultVacationDays = 7                    // RFC 5230 4.1
	maxVacationPeriod   = 365 * 24 * time.Hour // what the vacation setting allowed before Sieve
	minVacationSeconds  = 60                   // RFC 6131 2 lets sites set a floor
	defaultDuplicate    = 7 * 24 * time.Hour
	maxDuplicate        = 30 * 24 * time.Hour
)

// rejectCmd is reject or ereject (RFC 5429).
type rejectCmd struct {
	reason   string
	extended bool
}

func (c *compiler) loadReject(s *Script, pc parser.Cmd) (command, error) {
	name := strings.ToLower(pc.Id)
	if !s.ext[name] {
		return nil, errorf(pc.Position, "%s needs require %q", name, name)
	}
	cmd := rejectCmd{extended: name == "ereject"}
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Pos: []interp.SpecPosArg{{MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) { cmd.reason = v[0] }}},
	}, pc.Position, pc.Args, pc.Tests, pc.Block)
	if err != nil {
		return nil, errorAt(pc.Position, err)
	}
	return cmd, nil
}

func (c rejectCmd) run(_ context.Context, r *runner) error {
	if r.res.Reject != nil {
		return &Error{Msg: "more than one reject"}
	}
	r.res.Reject = &Reject{Reason: r.expand(c.reason), Extended: c.extended}
	r.d.ImplicitKeep = false
	return nil
}

// vacationCmd is vacation (RFC 5230) with :seconds (RFC 6131).
type vacationCmd struct {
	days, seconds                 int
	hasDays, hasSeconds, mime     bool
	subject, from, handle, reason string
	addresses                     []string
}

func (c *compiler) loadVacation(s *Script, pc parser.Cmd) (command, error) {
	if !s.lib.RequiresExtension("vacation") {
		return nil, errorf(pc.Position, "vacation needs require \"vacation\"")
	}
	cmd := vacationCmd{}
	one := func(dst *string) interp.SpecTag {
		return interp.SpecTag{NeedsValue: true, MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) { *dst = v[0] }}
	}
	tags := map[string]interp.SpecTag{
		"days":      {NeedsValue: true, MatchNum: func(v int) { cmd.days, cmd.hasDays = v, true }},
		"subject":   one(&cmd.subject),
		"from":      one(&cmd.from),
		"handle":    one(&cmd.handle),
		"addresses": {NeedsValue: true, MinStrCount: 1, MatchStr: func(v []string) { cmd.addresses = v }},
		"mime":      {MatchBool: func() { cmd.mime = true }},
	}
	if s.ext["vacation-seconds"] {
		tags["seconds"] = interp.SpecTag{NeedsValue: true, MatchNum: func(v int) { cmd.seconds, cmd.hasSeconds = v, true }}
	}
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Tags: tags,
		Pos:  []interp.SpecPosArg{{MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) { cmd.reason = v[0] }}},
	}, pc.Position, pc.Args, pc.Tests, pc.Block)
	if err != nil {
		return nil, errorAt(pc.Position, err)
	}
	if cmd.hasDays && cmd.hasSeconds {
		return nil, errorf(pc.Position, "vacation takes :days or :seconds, not both")
	}
	return cmd, nil
}

func (c vacationCmd) run(_ context.Context, r *runner) error {
	if r.res.Vacation != nil {
		return &Error{Msg: "more than one vacation action"}
	}
	v := &Vacation{
		Subject: r.expand(c.subject),
		From:    r.expand(c.from),
		Reason:  r.expand(c.reason),
		Mime:    c.mime,
		Handle:  r.expand(c.handle),
	}
	for _, a := range c.addresses {
		v.Addresses = append(v.Addresses, r.expand(a))
	}
	switch {
	case c.hasSeconds:
		v.Period = time.Duration(max(c.seconds, minVacationSeconds)) * time.Second
	case c.hasDays:
		v.Period = time.Duration(max(c.days, 1)) * 24 * time.Hour
	default:
		v.Period = defaultVacationDays * 24 * time.Hour
	}
	v.Period = min(v.Period, maxVacationPeriod)
	r.res.Vacation = v
	return nil
}

// includeCmd is include (RFC 6609).
type includeCmd struct {
	key      includeKey
	once     bool
	optional bool
	sub      *Script // nil: missing (optional), or not looked up (Check)
	resolved bool
}

func (c *compiler) loadInclude(s *Script, pc parser.Cmd, chain []includeKey) (command, error) {
	if !s.ext["include"] {
		return nil, errorf(pc.Position, "include needs require \"include\"")
	}
	cmd := includeCmd{}
	var personal, global bool
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Tags: map[string]interp.SpecTag{
			"personal": {MatchBool: func() { personal = true }},
			"global":   {MatchBool: func() { global = true }},
			"once":     {MatchBool: func() { cmd.once = true }},
			"optional": {MatchBool: func() { cmd.optional = true }},
		},
		Pos: []interp.SpecPosArg{{MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) { cmd.key.name = v[0] }}},
	}, pc.Position, pc.Args, pc.Tests, pc.Block)
	if err != nil {
		return nil, errorAt(pc.Position, err)
	}
	if personal && global {
		return nil, errorf(pc.Position, "include takes :personal or :global, not both")
	}
	cmd.key.global = global
	name := cmd.key.name
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.Contains(name, "${") {
		// RFC 6609 3.2: a script name, not a path, and no variables.
		return nil, errorf(pc.Position, "include: %q is not a script name", name)
	}
	if c.includes == nil {
		return cmd, nil
	}
	cmd.resolved = true
	for _, k := range chain {
		if k == cmd.key {
			return nil, errorf(pc.Position, "include: %q includes itself (a loop)", name)
		}
	}
	if len(chain) >= c.lim.MaxIncludeDepth {
		return nil, errorf(pc.Position, "include: nested more than %d deep", c.lim.MaxIncludeDepth)
	}
	var content string
	if global {
		content, err = c.includes.Global(c.ctx, name)
	} else {
		content, err = c.includes.Personal(c.ctx, name)
	}
	if errors.Is(err, ErrNoScript) {
		if cmd.optional {
			return cmd, nil
		}
		return nil, errorf(pc.Position, "include: there is no script %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("include %q: %w", name, err)
	}
	sub, err := c.compile(content, append(append([]includeKey(nil), chain...), cmd.key))
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return nil, errorf(pc.Position, "in included script %q: %s", name, se.Error())
		}
		return nil, err
	}
	cmd.sub = sub
	return cmd, nil
}

func (c includeCmd) run(ctx context.Context, r *runner) error {
	if c.sub == nil {
		if c.optional {
			return nil
		}
		return &Error{Msg: fmt.Sprintf("include: script %q was not loaded", c.key.name)}
	}
	if c.once {
		if r.once[c.key] {
			return nil
		}
		if r.once == nil {
			r.once = map[includeKey]bool{}
		}
		r.once[c.key] = true
	}
	parentVars, parentScript, parentMatch := r.d.Variables, r.d.Script, r.d.MatchVariables
	vars := map[string]string{}
	for g := range r.globals {
		if v, ok := parentVars[g]; ok {
			vars[g] = v
		}
	}
	r.d.Variables, r.d.Script, r.d.MatchVariables = vars, c.sub.lib, nil
	err := r.block(ctx, c.sub.cmds)
	for g := range r.globals {
		if v, ok := vars[g]; ok {
			parentVars[g] = v
		}
	}
	r.d.Variables, r.d.Script, r.d.MatchVariables = parentVars, parentScript, parentMatch
	if errors.Is(err, errReturn) {
		return nil
	}
	return err
}

// globalCmd is global (RFC 6609 3.5): variables shared with includes.
type globalCmd struct{ names []string }

func (c *compiler) loadGlobal(s *Script, pc parser.Cmd) (command, error) {
	if !s.ext["include"] || !s.lib.RequiresExtension("variables") {
		return nil, errorf(pc.Position, "global needs require [\"include\", \"variables\"]")
	}
	cmd := globalCmd{}
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Pos: []interp.SpecPosArg{{MinStrCount: 1, MatchStr: func(v []string) { cmd.names = v }}},
	}, pc.Position, pc.Args, pc.Tests, pc.Block)
	if err != nil {
		return nil, errorAt(pc.Position, err)
	}
	for i, n := range cmd.names {
		if settable, _ := s.lib.IsVarUsable(n); !settable {
			return nil, errorf(pc.Position, "global: %q is not a variable name", n)
		}
		cmd.names[i] = strings.ToLower(n)
	}
	return cmd, nil
}

func (c globalCmd) run(_ context.Context, r *runner) error {
	if r.globals == nil {
		r.globals = map[string]bool{}
	}
	for _, n := range c.names {
		r.globals[n] = true
	}
	return nil
}

// scoreTest is spamtest or virustest (RFC 5235).
type scoreTest struct {
	virus, percent bool
	m              matcher
	keys           []string
}

func (c *compiler) loadScoreTest(s *Script, pt parser.Test) (test, error) {
	name := strings.ToLower(pt.Id)
	if !s.ext[name] {
		return nil, errorf(pt.Position, "%s needs require %q", name, name)
	}
	t := scoreTest{virus: name == "virustest"}
	tags := t.m.tags()
	if name == "spamtest" && s.ext["spamtestplus"] {
		tags["percent"] = interp.SpecTag{MatchBool: func() { t.percent = true }}
	}
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Tags: tags,
		Pos:  []interp.SpecPosArg{{MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) { t.keys = v }}},
	}, pt.Position, pt.Args, nil, nil)
	if err != nil {
		return nil, errorAt(pt.Position, err)
	}
	if err := t.m.validate(s); err != nil {
		return nil, errorf(pt.Position, "%s: %v", name, err)
	}
	return t, nil
}

func (t scoreTest) check(_ context.Context, r *runner) (bool, error) {
	value := "0" // RFC 5235 3.1/3.3: not tested
	switch {
	case t.virus:
		// No virus scanner runs here: every message is "not tested".
	case t.percent:
		if r.in.SpamPercent < 0 {
			// RFC 5235 3.2: with :percent, "not tested" matches nothing
			// but a :count of zero.
			return t.m.kind == "count" && t.m.match(nil, t.keys), nil
		}
		value = strconv.Itoa(r.in.SpamPercent)
	default:
		value = strconv.Itoa(r.in.SpamScore)
	}
	return t.m.match([]string{value}, t.keys), nil
}

// duplicateTest is duplicate (RFC 7352).
type duplicateTest struct {
	handle, header, uniqueID string
	hasUnique, last          bool
	seconds                  int
	hasSeconds               bool
}

func (c *compiler) loadDuplicate(s *Script, pt parser.Test) (test, error) {
	if !s.ext["duplicate"] {
		return nil, errorf(pt.Position, "duplicate needs require \"duplicate\"")
	}
	t := duplicateTest{}
	one := func(dst *string, flag *bool) interp.SpecTag {
		return interp.SpecTag{NeedsValue: true, MinStrCount: 1, MaxStrCount: 1, MatchStr: func(v []string) {
			*dst = v[0]
			if flag != nil {
				*flag = true
			}
		}}
	}
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Tags: map[string]interp.SpecTag{
			"handle":   one(&t.handle, nil),
			"header":   one(&t.header, nil),
			"uniqueid": one(&t.uniqueID, &t.hasUnique),
			"seconds":  {NeedsValue: true, MatchNum: func(v int) { t.seconds, t.hasSeconds = v, true }},
			"last":     {MatchBool: func() { t.last = true }},
		},
	}, pt.Position, pt.Args, nil, nil)
	if err != nil {
		return nil, errorAt(pt.Position, err)
	}
	if t.header != "" && t.hasUnique {
		return nil, errorf(pt.Position, "duplicate takes :header or :uniqueid, not both")
	}
	return t, nil
}

func (t duplicateTest) check(ctx context.Context, r *runner) (bool, error) {
	var value, kind string
	if t.hasUnique {
		value, kind = r.expand(t.uniqueID), "u"
	} else {
		name := t.header
		if name == "" {
			name = "Message-ID"
		}
		vals, err := r.d.Msg.HeaderGet(name)
		if err != nil {
			return false, err
		}
		if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
			// RFC 7352 3.1: no value to track; the test is false.
			return false, nil
		}
		value, kind = strings.TrimSpace(vals[0]), "h:"+strings.ToLower(name)
	}
	id := hash(r.expand(t.handle), kind, value)
	seen := false
	if r.env != nil {
		var err error
		if seen, err = r.env.DuplicateSeen(ctx, id); err != nil {
			return false, err
		}
	}
	if !seen || t.last {
		period := defaultDuplicate
		if t.hasSeconds {
			period = time.Duration(max(t.seconds, 1)) * time.Second
		}
		r.res.Duplicates = append(r.res.Duplicates, Duplicate{ID: id, Period: min(period, maxDuplicate)})
	}
	return seen, nil
}

// hasflagTest is imap4flags' hasflag (RFC 5232 4), which go-sieve lacks.
type hasflagTest struct {
	m          matcher
	vars, keys []string
}

func (c *compiler) loadHasFlag(s *Script, pt parser.Test) (test, error) {
	if !s.lib.RequiresExtension("imap4flags") {
		return nil, errorf(pt.Position, "hasflag needs require \"imap4flags\"")
	}
	t := hasflagTest{}
	var first, second []string
	err := interp.LoadSpec(s.lib, &interp.Spec{
		Tags: t.m.tags(),
		Pos: []interp.SpecPosArg{
			{MinStrCount: 1, MatchStr: func(v []string) { first = v }},
			{Optional: true, MinStrCount: 1, MatchStr: func(v []string) { second = v }},
		},
	}, pt.Position, pt.Args, nil, nil)
	if err != nil {
		return nil, errorAt(pt.Position, err)
	}
	if second != nil {
		if !s.lib.RequiresExtension("variables") {
			return nil, errorf(pt.Position, "hasflag with variables needs require \"variables\"")
		}
		t.vars, t.keys = first, second
	} else {
		t.keys = first
	}
	if err := t.m.validate(s); err != nil {
		return nil, errorf(pt.Position, "hasflag: %v", err)
	}
	return t, nil
}

func (t hasflagTest) check(_ context.Context, r *runner) (bool, error) {
	var flags []string
	if t.vars == nil {
		flags = r.d.Flags
	} else {
		for _, v := range t.vars {
			val, err := r.d.Var(v)
			if err != nil {
				return false, err
			}
			flags = append(flags, strings.Fields(val)...)
		}
	}
	var values []string
	for _, f := range flags {
		values = append(values, strings.Fields(f)...)
	}
	keys := make([]string, len(t.keys))
	for i, k := range t.keys {
		keys[i] = r.expand(k)
	}
	return t.m.match(values, keys), nil
}

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
