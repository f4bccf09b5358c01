package main

import (
	"context"
	"fmt"
	"time"

	"mailroom/internal/mailbox"
	"mailroom/internal/store"
	"mailroom/internal/store/storecopy"
)

const reindexUsage = "usage: mailroom reindex [--rebuild] [--config FILE] [EMAIL]"

// cmdReindex is `mailroom reindex [EMAIL]`: index the messages the
// full-text index lacks (stored before it existed, or by a copy), for one
// account or all, with a progress bar. --rebuild drops the index first
// and builds it again. It works while serve runs (the writes are short
// transactions, on either backend), and an interrupted run is resumed by
// running it again without --rebuild: what was indexed stays.
//
// A second pass regroups the account's conversations (thread ids) from
// the stored structures: mail stored before thread ids existed starts as
// one thread per message, and this joins replies to their threads. It is
// deterministic, so running it again changes nothing.
func cmdReindex(ctx context.Context, args []string, sio *stdio) error {
	f := newAdminFlags("reindex", false)
	rebuild := f.fs.Bool("rebuild", false, "drop the index of the account(s) and build it again")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("%s", reindexUsage)
	}
	return withStore(ctx, *f.config, func(st store.Store) error {
		var accountID int64
		who := "every account"
		if len(pos) == 1 {
			acct, err := st.Account(ctx, pos[0])
			if err != nil {
				return fmt.Errorf("account %s: %w", pos[0], err)
			}
			accountID, who = acct.ID, acct.Email
		}
		if *rebuild {
			if err := st.DropTextIndex(ctx, accountID); err != nil {
				return err
			}
		}
		svc := mailbox.NewService(st, nil, nil)
		defer svc.Close()
		pw := storecopy.NewProgressWriter(sio.err, isTerminal(sio.err))
		for _, step := range reindexSteps {
			start := time.Now()
			total := 0
			err := step.run(ctx, st, svc, accountID, func(done, n int) {
				total = n
				pw.Update(storecopy.Progress{Phase: step.name, Rows: int64(done), TotalRows: int64(n), Elapsed: time.Since(start)})
			})
			pw.Update(storecopy.Progress{Phase: step.name, Rows: int64(total), TotalRows: int64(total), Elapsed: time.Since(start), Done: err == nil})
			if err != nil {
				return fmt.Errorf("reindex %s: %s: %w", who, step.name, err)
			}
			if step.unit == "" {
				fmt.Fprintf(sio.out, "%s: %s: done in %s\n", who, step.name, time.Since(start).Round(time.Millisecond))
				continue
			}
			fmt.Fprintf(sio.out, "%s: %s: %d %s in %s\n", who, step.name, total, step.unit, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
}

// reindexSteps are the passes of a reindex, in order.
var reindexSteps = []struct {
	name, unit string
	run        func(ctx context.Context, st store.Store, svc *mailbox.Service, accountID int64, progress func(done, total int)) error
}{
	// The text the server extracted at delivery and indexes in the
	// background (all of it after an upgrade that changed the index's
	// form): minutes for 100,000 messages, so a step of its own rather
	// than a silent wait before the next one's progress. Every account's,
	// whichever was asked for: the store keeps one queue.
	{"text waiting for the index", "", func(ctx context.Context, st store.Store, _ *mailbox.Service, _ int64, _ func(done, total int)) error {
		return st.FlushText(ctx)
	}},
	{"full-text", "messages indexed", func(ctx context.Context, _ store.Store, svc *mailbox.Service, accountID int64, progress func(done, total int)) error {
		return svc.Reindex(ctx, accountID, progress)
	}},
	{"threads", "messages threaded", rethread},
}

// rethread regroups the conversations of one account, or of every
// account (accountID 0) one after the other, with one progress over all.
func rethread(ctx context.Context, st store.Store, _ *mailbox.Service, accountID int64, progress func(done, total int)) error {
	ids := []int64{accountID}
	if accountID == 0 {
		accts, err := st.Accounts(ctx)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		ids = ids[:0]
		for _, a := range accts {
			ids = append(ids, a.ID)
		}
	}
	base := 0
	for _, id := range ids {
		n, err := st.RethreadAccount(ctx, id, func(done, total int) {
			if progress != nil {
				progress(base+done, base+total)
			}
		})
		if err != nil {
			return fmt.Errorf("account %d: %w", id, err)
		}
		base += n
	}
	if progress != nil {
		progress(base, base)
	}
	return nil
}
