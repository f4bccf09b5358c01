package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/mailexport"
	"mailroom/internal/mailimport"
)

const exportUsage = "usage: mailroom export [--format maildir|mbox] [--folder MAILBOX]… [--config FILE] EMAIL DIR"

// folderList is a repeatable --folder flag.
type folderList []string

func (f *folderList) String() string     { return strings.Join(*f, ",") }
func (f *folderList) Set(v string) error { *f = append(*f, v); return nil }

// cmdExport is `mailroom export EMAIL DIR`: an account's mail as a
// Maildir++ tree or a directory of mbox files, which `mailroom import`
// (and Dovecot, mutt, mbsync…) read back. It works while serve runs.
func cmdExport(ctx context.Context, args []string, sio *stdio) error {
	f := newAdminFlags("export", false)
	format := f.fs.String("format", "maildir", "maildir (a Maildir++ tree) or mbox (one mboxrd file per folder)")
	var folders folderList
	f.fs.Var(&folders, "folder", "export only this mailbox (repeat for more; default: all)")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("%s", exportUsage)
	}
	fm, err := mailexport.ParseFormat(*format)
	if err != nil {
		return usagef("%v", err)
	}
	st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := mailexport.Options{Store: st, Account: pos[0], Dir: pos[1], Format: fm, Folders: folders}
	var pl *mailimport.ProgressLine
	if isTerminal(sio.err) {
		pl = mailimport.NewProgressLine(sio.err)
		opts.Progress = func(p mailexport.Progress) {
			pl.Update(mailimport.Progress{Messages: p.Messages, Bytes: p.Bytes, TotalMessages: p.TotalMessages, Elapsed: p.Elapsed})
		}
	}
	res, err := mailexport.Export(ctx, opts)
	if pl != nil {
		pl.Clear()
	}
	if res != nil {
		res.PrintSummary(sio.out, pos[1])
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("export interrupted: %s holds part of the mail; remove it and run the command again", pos[1])
	}
	if err != nil {
		return err
	}
	return st.Close()
}
