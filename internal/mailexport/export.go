// Package mailexport writes an account's mail out as files other programs
// read: a Maildir++ tree (what Dovecot, Courier, mutt and mbsync use) or a
// directory of mbox files, one per folder. It is the mirror of
// internal/mailimport: what Export writes, `mailroom import` reads back
// into the same folders with the same bytes, flags, keywords and internal
// dates (docs/operations.md, "Moving mail out").
package mailexport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailroom/internal/mailimport"
	"mailroom/internal/store"
)

// Format is the kind of files Export writes.
type Format int

// The formats.
const (
	// Maildir: a Maildir++ tree; INBOX at the root, other folders as
	// ".Name.Sub" directories (names in IMAP's modified UTF-7, as Dovecot
	// writes them), one file per message, flags in the file name,
	// keywords through a dovecot-keywords file, the internal date as the
	// file's modification time.
	Maildir Format = iota
	// Mbox: one mboxrd file per folder, "Name/Sub.mbox"; flags and
	// keywords in Status, X-Status and X-Keywords fields, the internal
	// date in the "From " line.
	Mbox
)

// ParseFormat reads the --format flag.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "maildir":
		return Maildir, nil
	case "mbox":
		return Mbox, nil
	}
	return 0, fmt.Errorf("unknown export format %q (maildir or mbox)", s)
}

func (f Format) String() string {
	if f == Mbox {
		return "mbox"
	}
	return "maildir"
}

// Source is what Export reads: the store, or any part of it.
type Source interface {
	Account(ctx context.Context, email string) (store.Account, error)
	MailboxList(ctx context.Context, accountID int64) ([]store.Mailbox, error)
	MessageList(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error)
	OpenBody(ctx context.Context, mailboxID int64, uid uint32) (store.Body, error)
}

// Options says what to export where.
type Options struct {
	Store   Source
	Account string // the account's address
	// Dir is created; it must not exist or be empty, so an export never
	// mixes with other files.
	Dir    string
	Format Format
	// Folders limits the export to these mailboxes (and not their
	// children); empty: every mailbox of the account.
	Folders []string
	// Progress, if set, is called after every message.
	Progress func(Progress)
}

// Progress is how far an export is.
type Progress struct {
	Messages      int
	Bytes         int64 // of the messages as stored
	TotalMessages int
	Elapsed       time.Duration
}

// FolderResult is what one folder became.
type FolderResult struct {
	Name     string
	Path     string // the Maildir directory or mbox file, relative to Dir
	Messages int
	Bytes    int64 // written
	// LostKeywords counts keywords a Maildir folder could not carry: a
	// dovecot-keywords file has 26 letters (Dovecot's limit too).
	LostKeywords []string
	// Note says what the format could not keep as it was, if anything.
	Note string
}

// Result is what an export did.
type Result struct {
	Folders []FolderResult
	Elapsed time.Duration
}

// Messages is the number of messages written and their bytes.
func (r *Result) Messages() (n int, bytes int64) {
	for _, f := range r.Folders {
		n += f.Messages
		bytes += f.Bytes
	}
	return n, bytes
}

// folderWriter writes the messages of one folder.
type folderWriter interface {
	// add writes one message.
	add(m store.MessageMeta, body store.Body) (written int64, err error)
	// close finishes the folder (the keywords file, the mbox's last bytes).
	close() error
}

// Export writes the account's mail into Dir. On error (or cancellation)
// Dir holds what was written so far: remove it and run again.
func Export(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	acct, err := opts.Store.Account(ctx, opts.Account)
	if err != nil {
		return nil, fmt.Errorf("export: account %s: %w", opts.Account, err)
	}
	if err := emptyDir(opts.Dir); err != nil {
		return nil, err
	}
	boxes, err := opts.Store.MailboxList(ctx, acct.ID)
	if err != nil {
		return nil, fmt.Errorf("export: list mailboxes: %w", err)
	}
	boxes, err = selectFolders(boxes, opts.Folders)
	if err != nil {
		return nil, err
	}
	ex := &exporter{ctx: ctx, opts: opts, start: start, res: &Result{}}
	lists := make([][]store.MessageMeta, len(boxes))
	for i, mb := range boxes {
		lists[i], err = opts.Store.MessageList(ctx, mb.ID)
		if err != nil {
			return nil, fmt.Errorf("export: list %s: %w", mb.Name, err)
		}
		ex.progress.TotalMessages += len(lists[i])
	}
	for i, mb := range boxes {
		err := ex.folder(mb, lists[i])
		lists[i] = nil
		if err != nil {
			ex.res.Elapsed = time.Since(start)
			return ex.res, err
		}
	}
	ex.res.Elapsed = time.Since(start)
	return ex.res, nil
}

// selectFolders keeps the mailboxes named, in the order of the list.
func selectFolders(boxes []store.Mailbox, names []string) ([]store.Mailbox, error) {
	if len(names) == 0 {
		return boxes, nil
	}
	var out []store.Mailbox
	for _, n := range names {
		found := false
		for _, mb := range boxes {
			if mb.Name == n || mb.Name == "INBOX" && strings.EqualFold(n, "INBOX") {
				out = append(out, mb)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("export: no mailbox %q", n)
		}
	}
	return out, nil
}

// emptyDir makes dir, or accepts it if it exists and is empty.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("export: %s is not empty: export into a new directory", dir)
	}
	return nil
}

type exporter struct {
	ctx      context.Context
	opts     Options
	start    time.Time
	res      *Result
	progress Progress
}

func (ex *exporter) folder(mb store.Mailbox, msgs []store.MessageMeta) error {
	var (
		fw  folderWriter
		rel string
		err error
	)
	if ex.opts.Format == Mbox {
		rel, err = mailimport.MboxTreePath(mb.Name)
		if err == nil {
			fw, err = newMboxWriter(filepath.Join(ex.opts.Dir, rel))
		}
	} else {
		rel = maildirPath(mb.Name)
		fw, err = newMaildirWriter(filepath.Join(ex.opts.Dir, rel), msgs)
	}
	note := ""
	if ex.opts.Format == Maildir && strings.Contains(mb.Name, ".") {
		note = "Maildir++ reads the \".\" in this name as a level: it imports as " + strings.ReplaceAll(mb.Name, ".", store.Delimiter)
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", mb.Name, err)
	}
	fr := FolderResult{Name: mb.Name, Path: rel, Note: note}
	for _, m := range msgs {
		if err := ex.ctx.Err(); err != nil {
			fw.close()
			ex.res.Folders = append(ex.res.Folders, fr)
			return err
		}
		n, err := ex.message(fw, mb, m)
		if errors.Is(err, store.ErrNotFound) {
			// Expunged since the listing.
			continue
		}
		if err != nil {
			fw.close()
			ex.res.Folders = append(ex.res.Folders, fr)
			return fmt.Errorf("export %s UID %d: %w", mb.Name, m.UID, err)
		}
		fr.Messages++
		fr.Bytes += n
		ex.progress.Messages++
		ex.progress.Bytes += m.Size
		if ex.opts.Progress != nil {
			ex.progress.Elapsed = time.Since(ex.start)
			ex.opts.Progress(ex.progress)
		}
	}
	if mw, ok := fw.(*maildirWriter); ok {
		fr.LostKeywords = mw.lost
	}
	ex.res.Folders = append(ex.res.Folders, fr)
	if err := fw.close(); err != nil {
		return fmt.Errorf("export %s: %w", mb.Name, err)
	}
	return nil
}

func (ex *exporter) message(fw folderWriter, mb store.Mailbox, m store.MessageMeta) (int64, error) {
	body, err := ex.opts.Store.OpenBody(ex.ctx, mb.ID, m.UID)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	return fw.add(m, body)
}

// PrintSummary writes what an export did: per folder, notes, totals.
func (r *Result) PrintSummary(w io.Writer, dir string) {
	for _, f := range r.Folders {
		path := f.Path
		if path == "" {
			path = "." // a Maildir++ tree's INBOX is its root
		}
		fmt.Fprintf(w, "  %-24s %6d messages  %-10s %s\n", f.Name, f.Messages, store.FormatOctets(f.Bytes), path)
		if len(f.LostKeywords) > 0 {
			fmt.Fprintf(w, "    keywords not kept (a Maildir folder has 26): %s\n", strings.Join(f.LostKeywords, " "))
		}
		if f.Note != "" {
			fmt.Fprintf(w, "    %s\n", f.Note)
		}
	}
	n, size := r.Messages()
	rate := ""
	if s := r.Elapsed.Seconds(); s > 0 && n > 0 {
		rate = fmt.Sprintf(", %.0f messages/s", float64(n)/s)
	}
	fmt.Fprintf(w, "%s: exported %d messages (%s) in %s%s\n", dir, n, store.FormatOctets(size), r.Elapsed.Round(time.Millisecond), rate)
}
