package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
)

// command is one line of `mailroom help`: the usage text, every command's
// --help and the test that runs --help on each are all made from this one
// table, so a command added here is documented and tested at once.
type command struct {
	section string // starts a new section of the full usage when set
	path    string // "user add": the words that select the command
	args    string // what follows the path in the synopsis
	doc     string // what it does; further lines after "\n"
	noFlags bool   // the command has no flag set (help and version)
}

var commands = []command{
	{section: "Server", path: "serve", args: "[--config FILE]", doc: "run every configured listener until SIGINT/SIGTERM"},
	{path: "dev", args: "[--data DIR]", doc: "zero-configuration trial: 127.0.0.1 high ports, data in ./mailroom-dev"},
	{path: "version", doc: "print the version", noFlags: true},
	{path: "help", doc: "print this list", noFlags: true},
	{path: "check", args: "[--config FILE] [--domain DOMAIN]…",
		doc: "check the configuration, certificates, ports and each domain's DNS records:\none line per check, OK, WARN or FAIL with what to do; exit 1 on any FAIL"},
	{path: "bench smtp", args: "--addr H:P …", doc: "load-test any SMTP server (see docs/benchmarks.md)"},
	{path: "bench pop3", args: "--addr H:P …", doc: "load-test any POP3 server"},
	{path: "bench imap", args: "--addr H:P …", doc: "load-test any IMAP server"},
	{path: "bench jmap", args: "--addr H:P …", doc: "load-test a JMAP server (list, flag, /changes; push latency with --smtp)"},
	{path: "bench feed", args: "--idle-addr H:P --addr H:P …", doc: "how soon an IDLE client hears of mail delivered over SMTP"},

	{section: "Accounts (all take --config FILE and work while serve runs)", path: "user add", args: "EMAIL [--password-stdin]", doc: "create an account (prompts for the password)"},
	{path: "user del", args: "EMAIL", doc: "delete an account and all its mail"},
	{path: "user list", doc: "list accounts"},
	{path: "user passwd", args: "EMAIL [--password-stdin]", doc: "change an account's password"},
	{path: "user set", args: "EMAIL KEY=VALUE…", doc: "change per-account settings"},
	{path: "user get", args: "EMAIL", doc: "show per-account settings"},
	{path: "user app-password add", args: "EMAIL NAME", doc: "make a password for one device or program (printed once)"},
	{path: "user app-password list", args: "EMAIL", doc: "an account's app passwords"},
	{path: "user app-password del", args: "EMAIL ID", doc: "revoke an app password"},
	{path: "user fetch list", args: "EMAIL", doc: "the accounts elsewhere it collects mail from, and how that goes"},
	{path: "domain add", args: "DOMAIN", doc: "serve a domain (and make its DKIM keys)"},
	{path: "domain del", args: "DOMAIN", doc: "delete a domain"},
	{path: "domain list", doc: "list domains"},
	{path: "domain dns", args: "DOMAIN", doc: "the DNS records to publish (MX, SPF, DKIM, DMARC, SRV, autoconfig)"},
	{path: "alias add", args: "ALIAS TARGET…", doc: "deliver ALIAS's mail to the targets (ALIAS \"@domain\": catch-all)"},
	{path: "alias del", args: "ALIAS", doc: "delete an alias"},
	{path: "alias list", doc: "list aliases"},
	{path: "mailbox list", args: "EMAIL", doc: "an account's mailboxes with message counts and sizes"},
	{path: "mailbox create", args: "--shared ADDRESS [--member EMAIL[=read|write|full|RIGHTS]]… [--send-as]",
		doc: "a shared mailbox (support@): belongs to the domain, nobody logs in\nas it; members find it under \"Shared/ADDRESS/\" (default: write);\n--send-as: the members may send as ADDRESS"},
	{path: "mailbox seen", args: "EMAIL/MAILBOX [shared|per-user]",
		doc: "whether users the mailbox is shared with share its owner's \\Seen\nor each keep their own (the default); without a mode, shows it"},
	{path: "acl show", args: "EMAIL [MAILBOX]", doc: "who may use an account's mailboxes, with which rights (RFC 4314)"},
	{path: "acl set", args: "EMAIL MAILBOX|'*' IDENTIFIER read|write|full|[+-]RIGHTS",
		doc: "IDENTIFIER: an address, @domain, authenticated or anyone;\n'*': every mailbox of the account"},
	{path: "acl del", args: "EMAIL MAILBOX|'*' IDENTIFIER", doc: "remove an identifier's rights"},
	{path: "sieve check", args: "FILE", doc: "compile a Sieve script: \"ok\", or FILE:LINE:COLUMN: the first error (exit 1)"},
	{path: "sieve list", args: "EMAIL", doc: "the account's Sieve scripts; the active one is marked"},
	{path: "sieve show", args: "EMAIL NAME", doc: "print a script"},
	{path: "sieve put", args: "EMAIL NAME FILE|-", doc: "store a script (from standard input with -) if it compiles; replaces one of that name"},
	{path: "sieve activate", args: "EMAIL NAME|--none", doc: "make the script the one delivery runs (--none: no script runs)"},
	{path: "sieve delete", args: "EMAIL NAME", doc: "delete a script (not the active one)"},
	{path: "quota show", args: "EMAIL|DOMAIN|--default", doc: "usage and limits (RFC 9208 STORAGE and MESSAGE)"},
	{path: "quota set", args: "EMAIL|DOMAIN|--default [--storage 10GB|0|unlimited|inherit] [--messages N|0|unlimited|inherit]", doc: "change limits"},
	{path: "delegate grant", args: "OWNER GRANTEE --mode send-as|on-behalf", doc: "let an address or @domain send as OWNER (or on its behalf, with Sender:)"},
	{path: "delegate revoke", args: "OWNER GRANTEE", doc: "take a delegation back"},
	{path: "delegate list", args: "EMAIL", doc: "who may send as EMAIL, and as whom EMAIL may send"},
	{path: "delegate sent-copy", args: "OWNER delegate|both", doc: "also keep what delegates send in OWNER's Sent (both)"},
	{path: "annotation set", args: "NAME VALUE", doc: "a shared server annotation every IMAP user reads (METADATA),\ne.g. /shared/comment (message of the day), /shared/admin (mailto:…)"},
	{path: "annotation del", args: "NAME", doc: "delete a server annotation"},
	{path: "annotation list", doc: "the server annotations"},
	{path: "import", args: "[--folder MAILBOX] EMAIL MBOX|MAILDIR|MBOXDIR",
		doc: "bring existing mail in: an mbox file (mboxo, mboxrd, mboxcl2) or a Maildir++\ntree (or a directory of .mbox files, one per folder), with flags and folders;\nrun it again to resume (docs/operations.md)"},
	{path: "export", args: "[--format maildir|mbox] [--folder MAILBOX]… EMAIL DIR",
		doc: "write an account's mail out as a Maildir++ tree or one mbox file per folder,\nwith flags, keywords and dates; mailroom import reads it back (docs/operations.md)"},
	{path: "migrate", args: "EMAIL --from imaps://USER@HOST[:PORT] [--password-stdin|--password-file FILE] [--connections N] [--verify]",
		doc: "copy an account from another IMAP server, folders, flags and dates; run it again\nto copy what is new and update flags; --verify compares (docs/operations.md)"},
	{path: "reindex", args: "[--rebuild] [EMAIL]", doc: "index the mail the full-text index lacks (one account or all), with progress"},

	{section: "Outbound queue (mail for other domains)", path: "queue list", doc: "what waits, with the next attempt and last error"},
	{path: "queue show", args: "ID", doc: "one message, per recipient"},
	{path: "queue retry", args: "ID|all", doc: "try again now"},
	{path: "queue drop", args: "ID [--silent]", doc: "give up on a message (its sender gets a bounce unless --silent)"},

	{section: "Moving an installation (stop every server on both first)", path: "store copy", args: "--from DATA_DIR|DSN --to DATA_DIR|DSN", doc: "copy everything into an empty store, verified"},
	{path: "store verify", args: "--from DATA_DIR|DSN --to DATA_DIR|DSN", doc: "compare two stores as the copy's verification does"},

	{section: "Backups (docs/operations.md, \"Backups\")", path: "backup", args: "[--since PREVIOUS] DEST",
		doc: "a consistent snapshot while serve runs, into a new directory DEST;\n--since: hard-link the bodies an earlier backup has (SQLite)"},
	{path: "restore", args: "[--force] SRC", doc: "a backup into the configured, empty data directory or database, then verify it"},
	{path: "verify", args: "[--backup DIR]", doc: "check the store (or a backup): integrity, bodies, reference counts, UIDs,\nMODSEQs, quota usage; one line per problem, exit 1 on any"},

	{section: "Junk filter", path: "junk train", args: "--spam|--ham [--account EMAIL] FILE|DIR…", doc: "teach the shared base model (or one account's) a corpus"},
	{path: "junk stats", args: "[--account EMAIL]", doc: "what a model has learned"},
}

// usage is `mailroom help`.
var usage = usageOf("")

// usageOf lists the commands under prefix ("" for all, "user" for the
// user commands), one synopsis and its description each.
func usageOf(prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: mailroom %s\n", strings.TrimSpace(prefix+" COMMAND [ARGS]"))
	for _, c := range commands {
		if prefix != "" && c.path != prefix && !strings.HasPrefix(c.path, prefix+" ") {
			continue
		}
		if c.section != "" && prefix == "" {
			fmt.Fprintf(&b, "\n%s:\n", c.section)
		}
		writeSynopsis(&b, c)
	}
	if prefix != "" {
		fmt.Fprintf(&b, "\nRun \"mailroom %s COMMAND --help\" for a command's flags.\n", prefix)
	} else {
		b.WriteString("\nRun \"mailroom COMMAND --help\" for a command's flags.\n")
	}
	return b.String()
}

func writeSynopsis(b *strings.Builder, c command) {
	const col = 36
	syn := strings.TrimSpace(c.path + " " + c.args)
	lines := strings.Split(c.doc, "\n")
	if len(syn) < col-1 {
		fmt.Fprintf(b, "  %-*s %s\n", col-2, syn, lines[0])
	} else {
		fmt.Fprintf(b, "  %s\n%*s%s\n", syn, col+1, "", lines[0])
	}
	for _, l := range lines[1:] {
		fmt.Fprintf(b, "%*s%s\n", col+1, "", l)
	}
}

// lookupCommand is the table's entry for path.
func lookupCommand(path string) (command, bool) {
	for _, c := range commands {
		if c.path == path {
			return c, true
		}
	}
	return command{}, false
}

// isGroup tells whether path selects several commands ("user",
// "user app-password").
func isGroup(path string) bool {
	for _, c := range commands {
		if strings.HasPrefix(c.path, path+" ") {
			return true
		}
	}
	return false
}

// commandHelp is a command's --help: its synopsis, what it does and, from
// its flag set, its flags with their defaults.
func commandHelp(c command, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: mailroom %s\n", strings.TrimSpace(c.path+" "+c.args))
	for _, l := range strings.Split(c.doc, "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	if fs != nil {
		var flags bytes.Buffer
		out := fs.Output()
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		fs.SetOutput(out)
		if flags.Len() > 0 {
			b.WriteString("\nflags:\n")
			b.Write(flags.Bytes())
		}
	}
	return b.String()
}

// helpShown ends a command that was asked for its usage (--help, -help,
// -h): run prints text to standard output and exits 0.
type helpShown struct{ text string }

func (h helpShown) Error() string { return "help requested" }

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// groupHelp answers --help (or a missing subcommand's --help) for what the
// commands' own flag sets cannot: a group of commands ("mailroom user
// --help") and the commands without flags. Every other command's --help
// comes from its flag set, in parseFlags, so its flags are listed.
func groupHelp(args []string) (string, bool) {
	var path string
	for i, a := range args {
		if a == "--" {
			return "", false
		}
		if isHelpFlag(a) {
			if path == "" {
				return "", false
			}
			if c, ok := lookupCommand(path); ok {
				if c.noFlags {
					return commandHelp(c, nil), true
				}
				return "", false
			}
			return usageOf(path), true
		}
		if strings.HasPrefix(a, "-") || i > 0 && !isGroup(path) {
			return "", false
		}
		next := strings.TrimSpace(path + " " + a)
		if _, ok := lookupCommand(next); !ok && !isGroup(next) {
			return "", false
		}
		path = next
	}
	return "", false
}

// flagHelp turns flag.ErrHelp from fs into the command's usage, and an
// unknown or malformed flag into a usage error that shows it.
func flagHelp(fs *flag.FlagSet, err error) error {
	c, ok := lookupCommand(fs.Name())
	if !ok {
		// A subcommand the table lacks (mistyped, or never added to it).
		return usagef("unknown command %q (see mailroom help)", fs.Name())
	}
	if errors.Is(err, flag.ErrHelp) {
		return helpShown{commandHelp(c, fs)}
	}
	return usageError{msg: fmt.Sprintf("%s: %v", fs.Name(), err), usage: commandHelp(c, fs)}
}
