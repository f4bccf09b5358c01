package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/loadgen"
)

// cmdBench runs the load generator against any server:
//
//	mailroom bench smtp --addr HOST:PORT [--tls|--starttls] [--insecure] --users 'user%d@example.test'
//	    --clients N --duration 30s|--cycles N [--first 1] [--count N] [--size 10240|--mbox FILE] [--reuse]
//	    [--auth --password pass] [--from ADDR] [--verify-imap HOST:PORT --password pass] [--json]
//	mailroom bench pop3 --addr HOST:PORT [--tls|--starttls] [--insecure] --users 'user%d@example.test'
//	    --password pass --clients N --duration 30s [--first 1] [--count N] [--retrieve all|top|none] [--delete] [--json]
//	mailroom bench imap --addr HOST:PORT --tls|--starttls [--insecure] --users 'user%d@example.test'
//	    --password pass --clients N --duration 30s [--first 1] [--count N] [--persistent]
//	    [--mix select=1,append=2,…] [--append-size 10240] [--mailbox INBOX] [--idle] [--json]
//	mailroom bench jmap --addr HOST:PORT [--tls] [--insecure] --users 'user%d@example.test'
//	    --password pass --clients N --duration 30s [--first 1] [--count N] [--limit 50]
//	    [--smtp HOST:PORT [--smtp-auth] [--smtp-starttls] [--push-every 5] [--push-gap 500ms]] [--json]   (benchjmap.go)
//	mailroom bench feed --idle-addr HOST:PORT --addr HOST:PORT --user USER --password PASS
//	    [--auth] [--count 1000] [--size 1024] [--gap 0] [--json]   (benchfeed.go)
//
// All but feed take --local-addrs IP,IP,… to spread the clients over source
// addresses (past a server's per-address connection limit).
func cmdBench(ctx context.Context, args []string, sio *stdio) error {
	if len(args) > 0 && args[0] == "feed" {
		return benchFeed(ctx, args[1:], sio)
	}
	if len(args) == 0 || args[0] != "smtp" && args[0] != "pop3" && args[0] != "imap" && args[0] != "jmap" {
		return usagef("usage: mailroom bench smtp|pop3|imap|jmap|feed --addr HOST:PORT [--tls|--starttls] --users PATTERN [--password PASS] --clients N --duration D")
	}
	switch args[0] {
	case "smtp":
		return benchSMTP(ctx, args[1:], sio)
	case "imap":
		return benchIMAP(ctx, args[1:], sio)
	case "jmap":
		return benchJMAP(ctx, args[1:], sio)
	}
	fs := flag.NewFlagSet("bench pop3", flag.ContinueOnError)
	var o loadgen.POP3Options
	commonBenchFlags(fs, &o.Options, "995", "STLS", "110")
	fs.StringVar(&o.Retrieve, "retrieve", "all", "all (RETR every message), top (TOP n 0) or none")
	fs.BoolVar(&o.Delete, "delete", false, "DELE every retrieved message")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 || o.Addr == "" {
		return usagef("bench pop3: --addr is required")
	}
	rep, err := loadgen.RunPOP3(ctx, o)
	if err != nil && rep == nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(sio.out)
	}
	return rep.WriteText(sio.out)
}

// benchIMAP is "mailroom bench imap": RunIMAP, or with --idle RunIMAPIdle,
// which says on stderr when every connection is in IDLE (the moment to
// measure the server) with a line starting "imap-idle: holding".
func benchIMAP(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("bench imap", flag.ContinueOnError)
	var o loadgen.IMAPOptions
	commonBenchFlags(fs, &o.Options, "993", "STARTTLS", "143")
	fs.BoolVar(&o.Persistent, "persistent", false, "one session per client, logged in once (default: LOGIN … LOGOUT every cycle)")
	mix := fs.String("mix", "", "operation weights per cycle, e.g. append=2,noop=0 (over the defaults: "+mixString(loadgen.DefaultIMAPMix())+")")
	fs.IntVar(&o.AppendSize, "append-size", 10240, "bytes of APPENDed messages")
	fs.IntVar(&o.Envelopes, "envelopes", 5, "how many of the newest messages fetch-envelope FETCHes")
	fs.StringVar(&o.Mailbox, "mailbox", "INBOX", "mailbox to work in")
	idle := fs.Bool("idle", false, "open --clients sessions, SELECT and IDLE, hold them for --duration, then DONE and LOGOUT")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || o.Addr == "" {
		return usagef("bench imap: --addr is required")
	}
	if o.Mix, err = parseMix(*mix); err != nil {
		return usagef("bench imap: --mix: %v", err)
	}
	var rep *loadgen.Report
	if *idle {
		o.IdleReady = func(n int) {
			fmt.Fprintf(sio.err, "imap-idle: holding %d of %d connections in IDLE for %v\n", n, o.Clients, o.Duration)
		}
		rep, err = loadgen.RunIMAPIdle(ctx, o)
	} else {
		rep, err = loadgen.RunIMAP(ctx, o)
	}
	if err != nil && rep == nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(sio.out)
	}
	return rep.WriteText(sio.out)
}

// benchSMTP is "mailroom bench smtp": RunSMTP. Messages the verification
// (--verify-imap) did not find make it fail after the report, so that a
// script notices the loss.
func benchSMTP(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("bench smtp", flag.ContinueOnError)
	var o loadgen.SMTPOptions
	commonBenchFlags(fs, &o.Options, "465", "STARTTLS", "587 or 25")
	fs.IntVar(&o.Cycles, "cycles", 0, "stop after this many messages in all (--duration then applies only if given)")
	fs.IntVar(&o.Size, "size", 10240, "body bytes of generated messages")
	fs.StringVar(&o.Mbox, "mbox", "", "send the messages of this mbox file in turn instead of generated ones")
	fs.BoolVar(&o.Reuse, "reuse", false, "many messages per connection (default: a connection per message)")
	fs.BoolVar(&o.Auth, "auth", false, "AUTH PLAIN as the sending user with --password (needs --tls or --starttls)")
	fs.StringVar(&o.From, "from", "", "envelope sender (default: the sending user)")
	fs.StringVar(&o.VerifyIMAP, "verify-imap", "", "after the run, count the messages in each recipient's INBOX over IMAP with implicit TLS at `HOST:PORT` (logs in with --password)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || o.Addr == "" {
		return usagef("bench smtp: --addr is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["size"] && set["mbox"] {
		return usagef("bench smtp: --size and --mbox exclude each other")
	}
	// "--cycles 1000" means all of them, not as many as fit in the
	// default 30 seconds.
	if o.Cycles > 0 && !set["duration"] {
		o.Duration = 0
	}
	rep, err := loadgen.RunSMTP(ctx, o)
	if err != nil && rep == nil {
		return err
	}
	if *asJSON {
		err = rep.WriteJSON(sio.out)
	} else {
		err = rep.WriteText(sio.out)
	}
	if v := rep.Verify; err == nil && v != nil && v.Missing > 0 {
		return fmt.Errorf("bench smtp: %d of %d accepted messages are not in their recipient's INBOX", v.Missing, v.Accepted)
	}
	return err
}

// commonBenchFlags defines the flags of every protocol's load; --starttls
// only with the protocol's command for it.
func commonBenchFlags(fs *flag.FlagSet, o *loadgen.Options, tlsPort, starttls, plainPort string) {
	fs.StringVar(&o.Addr, "addr", "", "server host:port")
	fs.BoolVar(&o.TLS, "tls", false, "implicit TLS (port "+tlsPort+")")
	if starttls != "" { // "" for a protocol without one (HTTP)
		fs.BoolVar(&o.StartTLS, "starttls", false, starttls+" after the greeting (port "+plainPort+")")
	}
	fs.BoolVar(&o.Insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&o.Users, "users", "user%d@example.test", "user name pattern with one %d")
	fs.IntVar(&o.UserFirst, "first", 1, "first user number")
	fs.IntVar(&o.UserCount, "count", 0, "number of users (default: --clients)")
	fs.StringVar(&o.Password, "password", "", "password of every user")
	fs.IntVar(&o.Clients, "clients", 10, "concurrent clients")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to run")
	fs.Func("local-addrs", "comma-separated source IPs the clients take turns with (e.g. 127.0.1.1,127.0.1.2)", func(s string) error {
		o.LocalAddrs = strings.Split(s, ",")
		return nil
	})
}

// parseMix parses "op=weight,…".
func parseMix(s string) (map[string]int, error) {
	if s == "" {
		return nil, nil
	}
	mix := map[string]int{}
	for item := range strings.SplitSeq(s, ",") {
		op, w, ok := strings.Cut(item, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil {
			return nil, fmt.Errorf("%q is not operation=weight", item)
		}
		mix[op] = n
	}
	return mix, nil
}

func mixString(mix map[string]int) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(mix)) {
		parts = append(parts, op+"="+strconv.Itoa(mix[op]))
	}
	return strings.Join(parts, ",")
}
