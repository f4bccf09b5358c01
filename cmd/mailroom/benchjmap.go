package main

import (
	"context"
	"flag"
	"time"

	"mailroom/internal/loadgen"
)

// benchJMAP is "mailroom bench jmap": RunJMAP against a web listener, with
// push probes when --smtp names where to deliver.
func benchJMAP(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("bench jmap", flag.ContinueOnError)
	var o loadgen.JMAPOptions
	commonBenchFlags(fs, &o.Options, "443, https", "", "")
	fs.IntVar(&o.Limit, "limit", 50, "messages Email/query lists (and Email/get reads) per cycle")
	fs.StringVar(&o.SMTPAddr, "smtp", "", "push probes: deliver over SMTP at `HOST:PORT` and time the 250 to the EventSource's state event")
	fs.BoolVar(&o.SMTPAuth, "smtp-auth", false, "push probes: AUTH PLAIN as the probe user (a submission port)")
	fs.BoolVar(&o.SMTPStartTLS, "smtp-starttls", false, "push probes: STARTTLS before AUTH")
	fs.IntVar(&o.PushEvery, "push-every", 5, "one push probe per this many clients; probes use the users after the clients'")
	fs.DurationVar(&o.PushGap, "push-gap", 500*time.Millisecond, "pause between a probe's deliveries")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || o.Addr == "" {
		return usagef("bench jmap: --addr is required")
	}
	rep, err := loadgen.RunJMAP(ctx, o)
	if err != nil && rep == nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(sio.out)
	}
	return rep.WriteText(sio.out)
}
