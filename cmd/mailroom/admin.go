package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"mailroom/internal/address"
	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/store"
	"mailroom/internal/store/storeopen"
)

// adminFlags are the flags every admin command takes.
type adminFlags struct {
	fs            *flag.FlagSet
	config        *string
	passwordStdin *bool
}

func newAdminFlags(name string, withPassword bool) adminFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	a := adminFlags{fs: fs, config: fs.String("config", config.DefaultPath, "configuration file")}
	if withPassword {
		a.passwordStdin = fs.Bool("password-stdin", false, "read the password as one line from standard input")
	}
	return a
}

// openStore opens the configured store for an admin command. It does not
// take serve's lock: both backends let the command and running servers
// write at once, and the servers see the changes through the change log.
func openStore(ctx context.Context, configPath string) (store.Store, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, err
	}
	return storeopen.Open(ctx, cfg, storeopen.Options{})
}

// withStore runs fn on the store named by the flags and closes it.
func withStore(ctx context.Context, configPath string, fn func(st store.Store) error) error {
	st, err := openStore(ctx, configPath)
	if err != nil {
		return err
	}
	err = fn(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func wantArgs(cmd string, pos []string, n int, names string) error {
	if len(pos) != n {
		return usagef("usage: mailroom %s %s", cmd, names)
	}
	return nil
}

func cmdUser(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom user add|del|list|passwd|set|get|app-password|fetch …")
	}
	sub, args := args[0], args[1:]
	name := "user " + sub
	switch sub {
	case "app-password":
		return cmdAppPassword(ctx, args, sio)
	case "fetch":
		return cmdUserFetch(ctx, args, sio)
	case "add", "passwd":
		f := newAdminFlags(name, true)
		pos, err := parseFlags(f.fs, args)
		if err != nil {
			return err
		}
		if err := wantArgs(name, pos, 1, "EMAIL [--password-stdin] [--config FILE]"); err != nil {
			return err
		}
		cfg, err := config.Load(*f.config)
		if err != nil {
			return err
		}
		// Check the account before asking for a password the user would type for nothing.
		return withStore(ctx, *f.config, func(st store.Store) error {
			var acct store.Account
			if sub == "passwd" {
				a, err := st.Account(ctx, pos[0])
				if err != nil {
					return err
				}
				if a.Shared {
					// A password would let nobody in (LookupCredentials
					// skips shared mailboxes); say what to do instead.
					return fmt.Errorf("%s is a shared mailbox: nobody logs in as it; give people access with mailroom acl set %s '*' EMAIL write", a.Email, a.Email)
				}
				acct = a
			} else {
				a, err := address.Parse(pos[0])
				if err != nil {
					return err
				}
				if _, err := st.Domain(ctx, a.Domain); err != nil {
					return err
				}
				if _, err := st.Account(ctx, pos[0]); err == nil {
					return fmt.Errorf("account %s already exists", a)
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			pw, err := readPassword(sio, *f.passwordStdin)
			if err != nil {
				return err
			}
			cred, err := auth.HashPassword(pw, auth.DefaultParams)
			if err != nil {
				return err
			}
			if cfg.POP3.APOP {
				cred.APOP = pw // what APOP needs; see pop3.apop in docs/configuration.md
			}
			if sub == "passwd" {
				if err := st.SetCredentials(ctx, acct.ID, cred); err != nil {
					return err
				}
				// As a change in the webmail does: a password reset after
				// a break-in must not leave the intruder's browser logged in.
				if err := st.DeleteAccountWebSessions(ctx, acct.ID, nil); err != nil {
					return err
				}
				fmt.Fprintf(sio.out, "password of %s changed; its webmail sessions were logged out\n", acct.Email)
				return nil
			}
			acct, err = st.CreateAccount(ctx, pos[0], cred)
			if err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "account %s created\n", acct.Email)
			return nil
		})
	case "del":
		f := newAdminFlags(name, false)
		pos, err := parseFlags(f.fs, args)
		if err != nil {
			return err
		}
		if err := wantArgs(name, pos, 1, "EMAIL [--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			if err := st.DeleteAccount(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "account %s deleted\n", pos[0])
			return nil
		})
	case "list":
		f := newAdminFlags(name, false)
		pos, err := parseFlags(f.fs, args)
		if err != nil {
			return err
		}
		if err := wantArgs(name, pos, 0, "[--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			accts, err := st.Accounts(ctx)
			if err != nil {
				return err
			}
			for _, a := range accts {
				if a.Shared {
					fmt.Fprintln(sio.out, a.Email, "(shared mailbox)")
				} else {
					fmt.Fprintln(sio.out, a.Email)
				}
			}
			return nil
		})
	case "set":
		f := newAdminFlags(name, false)
		pos, err := parseFlags(f.fs, args)
		if err != nil {
			return err
		}
		if len(pos) < 2 {
			return usagef("usage: mailroom user set EMAIL KEY=VALUE… [--config FILE]")
		}
		values := map[string]string{}
		for _, kv := range pos[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usagef("user set: %q is not KEY=VALUE", kv)
			}
			if strings.HasPrefix(k, "forward.") || strings.HasPrefix(k, "vacation.") {
				// Delivery no longer reads them: set here, they would do
				// nothing (docs/operations.md, "Filters").
				return usagef("user set: %s: forwarding and the vacation notice are Sieve filters now: set them in the webmail (Settings → Forwarding, Vacation notice) as the user, or upload a Sieve script (redirect, vacation) with ManageSieve", k)
			}
			values[k] = v
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			acct, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			return st.SetSettings(ctx, acct.ID, values)
		})
	case "get":
		f := newAdminFlags(name, false)
		pos, err := parseFlags(f.fs, args)
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
			settings, err := st.Settings(ctx, acct.ID)
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(settings))
			for k := range settings {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(sio.out, "%s=%s\n", k, settings[k])
			}
			return nil
		})
	}
	return usagef("unknown command \"user %s\" (want add, del, list, passwd, set, get, app-password or fetch)", sub)
}

// cmdAppPassword manages an account's app passwords: one per device or
// program, each revocable on its own.
func cmdAppPassword(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom user app-password add|list|del …")
	}
	sub, args := args[0], args[1:]
	name := "user app-password " + sub
	f := newAdminFlags(name, false)
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if err := wantArgs(name, pos, 2, "EMAIL NAME [--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			acct, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if acct.Shared {
				return fmt.Errorf("%s is a shared mailbox: nobody logs in as it, with any password; give people access with mailroom acl set %s '*' EMAIL write", acct.Email, acct.Email)
			}
			pw := auth.GenerateAppPassword()
			cred, err := auth.HashPassword(pw, auth.DefaultParams)
			if err != nil {
				return err
			}
			p, err := st.CreateAppPassword(ctx, acct.ID, pos[1], cred)
			if err != nil {
				return err
			}
			// The password alone on standard output, for scripts; it is
			// not stored anywhere, so this is the only time it is shown.
			fmt.Fprintf(sio.err, "app password %d %q of %s created; it is shown only this once:\n", p.ID, p.Name, acct.Email)
			fmt.Fprintln(sio.out, pw)
			return nil
		})
	case "list":
		if err := wantArgs(name, pos, 1, "EMAIL [--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			acct, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			ps, err := st.AppPasswords(ctx, acct.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%-6s %-20s %-20s %s\n", "ID", "CREATED", "LAST USED", "NAME")
			for _, p := range ps {
				used := "-"
				if !p.LastUsed.IsZero() {
					used = p.LastUsed.Format(time.DateTime)
				}
				fmt.Fprintf(sio.out, "%-6d %-20s %-20s %s\n", p.ID, p.Created.Format(time.DateTime), used, p.Name)
			}
			return nil
		})
	case "del":
		if err := wantArgs(name, pos, 2, "EMAIL ID [--config FILE]"); err != nil {
			return err
		}
		id, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil {
			return usagef("%s: %q is not an app password ID (see user app-password list)", name, pos[1])
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			acct, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if err := st.DeleteAppPassword(ctx, acct.ID, id); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "app password %d of %s deleted\n", id, acct.Email)
			return nil
		})
	}
	return usagef("unknown command \"user app-password %s\" (want add, list or del)", sub)
}

// readPassword reads a new password: one line from stdin with
// --password-stdin, else twice from the terminal without echo.
func readPassword(sio *stdio, fromStdin bool) (string, error) {
	if fromStdin {
		return passwordLine(sio.in, "empty password on standard input")
	}
	pw, err := promptPassword(sio, "Password: ", "pass the password with --password-stdin")
	if err != nil {
		return "", err
	}
	again, err := promptPassword(sio, "Repeat password: ", "")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match")
	}
	return pw, nil
}

// maxPasswordLine bounds a password read as a line: a file or a pipe
// without a newline is not read whole into memory.
const maxPasswordLine = 4096

// passwordLine reads a password as the first line of r.
func passwordLine(r io.Reader, empty string) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New(empty)
	}
	return pw, nil
}

// promptPassword reads a password from the terminal on standard input
// without echo; hint says what to do when standard input is not one.
func promptPassword(sio *stdio, prompt, hint string) (string, error) {
	f, ok := sio.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: " + hint)
	}
	fmt.Fprint(sio.err, prompt)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(sio.err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return "", errors.New("empty password")
	}
	return string(pw), nil
}

func cmdDomain(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom domain add|del|list|dns …")
	}
	sub, args := args[0], args[1:]
	name := "domain " + sub
	f := newAdminFlags(name, false)
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "dns":
		if err := wantArgs(name, pos, 1, "DOMAIN [--config FILE]"); err != nil {
			return err
		}
		return domainDNS(ctx, *f.config, pos[0], sio)
	case "add", "del":
		if err := wantArgs(name, pos, 1, "DOMAIN [--config FILE]"); err != nil {
			return err
		}
		cfg, err := config.Load(*f.config)
		if err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			if sub == "add" {
				d, err := st.CreateDomain(ctx, pos[0])
				if err != nil {
					return err
				}
				importDKIM(ctx, st, cfg, sio)
				keys, err := dkim.Generate(ctx, st, d.Name, time.Now())
				if err != nil {
					return fmt.Errorf("domain %s added, but its DKIM keys could not be generated: %w", d.Name, err)
				}
				fmt.Fprintf(sio.out, "domain %s added, DKIM selectors %s (Ed25519) and %s (RSA)\n", d.Name, keys.Ed25519Selector, keys.RSASelector)
				fmt.Fprintf(sio.out, "publish its DNS records: mailroom domain dns %s\n", d.Name)
				return nil
			}
			if err := st.DeleteDomain(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "domain %s deleted\n", pos[0])
			return nil
		})
	case "list":
		if err := wantArgs(name, pos, 0, "[--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			ds, err := st.Domains(ctx)
			if err != nil {
				return err
			}
			for _, d := range ds {
				fmt.Fprintln(sio.out, d.Name)
			}
			return nil
		})
	}
	return usagef("unknown command \"domain %s\" (want add, del, list or dns)", sub)
}

func cmdAlias(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom alias add|del|list …")
	}
	sub, args := args[0], args[1:]
	name := "alias " + sub
	f := newAdminFlags(name, false)
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if len(pos) < 2 {
			return usagef("usage: mailroom alias add ALIAS TARGET… [--config FILE]")
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			if err := st.AddAlias(ctx, pos[0], pos[1:]); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "alias %s -> %s\n", pos[0], strings.Join(pos[1:], ", "))
			return nil
		})
	case "del":
		if err := wantArgs(name, pos, 1, "ALIAS [--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			if err := st.DeleteAlias(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "alias %s deleted\n", pos[0])
			return nil
		})
	case "list":
		if err := wantArgs(name, pos, 0, "[--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			as, err := st.Aliases(ctx)
			if err != nil {
				return err
			}
			for _, a := range as {
				fmt.Fprintf(sio.out, "%s -> %s\n", a.Address, strings.Join(a.Targets, ", "))
			}
			return nil
		})
	}
	return usagef("unknown command \"alias %s\" (want add, del or list)", sub)
}

func cmdMailbox(ctx context.Context, args []string, sio *stdio) error {
	switch {
	case len(args) > 0 && args[0] == "create":
		return cmdMailboxCreate(ctx, args[1:], sio)
	case len(args) > 0 && args[0] == "seen":
		return cmdMailboxSeen(ctx, args[1:], sio)
	}
	if len(args) == 0 || args[0] != "list" {
		return usagef("usage: mailroom mailbox list EMAIL | mailbox create --shared ADDRESS [--member EMAIL[=RIGHTS]]… | mailbox seen EMAIL/MAILBOX [shared|per-user] [--config FILE]")
	}
	f := newAdminFlags("mailbox list", false)
	pos, err := parseFlags(f.fs, args[1:])
	if err != nil {
		return err
	}
	if err := wantArgs("mailbox list", pos, 1, "EMAIL [--config FILE]"); err != nil {
		return err
	}
	return withStore(ctx, *f.config, func(st store.Store) error {
		acct, err := st.Account(ctx, pos[0])
		if err != nil {
			return err
		}
		boxes, err := st.MailboxList(ctx, acct.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(sio.out, "%-30s %9s %9s %12s  %s\n", "MAILBOX", "MESSAGES", "UNSEEN", "BYTES", "SPECIAL-USE")
		for _, mb := range boxes {
			st, err := st.MailboxStatus(ctx, mb.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%-30s %9d %9d %12d  %s\n", mb.Name, st.Messages, st.Unseen, st.Size, mb.SpecialUse)
		}
		return nil
	})
}
