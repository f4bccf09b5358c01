package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailimport"
	"mailroom/internal/store/storeopen"
)

const importUsage = "usage: mailroom import [--folder MAILBOX] [--config FILE] EMAIL MBOX|MAILDIR|MBOXDIR"

// cmdImport is `mailroom import EMAIL PATH`: an mbox file or a Maildir
// (Maildir++) tree into an account. It works while serve runs, and an
// interrupted import is resumed by running it again: its progress is kept
// in data_dir/import.
func cmdImport(ctx context.Context, args []string, sio *stdio) error {
	f := newAdminFlags("import", false)
	folder := f.fs.String("folder", "INBOX", "the mailbox an mbox goes into (a Maildir's folders keep their names)")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("%s", importUsage)
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
	opts := mailimport.Options{
		Store: st, Account: pos[0], Source: pos[1], Folder: *folder,
		StateDir: filepath.Join(cfg.DataDir, "import"),
	}
	var pl *mailimport.ProgressLine
	if isTerminal(sio.err) {
		pl = mailimport.NewProgressLine(sio.err)
		opts.Progress = pl.Update
	}
	res, err := mailimport.Import(ctx, opts)
	if pl != nil {
		pl.Clear()
	}
	if res != nil {
		res.PrintSummary(sio.out, pos[1])
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("import interrupted: what is listed above is imported; run the same command again to import the rest")
	}
	if err != nil {
		return err
	}
	// The store indexes for search the text the mailbox service extracts
	// at delivery; the import delivers through the store, so its messages
	// are indexed here, as `mailroom reindex` would (only what the index
	// lacks, resumable the same way).
	if n, _ := res.Messages(); n > 0 {
		acct, err := st.Account(ctx, pos[0])
		if err != nil {
			return err
		}
		start := time.Now()
		svc := mailbox.NewService(st, nil, nil)
		err = svc.Reindex(ctx, acct.ID, nil)
		svc.Close()
		if err != nil {
			return fmt.Errorf("index the imported messages for search: %w (run mailroom reindex %s)", err, acct.Email)
		}
		fmt.Fprintf(sio.out, "indexed for search in %s\n", time.Since(start).Round(time.Millisecond))
	}
	return st.Close()
}
