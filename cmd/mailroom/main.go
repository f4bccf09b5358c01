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

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError ends the command with its status after the command has said
// why itself (as `sieve check` does, in the form compilers use).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

const usage = `usage: mailroom COMMAND [ARGS]

Server:
  serve [--config FILE]              run every configured listener until SIGINT/SIGTERM
  dev [--data DIR]                   zero-configuration trial: 127.0.0.1 high ports, data in ./mailroom-dev
  version                            print the version
  bench smtp|pop3|imap --addr H:P …  load-test any SMTP, POP3 or IMAP server (see docs/benchmarks.md)

Accounts (all take --config FILE and work while serve runs):
  user add EMAIL [--password-stdin]  create an account (prompts for the password)
  user del EMAIL                     delete an account and all its mail
  user list                          list accounts
  user passwd EMAIL [--password-stdin]
  user set EMAIL KEY=VALUE…          change per-account settings
  user get EMAIL                     show per-account settings
  user app-password add EMAIL NAME   make a password for one device or program (printed once)
  user app-password list EMAIL, user app-password del EMAIL ID
  domain add|del DOMAIN, domain list
  domain dns DOMAIN                  the DNS records to publish (MX, SPF, DKIM, DMARC, SRV, autoconfig)
  alias add ALIAS TARGET…, alias del ALIAS, alias list   (ALIAS "@domain": catch-all)
  mailbox list EMAIL                 an account's mailboxes with message counts and sizes
  mailbox create --shared ADDRESS [--member EMAIL[=read|write|full|RIGHTS]]… [--send-as]
                                     a shared mailbox (support@): belongs to the domain, nobody logs in
                                     as it; members find it under "Shared/ADDRESS/" (default: write);
                                     --send-as: the members may send as ADDRESS
  acl show EMAIL [MAILBOX]           who may use an account's mailboxes, with which rights (RFC 4314)
  acl set EMAIL MAILBOX|'*' IDENTIFIER read|write|full|[+-]RIGHTS   IDENTIFIER: an address, @domain,
                                     authenticated or anyone; '*': every mailbox of the account
  acl del EMAIL MAILBOX|'*' IDENTIFIER
  mailbox seen EMAIL/MAILBOX [shared|per-user]
                                     whether users the mailbox is shared with share its owner's \Seen
                                     or each keep their own (the default); without a mode, shows it
  sieve check FILE, sieve list EMAIL, sieve show EMAIL NAME, sieve put EMAIL NAME FILE,
  sieve activate EMAIL NAME|--none, sieve delete EMAIL NAME
                                     an account's Sieve filters, as ManageSieve clients see them
                                     (mailroom sieve --help)
  quota show EMAIL|DOMAIN|--default  usage and limits (RFC 9208 STORAGE and MESSAGE)
  quota set EMAIL|DOMAIN|--default [--storage 10GB|0|unlimited|inherit] [--messages N|0|unlimited|inherit]
  delegate grant OWNER GRANTEE --mode send-as|on-behalf
                                     let an address or @domain send as OWNER (or on its behalf, with Sender:)
  delegate revoke OWNER GRANTEE, delegate list EMAIL
  delegate sent-copy OWNER delegate|both   also keep what delegates send in OWNER's Sent (both)
  annotation set NAME VALUE          a shared server annotation every IMAP user reads (METADATA),
                                     e.g. /shared/comment (message of the day), /shared/admin (mailto:…)
  annotation del NAME, annotation list
  reindex [--rebuild] [EMAIL]        index the mail the full-text index lacks (one account or all), with progress

Outbound queue (mail for other domains):
  queue list                         what waits, with the next attempt and last error
  queue show ID                      one message, per recipient
  queue retry ID|all                 try again now
  queue drop ID [--silent]           give up on a message (its sender gets a bounce unless --silent)

Moving an installation (stop every server on both first):
  store copy --from DATA_DIR|DSN --to DATA_DIR|DSN   copy everything into an empty store, verified
  store verify --from DATA_DIR|DSN --to DATA_DIR|DSN compare two stores as the copy's verification does

Junk filter:
  junk train --spam|--ham [--account EMAIL] FILE|DIR…   teach the shared base model (or one account's) a corpus
  junk stats [--account EMAIL]       what a model has learned
`

func run(ctx context.Context, args []string, sio *stdio) int {
	err := dispatch(ctx, args, sio)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(sio.err, "mailroom: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		fmt.Fprint(sio.err, usage)
		return usagef("no command given")
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
	case "reindex":
		return cmdReindex(ctx, rest, sio)
	case "acl":
		return cmdACL(ctx, rest, sio)
	case "quota":
		return cmdQuota(ctx, rest, sio)
	case "sieve":
		return cmdSieve(ctx, rest, sio)
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
// EMAIL") and returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
