package main

import (
	"context"
	"flag"
	"time"

	"mailroom/internal/loadgen"
)

// cmdBench runs the load generator against any server:
//
//	mailroom bench pop3 --addr HOST:PORT [--tls|--starttls] [--insecure] --users 'user%d@example.test'
//	    --password pass --clients N --duration 30s [--first 1] [--count N] [--retrieve all|top|none] [--delete] [--json]
//
// SMTP and IMAP load join as those drivers are written.
func cmdBench(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 || args[0] != "pop3" {
		return usagef("usage: mailroom bench pop3 --addr HOST:PORT [--tls|--starttls] --users PATTERN --password PASS --clients N --duration D")
	}
	fs := flag.NewFlagSet("bench pop3", flag.ContinueOnError)
	var o loadgen.POP3Options
	fs.StringVar(&o.Addr, "addr", "", "server host:port")
	fs.BoolVar(&o.TLS, "tls", false, "implicit TLS (port 995)")
	fs.BoolVar(&o.StartTLS, "starttls", false, "STLS after the greeting (port 110)")
	fs.BoolVar(&o.Insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&o.Users, "users", "user%d@example.test", "user name pattern with one %d")
	fs.IntVar(&o.UserFirst, "first", 1, "first user number")
	fs.IntVar(&o.UserCount, "count", 0, "number of users (default: --clients)")
	fs.StringVar(&o.Password, "password", "", "password of every user")
	fs.IntVar(&o.Clients, "clients", 10, "concurrent clients")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to run")
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
