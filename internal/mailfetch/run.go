package mailfetch

import (
	"context"
	"fmt"
	"io"
	"time"

	"mailroom/internal/store"
)

// dialPOP3Login connects to src and logs in.
func (f *Fetcher) dialPOP3Login(ctx context.Context, src store.FetchSource) (*pop3Client, error) {
	c, err := dialPOP3(ctx, addrOf(src), src.Security, f.tlsConfig(src.Host), f.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	if err := c.login(src.Username, src.Password); err != nil {
		c.Close()
		return nil, loginError(err)
	}
	return c, nil
}

// fetchPOP3 collects the messages whose unique ids are not recorded yet,
// and forgets the recorded ids no longer on the server.
func (f *Fetcher) fetchPOP3(ctx context.Context, acct store.Account, src store.FetchSource, res *Result) (err error) {
	c, err := f.dialPOP3Login(ctx, src)
	if err != nil {
		return err
	}
	defer c.Close()
	deleted := false
	defer func() {
		if err != nil && deleted {
			// A run that stops early (the quota, say) still ends the
			// session, so that the deletions of what it collected take
			// effect. Every message marked so far is recorded: even on
			// a connection out of step, QUIT can delete nothing that is
			// not stored here.
			c.quit()
		}
	}()
	msgs, err := c.list()
	if err != nil {
		return err
	}
	recorded, err := f.st.FetchedUIDs(ctx, src.ID)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(recorded))
	for _, u := range recorded {
		have[u] = true
	}
	present := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		present[m.UID] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		if store.CheckFetchUID(m.UID) != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("message %d has an unusable unique id and was left on the server", m.Num))
			continue
		}
		if have[m.UID] {
			if src.Delete {
				// Collected before, but a DELE was lost (the connection
				// ended before QUIT): delete it now.
				if err := c.dele(m.Num); err != nil {
					return err
				}
				deleted = true
			}
			continue
		}
		if m.Size > f.cfg.MaxMessageSize {
			res.tooBig(m.Size, f.cfg.MaxMessageSize)
			continue
		}
		var staged store.Staged
		err = c.retr(m.Num, func(r io.Reader) error {
			var err error
			staged, err = f.stage(ctx, r)
			return err
		})
		if err != nil {
			return fmt.Errorf("reading message %d: %w", m.Num, err)
		}
		delivered, err := f.deliver(ctx, acct, src, staged)
		if err != nil {
			return err
		}
		// Durable here: record it. A crash between the two collects it
		// again on the next run (at least once).
		if err := f.st.MarkFetched(ctx, src.ID, m.UID); err != nil {
			return err
		}
		have[m.UID] = true
		if delivered {
			res.Fetched++
		}
		if src.Delete {
			if err := c.dele(m.Num); err != nil {
				return err
			}
			deleted = true
		}
	}
	// The ids of messages gone from the server will not come back
	// (RFC 1939 7: a unique id is never reused): forget them, so that the
	// state stays as small as the maildrop.
	var gone []string
	for _, u := range recorded {
		if !present[u] {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 {
		if err := f.st.ForgetFetchedUIDs(ctx, src.ID, gone); err != nil {
			return err
		}
	}
	if err := c.quit(); err != nil && deleted {
		// The deletions happen at QUIT only: they are lost, and tried
		// again next time (the ids are recorded).
		res.Warnings = append(res.Warnings, "the server did not confirm the deletions: "+err.Error())
	}
	return nil
}

// testPOP3 logs in and counts the maildrop.
func (f *Fetcher) testPOP3(ctx context.Context, src store.FetchSource) (string, error) {
	c, err := f.dialPOP3Login(ctx, src)
	if err != nil {
		return "", err
	}
	defer c.Close()
	msgs, err := c.list()
	if err != nil {
		return "", fmt.Errorf("logged in, but %w", err)
	}
	c.quit()
	return fmt.Sprintf("Logged in. The mailbox holds %d messages.", len(msgs)), nil
}

// due reports whether src should run at now: Interval after its last
// attempt, longer after failures (twice as long for each failure in a
// row, up to a day), so that a wrong password does not knock at the
// other server every few minutes.
func (f *Fetcher) due(src store.FetchSource, now time.Time) bool {
	if !src.Enabled {
		return false
	}
	if src.LastAttempt.IsZero() {
		return true
	}
	wait := f.cfg.Interval
	for i := 1; i < src.Failures && wait < 24*time.Hour; i++ {
		wait *= 2
	}
	wait = min(wait, max(24*time.Hour, f.cfg.Interval))
	return !now.Before(src.LastAttempt.Add(wait))
}

// Run collects every due source until ctx ends, at most Concurrency at
// once on this node. Sources are looked at every minute (or Interval, if
// shorter), and at once after Wake.
func (f *Fetcher) Run(ctx context.Context) error {
	tick := min(time.Minute, f.cfg.Interval)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		f.sweep(ctx)
		select {
		case <-ctx.Done():
			f.waitIdle()
			return nil
		case <-t.C:
		case <-f.wake:
		}
	}
}

// Wake makes Run look at the sources now (a source was added).
func (f *Fetcher) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// waitIdle waits for the runs in progress to end (ctx has stopped them).
func (f *Fetcher) waitIdle() {
	for range cap(f.sem) {
		f.sem <- struct{}{}
	}
	for range cap(f.sem) {
		<-f.sem
	}
}

// sweep starts the due sources.
func (f *Fetcher) sweep(ctx context.Context) {
	srcs, err := f.st.FetchSources(ctx, 0)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("could not list the sources to collect mail from", "error", err)
		}
		return
	}
	now := time.Now()
	var accounts map[int64]store.Account
	for _, src := range srcs {
		if !f.due(src, now) {
			continue
		}
		if accounts == nil {
			list, err := f.st.Accounts(ctx)
			if err != nil {
				f.log.Warn("could not list the accounts", "error", err)
				return
			}
			accounts = make(map[int64]store.Account, len(list))
			for _, a := range list {
				accounts[a.ID] = a
			}
		}
		acct, ok := accounts[src.AccountID]
		if !ok || !f.claim(src.ID) {
			continue
		}
		select {
		case f.sem <- struct{}{}:
		case <-ctx.Done():
			f.unclaim(src.ID)
			return
		}
		go func() {
			defer func() { <-f.sem }()
			defer f.unclaim(src.ID)
			if _, err := f.runLeased(ctx, acct, src); err != nil && err != ErrBusy && ctx.Err() == nil {
				f.log.Debug("source not collected", "source", src.ID, "error", err)
			}
		}()
	}
}
