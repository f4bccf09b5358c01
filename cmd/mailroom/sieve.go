package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"mailroom/internal/sieve"
	"mailroom/internal/store"
)

// cmdSieve is `mailroom sieve`: the accounts' Sieve scripts, as
// ManageSieve clients and the webmail see them.
func cmdSieve(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usageError{msg: "usage: mailroom sieve check|list|show|put|activate|delete …", usage: usageOf("sieve")}
	}
	sub, args := args[0], args[1:]
	name := "sieve " + sub
	c, ok := lookupCommand(name)
	if !ok {
		return usagef("unknown command \"sieve %s\" (want check, list, show, put, activate or delete)", sub)
	}
	syntax := c.path + " " + c.args
	f := newAdminFlags(name, false)
	none := f.fs.Bool("none", false, "activate: leave no script active")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if *none && sub != "activate" {
		return usagef("--none goes with sieve activate only")
	}
	usage := func() error { return usagef("usage: mailroom %s (see mailroom %s --help)", syntax, name) }
	switch sub {
	case "check":
		if len(pos) != 1 {
			return usage()
		}
		content, err := readScript(pos[0], sio)
		if err != nil {
			return err
		}
		if err := checkScript(pos[0], content, sio); err != nil {
			return err
		}
		fmt.Fprintln(sio.out, "ok")
		return nil
	case "list":
		if len(pos) != 1 {
			return usage()
		}
		return withAccount(ctx, *f.config, pos[0], func(st store.Store, acct store.Account) error {
			list, err := st.SieveScripts(ctx, acct.ID)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintf(sio.out, "%s has no Sieve scripts\n", acct.Email)
			}
			for _, sc := range list {
				mark := ""
				if sc.Active {
					mark = "  (active)"
				}
				fmt.Fprintf(sio.out, "%s%s\n", sc.Name, mark)
			}
			return nil
		})
	case "show":
		if len(pos) != 2 {
			return usage()
		}
		return withAccount(ctx, *f.config, pos[0], func(st store.Store, acct store.Account) error {
			sc, err := st.SieveScript(ctx, acct.ID, pos[1])
			if err != nil {
				return scriptError(acct, pos[1], err)
			}
			_, err = io.WriteString(sio.out, sc.Content)
			return err
		})
	case "put":
		if len(pos) != 3 {
			return usage()
		}
		content, err := readScript(pos[2], sio)
		if err != nil {
			return err
		}
		// Checked before the store is opened: a script that does not
		// compile never replaces one that does.
		if err := checkScript(pos[2], content, sio); err != nil {
			return err
		}
		return withAccount(ctx, *f.config, pos[0], func(st store.Store, acct store.Account) error {
			if err := st.PutSieveScript(ctx, acct.ID, pos[1], content); err != nil {
				return scriptError(acct, pos[1], err)
			}
			fmt.Fprintf(sio.out, "stored %q for %s (%d octets)\n", pos[1], acct.Email, len(content))
			return nil
		})
	case "activate":
		if (len(pos) == 2) == *none || len(pos) < 1 || len(pos) > 2 {
			return usage()
		}
		return withAccount(ctx, *f.config, pos[0], func(st store.Store, acct store.Account) error {
			if *none {
				if err := st.SetActiveSieveScript(ctx, acct.ID, ""); err != nil {
					return err
				}
				fmt.Fprintf(sio.out, "no Sieve script is active for %s\n", acct.Email)
				return nil
			}
			// As ManageSieve's SETACTIVE: a script stored before the
			// interpreter changed must still compile to run.
			sc, err := st.SieveScript(ctx, acct.ID, pos[1])
			if err != nil {
				return scriptError(acct, pos[1], err)
			}
			if err := checkScript(pos[1], sc.Content, sio); err != nil {
				return err
			}
			if err := st.SetActiveSieveScript(ctx, acct.ID, pos[1]); err != nil {
				return scriptError(acct, pos[1], err)
			}
			fmt.Fprintf(sio.out, "%q is the active Sieve script of %s\n", pos[1], acct.Email)
			return nil
		})
	case "delete":
		if len(pos) != 2 {
			return usage()
		}
		return withAccount(ctx, *f.config, pos[0], func(st store.Store, acct store.Account) error {
			if err := st.DeleteSieveScript(ctx, acct.ID, pos[1]); err != nil {
				return scriptError(acct, pos[1], err)
			}
			fmt.Fprintf(sio.out, "deleted %q of %s\n", pos[1], acct.Email)
			return nil
		})
	}
	return usage()
}

// withAccount runs fn with the store and the account named email.
func withAccount(ctx context.Context, configPath, email string, fn func(store.Store, store.Account) error) error {
	return withStore(ctx, configPath, func(st store.Store) error {
		acct, err := st.Account(ctx, email)
		if err != nil {
			return fmt.Errorf("account %s: %w", email, err)
		}
		return fn(st, acct)
	})
}

// readScript reads a script file, or standard input for "-", up to one
// octet past what the store keeps (so that a larger one is told so).
func readScript(path string, sio *stdio) (string, error) {
	var r io.Reader = sio.in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, store.MaxSieveScriptSize+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > store.MaxSieveScriptSize {
		return "", fmt.Errorf("%s: a script may have at most %d octets", path, store.MaxSieveScriptSize)
	}
	return string(b), nil
}

// checkScript compiles a script; an error is printed as compilers print
// theirs (FILE:LINE:COLUMN: message, which editors jump to) and ends the
// command with exit status 1.
func checkScript(file, content string, sio *stdio) error {
	err := sieve.Check(content)
	if err == nil {
		return nil
	}
	var se *sieve.Error
	switch {
	case errors.As(err, &se) && se.Line > 0:
		fmt.Fprintf(sio.err, "%s:%d:%d: %s\n", file, se.Line, se.Column, se.Msg)
	case errors.As(err, &se):
		fmt.Fprintf(sio.err, "%s: %s\n", file, se.Msg)
	default:
		fmt.Fprintf(sio.err, "%s: %v\n", file, err)
	}
	return exitError{1}
}

// scriptError words a store error about one script for the command line.
func scriptError(acct store.Account, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s has no Sieve script %q (see mailroom sieve list %s)", acct.Email, name, acct.Email)
	case errors.Is(err, store.ErrSieveActive):
		return fmt.Errorf("%q is the active script of %s: make another one active, or none (mailroom sieve activate %s --none), first", name, acct.Email, acct.Email)
	case errors.Is(err, store.ErrSieveTooMany):
		return fmt.Errorf("%s has %d Sieve scripts, the most an account keeps", acct.Email, store.MaxSieveScripts)
	}
	return err
}
