package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"mailroom/internal/config"
	"mailroom/internal/junkfilter"
	"mailroom/internal/store"
	"mailroom/internal/store/storeopen"
)

// maxTrainFile bounds one message file read by junk train (the
// tokenizer reads only the first MiB of a message anyway).
const maxTrainFile = 1 << 20

// cmdJunk manages the junk filter's models: seed the shared base model
// (or one account's) from a corpus, and show a model's size.
func cmdJunk(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom junk train|stats …")
	}
	sub, args := args[0], args[1:]
	f := newAdminFlags("junk "+sub, false)
	account := f.fs.String("account", "", "the account whose model to use (default: the shared base model)")
	var spam, ham *bool
	if sub == "train" {
		spam = f.fs.Bool("spam", false, "the messages are spam")
		ham = f.fs.Bool("ham", false, "the messages are not spam")
	}
	pos, err := parseFlags(f.fs, args)
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
	id := int64(store.JunkBaseModel)
	if *account != "" {
		acct, err := st.Account(ctx, *account)
		if err != nil {
			return fmt.Errorf("account %s: %w", *account, err)
		}
		id = acct.ID
	}
	switch sub {
	case "train":
		if *spam == *ham || len(pos) == 0 {
			return usagef("usage: mailroom junk train --spam|--ham [--account EMAIL] FILE|DIR… (one message per file, as in a Maildir)")
		}
		jf := junkfilter.New(st, junkfilter.Config{Threshold: cfg.Junk.Threshold, MaxTokens: cfg.Junk.MaxTokens})
		defer jf.Close()
		n, err := trainFiles(ctx, jf, id, pos, *spam)
		if err != nil {
			return err
		}
		fmt.Fprintf(sio.out, "learned %d messages as %s\n", n, map[bool]string{true: "spam", false: "ham"}[*spam])
		return printJunkStats(ctx, st, id, sio)
	case "stats":
		if len(pos) != 0 {
			return usagef("usage: mailroom junk stats [--account EMAIL]")
		}
		return printJunkStats(ctx, st, id, sio)
	}
	return usagef("usage: mailroom junk train|stats …")
}

// trainFiles teaches every regular file under paths, in batches so that
// a large corpus is never all in memory.
func trainFiles(ctx context.Context, jf *junkfilter.Filter, accountID int64, paths []string, spam bool) (int, error) {
	var files []string
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	sort.Strings(files)
	const batch = 256
	n := 0
	for len(files) > 0 {
		k := min(batch, len(files))
		var msgs [][]byte
		for _, name := range files[:k] {
			raw, err := readHead(name)
			if err != nil {
				return n, err
			}
			msgs = append(msgs, raw)
		}
		if err := jf.TrainCorpus(ctx, accountID, msgs, spam); err != nil {
			return n, err
		}
		n += k
		files = files[k:]
	}
	return n, nil
}

func readHead(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxTrainFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return raw, nil
}

func printJunkStats(ctx context.Context, st store.Store, accountID int64, sio *stdio) error {
	ms, err := st.JunkModels(ctx, []int64{accountID}, nil)
	if err != nil {
		return err
	}
	m := ms[0]
	name := "base model"
	if accountID != store.JunkBaseModel {
		name = "account model"
	}
	fmt.Fprintf(sio.out, "%s: %d spam and %d ham messages learned, %d tokens\n", name, m.Spam, m.Ham, m.Tokens)
	return nil
}
