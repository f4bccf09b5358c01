package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"mailroom/internal/config"
	"mailroom/internal/imapmigrate"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailimport"
	"mailroom/internal/store/storeopen"
)

const migrateUsage = "usage: mailroom migrate [--config FILE] EMAIL --from imaps://USER@HOST[:PORT] [--password-stdin|--password-file FILE] [--connections N] [--insecure-tls] [--verify]"

// cmdMigrate is `mailroom migrate EMAIL --from imaps://user@host`: every
// folder of an account on another IMAP server into an account here, with
// flags and dates. Run again, it copies what is new and updates flags;
// with --verify it compares instead of copying. It works while serve
// runs; what was copied is kept in data_dir/import.
func cmdMigrate(ctx context.Context, args []string, sio *stdio) error {
	f := newAdminFlags("migrate", true)
	from := f.fs.String("from", "", "the source account: imaps://USER@HOST[:PORT] (TLS) or imap://… (STARTTLS required)")
	pwFile := f.fs.String("password-file", "", "read the source password from the first line of FILE")
	conns := f.fs.Int("connections", 4, "parallel connections to the source")
	insecure := f.fs.Bool("insecure-tls", false, "accept any certificate of the source (a test server's self-signed one)")
	verify := f.fs.Bool("verify", false, "copy nothing: compare every folder (counts, SHA-256 of each message, flags); exit 1 on a difference")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *from == "" {
		return usagef("%s", migrateUsage)
	}
	if *conns < 1 || *conns > 64 {
		return usagef("--connections: 1 to 64")
	}
	src, err := imapmigrate.ParseSource(*from)
	if err != nil {
		return usagef("--from: %v", err)
	}
	password, err := sourcePassword(sio, *f.passwordStdin, *pwFile)
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
	svc := mailbox.NewService(st, nil, nil)
	defer svc.Close()
	opts := imapmigrate.Options{
		Store: st, Mail: svc, Account: pos[0], Source: src, Password: password,
		InsecureTLS: *insecure, Connections: *conns,
		StateDir: filepath.Join(cfg.DataDir, "import"),
	}
	if *verify {
		verdicts, err := imapmigrate.Verify(ctx, opts)
		if err != nil {
			return err
		}
		bad := 0
		for _, v := range verdicts {
			fmt.Fprintln(sio.out, v)
			if !v.OK() {
				bad++
			}
		}
		if bad > 0 {
			return fmt.Errorf("verify: %d of %d folders differ from the source", bad, len(verdicts))
		}
		fmt.Fprintf(sio.out, "verify: all %d folders match the source\n", len(verdicts))
		return nil
	}
	var pl *mailimport.ProgressLine
	if isTerminal(sio.err) {
		pl = mailimport.NewProgressLine(sio.err)
		opts.Progress = func(p imapmigrate.Progress) { pl.Update(p.ImportProgress()) }
	}
	res, err := imapmigrate.Migrate(ctx, opts)
	if pl != nil {
		pl.Clear()
	}
	if res != nil {
		res.PrintSummary(sio.out, src.String())
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("migration interrupted: what is listed above is copied; run the same command again to copy the rest")
	}
	if err != nil {
		return err
	}
	svc.Close()
	return st.Close()
}

// sourcePassword reads the source account's password: from a file, one
// line of standard input, or the terminal without echo.
func sourcePassword(sio *stdio, fromStdin bool, file string) (string, error) {
	switch {
	case fromStdin && file != "":
		return "", usagef("--password-stdin or --password-file, not both")
	case file != "":
		fh, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer fh.Close()
		return passwordLine(fh, "empty source password")
	case fromStdin:
		return passwordLine(sio.in, "empty source password")
	}
	return promptPassword(sio, "Password of the source account: ", "pass the source password with --password-stdin or --password-file")
}
