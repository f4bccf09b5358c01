package main

import (
	"context"
	"flag"
	"time"

	"mailroom/internal/loadgen"
)

// benchFeed is "mailroom bench feed": loadgen.RunFeed, the latency from a
// delivery over SMTP on one node (--addr) to the untagged EXISTS of an
// IDLE session on another (--idle-addr).
func benchFeed(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("bench feed", flag.ContinueOnError)
	var o loadgen.FeedOptions
	fs.StringVar(&o.IMAPAddr, "idle-addr", "", "IMAP `HOST:PORT` of the node the IDLE session is on (plaintext LOGIN unless --idle-tls)")
	fs.BoolVar(&o.IMAPTLS, "idle-tls", false, "implicit TLS to --idle-addr")
	fs.StringVar(&o.SMTPAddr, "addr", "", "SMTP `HOST:PORT` of the node the messages are delivered to")
	fs.BoolVar(&o.Auth, "auth", false, "AUTH PLAIN as --user (a submission port)")
	fs.BoolVar(&o.SMTPStartTLS, "starttls", false, "STARTTLS before AUTH")
	fs.BoolVar(&o.Insecure, "insecure", false, "do not verify certificates")
	fs.StringVar(&o.User, "user", "user1@example.test", "the account: IDLE on its INBOX, messages to it")
	fs.StringVar(&o.Password, "password", "", "its password")
	fs.IntVar(&o.Count, "count", 1000, "deliveries, one at a time")
	fs.IntVar(&o.Size, "size", 1024, "body bytes")
	fs.DurationVar(&o.Gap, "gap", 0, "pause between one EXISTS and the next delivery")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "how long to wait for each EXISTS")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || o.IMAPAddr == "" || o.SMTPAddr == "" {
		return usagef("bench feed: --idle-addr and --addr are required")
	}
	rep, err := loadgen.RunFeed(ctx, o)
	if rep == nil {
		return err
	}
	var werr error
	if *asJSON {
		werr = rep.WriteJSON(sio.out)
	} else {
		werr = rep.WriteText(sio.out)
	}
	if err != nil {
		return err
	}
	return werr
}
