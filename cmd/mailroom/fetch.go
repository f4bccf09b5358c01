package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailroom/internal/store"
)

// cmdUserFetch shows the accounts' sources of collected mail
// (internal/mailfetch), for an operator answering "my old mail does not
// arrive". It never prints the remote password.
func cmdUserFetch(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 || args[0] != "list" {
		return usagef("usage: mailroom user fetch list EMAIL")
	}
	name := "user fetch list"
	f := newAdminFlags(name, false)
	pos, err := parseFlags(f.fs, args[1:])
	if err != nil {
		return err
	}
	if err := wantArgs(name, pos, 1, "EMAIL [--config FILE]"); err != nil {
		return err
	}
	return withStore(ctx, *f.config, func(st store.Store) error {
		acct, err := st.Account(ctx, pos[0])
		if err != nil {
			return err
		}
		srcs, err := st.FetchSources(ctx, acct.ID)
		if err != nil {
			return err
		}
		when := func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.Format(time.DateTime)
		}
		for _, s := range srcs {
			var opts []string
			if !s.Enabled {
				opts = append(opts, "paused")
			}
			if s.Delete {
				opts = append(opts, "delete")
			}
			if s.MarkRead {
				opts = append(opts, "mark-read")
			}
			if len(opts) == 0 {
				opts = append(opts, "leave")
			}
			fmt.Fprintf(sio.out, "%d %s://%s@%s:%d (%s) folder %q -> %q [%s]\n", s.ID, s.Protocol, s.Username, s.Host, s.Port,
				s.Security, s.Folder, s.Mailbox, strings.Join(opts, ","))
			fmt.Fprintf(sio.out, "  fetched %d, last attempt %s, last success %s, failures in a row %d\n",
				s.Fetched, when(s.LastAttempt), when(s.LastSuccess), s.Failures)
			if s.LastError != "" {
				fmt.Fprintf(sio.out, "  last error: %s\n", s.LastError)
			}
		}
		return nil
	})
}
