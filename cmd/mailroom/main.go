// Command mailroom is an all-in-one mail server: SMTP, submission, POP3,
// IMAP and webmail over one mail store.
//
// Usage:
//
//	mailroom serve [--config FILE]     run every configured listener
//	mailroom dev [--data DIR]          zero-configuration trial on 127.0.0.1
//	mailroom user|domain|alias …       manage accounts, domains, aliases
//	mailroom delegate …                who may send as whom
//	mailroom version
//
// Run "mailroom help" for the full list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// stdio is the command's standard streams, replaceable in tests.
type stdio struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// usageError is a mistake in the command line: exit status 2. usage,
// when set, is the command's usage, printed after the message.
type usageError struct{ msg, usage string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError ends the command with its status after the command has said
// why itself (as `sieve check` does, in the form compilers use).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(ctx context.Context, args []string, sio *stdio) int {
	err := dispatch(ctx, args, sio)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var help helpShown
	if errors.As(err, &help) {
		fmt.Fprint(sio.out, help.text)
		return 0
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(sio.err, "mailroom: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprint(sio.err, ue.usage)
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		fmt.Fprint(sio.err, usage)
		return usagef("no command given")
	}
	if text, ok := groupHelp(args); ok {
		fmt.Fprint(sio.out, text)
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, sio)
	case "dev":
		return cmdDev(ctx, rest, sio)
	case "user":
		return cmdUser(ctx, rest, sio)
	case "domain":
		return cmdDomain(ctx, rest, sio)
	case "alias":
		return cmdAlias(ctx, rest, sio)
	case "mailbox":
		return cmdMailbox(ctx, rest, sio)
	case "delegate":
		return cmdDelegate(ctx, rest, sio)
	case "annotation":
		return cmdAnnotation(ctx, rest, sio)
	case "queue":
		return cmdQueue(ctx, rest, sio)
	case "junk":
		return cmdJunk(ctx, rest, sio)
	case "bench":
		return cmdBench(ctx, rest, sio)
	case "store":
		return cmdStore(ctx, rest, sio)
	case "import":
		return cmdImport(ctx, rest, sio)
	case "export":
		return cmdExport(ctx, rest, sio)
	case "backup":
		return cmdBackup(ctx, rest, sio)
	case "restore":
		return cmdRestore(ctx, rest, sio)
	case "verify":
		return cmdVerify(ctx, rest, sio)
	case "migrate":
		return cmdMigrate(ctx, rest, sio)
	case "reindex":
		return cmdReindex(ctx, rest, sio)
	case "acl":
		return cmdACL(ctx, rest, sio)
	case "quota":
		return cmdQuota(ctx, rest, sio)
	case "sieve":
		return cmdSieve(ctx, rest, sio)
	case "check":
		return cmdCheck(ctx, rest, sio)
	case "version", "--version", "-version":
		fmt.Fprintln(sio.out, "mailroom", versionString())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(sio.out, usage)
		return nil
	}
	return usagef("unknown command %q (see mailroom help)", cmd)
}

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel-" + rev + dirty
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}

// parseFlags parses flags wherever they appear among the arguments
// ("user add EMAIL --password-stdin" as well as "user add --password-stdin
// EMAIL") and returns the positional arguments. It is where every command
// answers --help, -help and -h with its usage (helpShown), before the
// command does anything; fs's name is the command's path in the table.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagHelp(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
