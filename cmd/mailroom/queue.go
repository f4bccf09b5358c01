package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/delivery"
	"mailroom/internal/queue"
	"mailroom/internal/store"
	"mailroom/internal/store/storeopen"
)

// cmdQueue is `mailroom queue list|show|retry|drop`. It works on the store
// while serve runs: serve picks up a retry within seconds.
func cmdQueue(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom queue list|show ID|retry ID|all|drop ID [--silent] [--config FILE]")
	}
	sub, args := args[0], args[1:]
	name := "queue " + sub
	f := newAdminFlags(name, false)
	silent := f.fs.Bool("silent", false, "drop without bouncing the message to its sender")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if *silent && sub != "drop" {
		return usagef("--silent goes with queue drop only")
	}
	switch sub {
	case "list":
		if err := wantArgs(name, pos, 0, "[--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			msgs, err := st.QueuedMessages(ctx)
			if err != nil {
				return err
			}
			return printQueue(sio, msgs)
		})
	case "show":
		if err := wantArgs(name, pos, 1, "ID [--config FILE]"); err != nil {
			return err
		}
		id, err := queueID(pos[0])
		if err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			m, err := st.QueuedMessage(ctx, id)
			if err != nil {
				return err
			}
			return printQueued(sio, m)
		})
	case "retry":
		if err := wantArgs(name, pos, 1, "ID|all [--config FILE]"); err != nil {
			return err
		}
		var id int64
		if pos[0] != "all" {
			if id, err = queueID(pos[0]); err != nil {
				return err
			}
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			if id != 0 {
				if _, err := st.QueuedMessage(ctx, id); err != nil {
					return err
				}
			}
			n, err := st.RetryQueued(ctx, id, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%d recipient(s) due now; a running server tries them within seconds\n", n)
			return nil
		})
	case "drop":
		if err := wantArgs(name, pos, 1, "ID [--silent] [--config FILE]"); err != nil {
			return err
		}
		id, err := queueID(pos[0])
		if err != nil {
			return err
		}
		cfg, err := config.Load(*f.config)
		if err != nil {
			return err
		}
		st, err := storeopen.Open(ctx, cfg, storeopen.Options{})
		if err != nil {
			return err
		}
		defer st.Close()
		logger := slog.New(slog.DiscardHandler)
		q, err := queue.FromConfig(cfg, st, logger, nil)
		if err != nil {
			return err
		}
		// A bounce to a local sender is delivered here; to a remote one it
		// is queued, and the running server sends it.
		q.SetReturner(delivery.New(st, delivery.Config{
			PlusSeparator: cfg.SMTP.PlusSeparator, Postmaster: cfg.SMTP.Postmaster, Outbound: q, Hostname: cfg.Hostname, Logger: logger,
		}))
		m, err := q.Drop(ctx, id, *silent)
		if err != nil {
			return err
		}
		how := "its sender was sent a bounce"
		if *silent || m.From == "" {
			how = "no bounce sent"
		}
		fmt.Fprintf(sio.out, "message %d dropped (%d recipient(s) left undelivered); %s\n", id, len(m.Recipients), how)
		return nil
	}
	return usagef("unknown command \"queue %s\" (want list, show, retry or drop)", sub)
}

func queueID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a queue ID (see mailroom queue list)", s)
	}
	return id, nil
}

func printQueue(sio *stdio, msgs []store.QueuedMessage) error {
	if len(msgs) == 0 {
		fmt.Fprintln(sio.out, "the queue is empty")
		return nil
	}
	tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tQUEUED\tSIZE\tFROM\tRECIPIENTS\tNEXT ATTEMPT\tLAST ERROR")
	for _, m := range msgs {
		var rcpts []string
		var next time.Time
		lastErr := ""
		for _, r := range m.Recipients {
			rcpts = append(rcpts, r.Address)
			if next.IsZero() || r.NextAttempt.Before(next) {
				next = r.NextAttempt
			}
			if r.LastError != "" {
				lastErr = r.LastError
			}
		}
		from := m.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", m.ID, m.Created.Local().Format("2006-01-02 15:04"), m.Size, from,
			strings.Join(rcpts, ","), next.Local().Format("2006-01-02 15:04:05"), truncateRunes(lastErr, 60))
	}
	return tw.Flush()
}

func printQueued(sio *stdio, m store.QueuedMessage) error {
	from := m.From
	if from == "" {
		from = "<> (a bounce)"
	}
	fmt.Fprintf(sio.out, "id:        %d\nfrom:      %s\nqueued:    %s\nsize:      %d\n", m.ID, from, m.Created.Local().Format(time.RFC3339), m.Size)
	if m.EnvID != "" || m.Ret != "" {
		fmt.Fprintf(sio.out, "dsn:       ENVID=%s RET=%s\n", m.EnvID, m.Ret)
	}
	for _, r := range m.Recipients {
		fmt.Fprintf(sio.out, "recipient: %s\n  attempts:     %d\n  next attempt: %s\n", r.Address, r.Attempts, r.NextAttempt.Local().Format(time.RFC3339))
		if !r.LastAttempt.IsZero() {
			fmt.Fprintf(sio.out, "  last attempt: %s\n  last error:   %s\n", r.LastAttempt.Local().Format(time.RFC3339), r.LastError)
		}
		if !r.LeasedUntil.IsZero() && r.LeasedUntil.After(time.Now()) {
			fmt.Fprintf(sio.out, "  being sent now (leased until %s)\n", r.LeasedUntil.Local().Format(time.RFC3339))
		}
		if len(r.Notify) > 0 {
			fmt.Fprintf(sio.out, "  notify:       %s\n", strings.Join(r.Notify, ","))
		}
	}
	return nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
