// Package sieve runs users' mail filters (Sieve, RFC 5228) at delivery.
//
// go-sieve (github.com/migadu/go-sieve) lexes and parses scripts and
// evaluates the tests and simple commands of RFC 5228 and the extensions
// it knows. This package loads the parsed script itself so that it can
// add what go-sieve lacks without a second interpreter: control flow that
// counts steps and watches a deadline, actions recorded one by one with
// their own flags (RFC 5232 :flags), and reject/ereject (RFC 5429),
// vacation-seconds (RFC 6131), include (RFC 6609), spamtest/virustest
// (RFC 5235), duplicate (RFC 7352) and imap4flags' hasflag. Run returns
// what the script decided; delivery carries it out.
package sieve

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/migadu/go-sieve/interp"
	"github.com/migadu/go-sieve/lexer"
	"github.com/migadu/go-sieve/parser"
)

// Limits bound one script: what compiling it may cost and what running
// it on one message may cost. Zero fields take the defaults.
type Limits struct {
	// MaxScriptSize bounds the octets of each script, included ones too.
	MaxScriptSize int
	// MaxSteps bounds the commands and tests one delivery evaluates, over
	// all the scripts it runs.
	MaxSteps int
	// MaxTime bounds one evaluation's wall-clock time.
	MaxTime time.Duration
	// MaxRedirects bounds the redirects of one evaluation.
	MaxRedirects int
	// MaxIncludeDepth bounds the nesting of include.
	MaxIncludeDepth int
	// MaxActions bounds fileinto and redirect actions together.
	MaxActions int
}

// The defaults: a 1 MiB script compiles (Dovecot's default size limit),
// 10,000 ordinary rules run well within the steps, and no script holds
// a delivery for more than a second.
const (
	DefaultMaxScriptSize   = 1 << 20
	DefaultMaxSteps        = 200_000
	DefaultMaxTime         = time.Second
	DefaultMaxRedirects    = 10
	DefaultMaxIncludeDepth = 5
	DefaultMaxActions      = 100
	// maxTokens bounds the lexer: a 1 MiB script of one-letter tokens.
	maxTokens = 400_000
	// maxNesting bounds blocks and tests within each other; deep nesting
	// is what makes a parser's stack grow.
	maxNesting = 32
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxScriptSize, DefaultMaxScriptSize)
	def(&l.MaxSteps, DefaultMaxSteps)
	def(&l.MaxRedirects, DefaultMaxRedirects)
	def(&l.MaxIncludeDepth, DefaultMaxIncludeDepth)
	def(&l.MaxActions, DefaultMaxActions)
	if l.MaxTime <= 0 {
		l.MaxTime = DefaultMaxTime
	}
	return l
}

// Includes finds the scripts that include names (RFC 6609): the
// account's own (":personal", the default) and the server's
// (":global"). Each returns ErrNoScript when there is none of that name.
type Includes interface {
	Personal(ctx context.Context, name string) (string, error)
	Global(ctx context.Context, name string) (string, error)
}

// ErrNoScript is what Includes return for a name they do not have.
var ErrNoScript = &Error{Msg: "no such script"}

// Script is a compiled script, safe to run concurrently.
type Script struct {
	lib  *interp.Script
	ext  map[string]bool // this package's extensions the script requires
	cmds []command
	lim  Limits
}

// Compile compiles content. includes finds the scripts it includes; nil
// compiles them as missing-but-allowed (for checking a script on its
// own). ctx bounds the lookups of included scripts.
func Compile(content string, includes Includes, lim Limits) (*Script, error) {
	return CompileContext(context.Background(), content, includes, lim)
}

// CompileContext is Compile with a context for the include lookups.
func CompileContext(ctx context.Context, content string, includes Includes, lim Limits) (s *Script, err error) {
	defer func() {
		// go-sieve panics on what it considers its own mistakes; a
		// script must never take the server down with it.
		if p := recover(); p != nil {
			s, err = nil, &Error{Msg: fmt.Sprintf("internal error compiling the script: %v", p)}
		}
	}()
	c := &compiler{ctx: ctx, includes: includes, lim: lim.withDefaults()}
	return c.compile(content, nil)
}

type compiler struct {
	ctx      context.Context
	includes Includes
	lim      Limits
}

// includeKey names a script for include's loop check and :once.
type includeKey struct {
	global bool
	name   string
}

func (c *compiler) compile(content string, chain []includeKey) (*Script, error) {
	if len(content) > c.lim.MaxScriptSize {
		return nil, &Error{Msg: "the script is larger than " + sizeText(c.lim.MaxScriptSize)}
	}
	toks, err := lexer.Lex(strings.NewReader(content), &lexer.Options{MaxTokens: maxTokens})
	if err != nil {
		return nil, errorAt(lexer.Position{}, err)
	}
	cmds, err := parser.Parse(lexer.NewStream(toks), &parser.Options{MaxBlockNesting: maxNesting, MaxTestNesting: maxNesting})
	if err != nil {
		return nil, errorAt(lexer.Position{}, err)
	}
	s := &Script{ext: map[string]bool{}, lim: c.lim}
	var libExt []string
	i := 0
	for ; i < len(cmds) && strings.EqualFold(cmds[i].Id, "require"); i++ {
		names, err := requireNames(cmds[i])
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			switch {
			case contains(ownExtensions, n):
				s.ext[n] = true
			case contains(libraryExtensions, n):
				libExt = append(libExt, n)
			default:
				return nil, errorf(cmds[i].Position, "unsupported extension %q", n)
			}
		}
	}
	for _, dep := range [][2]string{{"vacation-seconds", "vacation"}, {"spamtestplus", "spamtest"}} {
		// RFC 6131 3 and RFC 5235 3.2: requiring the one implies the other.
		if s.ext[dep[0]] && !contains(libExt, dep[1]) && !s.ext[dep[1]] {
			if contains(libraryExtensions, dep[1]) {
				libExt = append(libExt, dep[1])
			} else {
				s.ext[dep[1]] = true
			}
		}
	}
	opts := &interp.Options{
		MaxRedirects:       c.lim.MaxRedirects,
		MaxVariableCount:   256,
		MaxVariableNameLen: 64,
		MaxVariableLen:     4000,
		RegexLimits:        interp.RegexLimits{MaxExecTime: c.lim.MaxTime},
	}
	var req []parser.Cmd
	if len(libExt) > 0 {
		req = []parser.Cmd{{Id: "require", Args: []parser.Arg{parser.StringListArg{Value: libExt}}}}
	}
	s.lib, err = interp.LoadScript(req, opts, libraryExtensions)
	if err != nil {
		return nil, errorAt(lexer.Position{}, err)
	}
	s.cmds, err = c.block(s, cmds[i:], chain)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// requireNames returns the capability names of a require command.
func requireNames(cmd parser.Cmd) ([]string, error) {
	if len(cmd.Args) != 1 || len(cmd.Tests) > 0 || cmd.Block != nil {
		return nil, errorf(cmd.Position, "require takes one string list")
	}
	switch a := cmd.Args[0].(type) {
	case parser.StringArg:
		return []string{a.Value}, nil
	case parser.StringListArg:
		return a.Value, nil
	}
	return nil, errorf(cmd.Position, "require takes one string list")
}

// block loads a list of commands.
func (c *compiler) block(s *Script, cmds []parser.Cmd, chain []includeKey) ([]command, error) {
	out := make([]command, 0, len(cmds))
	for i := 0; i < len(cmds); i++ {
		pc := cmds[i]
		var cmd command
		var err error
		switch strings.ToLower(pc.Id) {
		case "require":
			return nil, errorf(pc.Position, "require must come before every other command")
		case "if":
			var n int
			cmd, n, err = c.ifChain(s, cmds[i:], chain)
			i += n - 1
		case "elsif", "else":
			return nil, errorf(pc.Position, "%s without a preceding if", strings.ToLower(pc.Id))
		case "stop":
			err = noArgs(pc)
			cmd = stopCmd{}
		case "reject", "ereject":
			cmd, err = c.loadReject(s, pc)
		case "vacation":
			cmd, err = c.loadVacation(s, pc)
		case "include":
			cmd, err = c.loadInclude(s, pc, chain)
		case "return":
			if !s.ext["include"] {
				return nil, errorf(pc.Position, "return needs require \"include\"")
			}
			err = noArgs(pc)
			cmd = returnCmd{}
		case "global":
			cmd, err = c.loadGlobal(s, pc)
		case "setflag":
			cmd, err = c.loadFlagCmd(s, pc, flagSet)
		case "addflag":
			cmd, err = c.loadFlagCmd(s, pc, flagAdd)
		case "removeflag":
			cmd, err = c.loadFlagCmd(s, pc, flagRemove)
		case "addheader", "deleteheader", "test", "test_set", "test_fail", "test_binary_load",
			"test_binary_save", "test_config_reload", "test_config_set", "test_config_unset":
			// go-sieve knows these, but Mailroom does not advertise
			// editheader, and the others are its test suite's.
			return nil, errorf(pc.Position, "unsupported command %q", pc.Id)
		default:
			cmd, err = c.libraryCommand(s, pc)
		}
		if err != nil {
			return nil, err
		}
		if cmd != nil {
			out = append(out, cmd)
		}
	}
	return out, nil
}

func noArgs(pc parser.Cmd) error {
	if len(pc.Args) > 0 || len(pc.Tests) > 0 || pc.Block != nil {
		return errorf(pc.Position, "%s takes no arguments", strings.ToLower(pc.Id))
	}
	return nil
}

// ifChain loads an if with the elsif and else commands that follow it.
// It returns how many commands it used.
func (c *compiler) ifChain(s *Script, cmds []parser.Cmd, chain []includeKey) (command, int, error) {
	var out ifCmd
	n := 0
	for n < len(cmds) {
		pc := cmds[n]
		name := strings.ToLower(pc.Id)
		if n > 0 && name != "elsif" && name != "else" {
			break
		}
		if len(pc.Args) > 0 {
			return nil, 0, errorf(pc.Position, "%s takes no arguments", name)
		}
		if pc.Block == nil {
			return nil, 0, errorf(pc.Position, "%s needs a block", name)
		}
		var br branch
		if name == "else" {
			if len(pc.Tests) > 0 {
				return nil, 0, errorf(pc.Position, "else takes no test")
			}
		} else {
			if len(pc.Tests) != 1 {
				return nil, 0, errorf(pc.Position, "%s takes one test", name)
			}
			t, err := c.test(s, pc.Tests[0])
			if err != nil {
				return nil, 0, err
			}
			br.test = t
		}
		block, err := c.block(s, pc.Block, chain)
		if err != nil {
			return nil, 0, err
		}
		br.block = block
		out.branches = append(out.branches, br)
		n++
		if name == "else" {
			break
		}
	}
	return out, n, nil
}

// test loads a test: the logical ones and this package's own here, the
// others by go-sieve.
func (c *compiler) test(s *Script, pt parser.Test) (test, error) {
	switch strings.ToLower(pt.Id) {
	case "anyof", "allof":
		if len(pt.Args) > 0 || len(pt.Tests) == 0 {
			return nil, errorf(pt.Position, "%s takes a list of tests", strings.ToLower(pt.Id))
		}
		lt := listTest{all: strings.EqualFold(pt.Id, "allof")}
		for _, sub := range pt.Tests {
			t, err := c.test(s, sub)
			if err != nil {
				return nil, err
			}
			lt.tests = append(lt.tests, t)
		}
		return lt, nil
	case "not":
		if len(pt.Args) > 0 || len(pt.Tests) != 1 {
			return nil, errorf(pt.Position, "not takes one test")
		}
		t, err := c.test(s, pt.Tests[0])
		if err != nil {
			return nil, err
		}
		return notTest{t}, nil
	case "spamtest", "virustest":
		return c.loadScoreTest(s, pt)
	case "duplicate":
		return c.loadDuplicate(s, pt)
	case "hasflag":
		return c.loadHasFlag(s, pt)
	case "test_script_compile", "test_script_run", "test_error":
		return nil, errorf(pt.Position, "unsupported test %q", pt.Id)
	case "currentdate":
		// go-sieve's currentdate reads the wall clock; the delivery's
		// time (Input.Now) is the one to use, the same for every test of
		// one message. The date test on a field that only the runner
		// answers, holding that time, is currentdate exactly.
		if !s.lib.RequiresExtension("date") {
			return nil, errorf(pt.Position, "currentdate needs require \"date\"")
		}
		if len(pt.Args) < 2 {
			return nil, errorf(pt.Position, "currentdate takes a date part and a list of keys")
		}
		args := append(append(append([]parser.Arg(nil), pt.Args[:len(pt.Args)-2]...),
			parser.StringArg{Value: nowField, Position: pt.Position}), pt.Args[len(pt.Args)-2:]...)
		pt = parser.Test{Position: pt.Position, Id: "date", Args: args}
	}
	if strings.EqualFold(pt.Id, "date") && len(pt.Args) >= 3 {
		// RFC 5260 4: a Received field's date is what follows its last
		// semicolon; go-sieve parses the whole field and finds none. The
		// runner answers a field of its own with those dates.
		if h, ok := pt.Args[len(pt.Args)-3].(parser.StringArg); ok && strings.EqualFold(h.Value, "received") {
			args := append([]parser.Arg(nil), pt.Args...)
			h.Value = receivedDateField
			args[len(args)-3] = h
			pt.Args = args
		}
	}
	t, err := interp.LoadTest(s.lib, foldRegexKeys(pt))
	if err != nil {
		return nil, errorAt(pt.Position, err)
	}
	return libraryTest{t}, nil
}

// foldRegexKeys makes a :regex match under a case-insensitive comparator
// (the default, i;ascii-casemap) case-insensitive: go-sieve lower-cases
// the value but not the pattern, so `header :regex "subject" "^Report"`
// would never match. The keys (the last argument) get RE2's (?i).
func foldRegexKeys(pt parser.Test) parser.Test {
	regex, fold := false, true
	for i, a := range pt.Args {
		t, ok := a.(parser.TagArg)
		if !ok {
			continue
		}
		switch strings.ToLower(t.Value) {
		case "regex":
			regex = true
		case "comparator":
			if i+1 < len(pt.Args) {
				if c, ok := pt.Args[i+1].(parser.StringArg); ok {
					fold = strings.HasSuffix(strings.ToLower(c.Value), "casemap")
				}
			}
		}
	}
	if !regex || !fold || len(pt.Args) == 0 {
		return pt
	}
	args := append([]parser.Arg(nil), pt.Args...)
	switch k := args[len(args)-1].(type) {
	case parser.StringArg:
		k.Value = "(?i)" + k.Value
		args[len(args)-1] = k
	case parser.StringListArg:
		vals := make([]string, len(k.Value))
		for i, v := range k.Value {
			vals[i] = "(?i)" + v
		}
		k.Value = vals
		args[len(args)-1] = k
	}
	pt.Args = args
	return pt
}

// libraryCommand loads a command go-sieve knows. The actions among them
// are wrapped so that each is recorded with its own flags.
func (c *compiler) libraryCommand(s *Script, pc parser.Cmd) (command, error) {
	lc, err := interp.LoadCmd(s.lib, pc)
	if err != nil {
		return nil, errorAt(pc.Position, err)
	}
	switch lc := lc.(type) {
	case nil:
		return nil, nil
	case interp.CmdFileInto:
		return fileintoCmd{c: lc, flags: flagsArg(pc)}, nil
	case interp.CmdKeep:
		return keepCmd{c: lc, flags: flagsArg(pc)}, nil
	case interp.CmdRedirect:
		return redirectCmd{lc}, nil
	case interp.CmdDiscard:
		return discardCmd{}, nil
	case interp.CmdStop:
		return stopCmd{}, nil
	}
	return libraryCmd{lc}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " octets"
}
