package main

import (
	"context"
	"fmt"
	"strings"

	"mailroom/internal/store"
)

// cmdQuota is `mailroom quota show|set`: the limits of an account (an
// address), of a domain (its default for its accounts), or of the server
// (--default, the default of every domain).
func cmdQuota(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom quota show|set ACCOUNT|DOMAIN|--default …")
	}
	sub, args := args[0], args[1:]
	name := "quota " + sub
	f := newAdminFlags(name, false)
	def := f.fs.Bool("default", false, "the server's default, for every domain")
	storage := f.fs.String("storage", "", "storage limit: a size (10GB, 500MiB), 0, unlimited or inherit")
	messages := f.fs.String("messages", "", "message count limit: a number, 0, unlimited or inherit")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	var target string
	switch {
	case *def && len(pos) == 0:
	case !*def && len(pos) == 1:
		target = pos[0]
	default:
		return usagef("usage: mailroom %s ACCOUNT|DOMAIN|--default%s", name, map[bool]string{true: " [--storage LIMIT] [--messages LIMIT]"}[sub == "set"])
	}
	switch sub {
	case "show":
		if *storage != "" || *messages != "" {
			return usagef("quota show takes no limits (did you mean quota set?)")
		}
		return withStore(ctx, *f.config, func(st store.Store) error { return quotaShow(ctx, st, target, sio) })
	case "set":
		if *storage == "" && *messages == "" {
			return usagef("quota set needs --storage, --messages or both")
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			scope, what, err := quotaScope(ctx, st, target)
			if err != nil {
				return err
			}
			q, err := st.QuotaLimits(ctx, scope)
			if err != nil {
				return err
			}
			if *storage != "" {
				if q.Storage, err = store.ParseQuotaLimit(*storage, true); err != nil {
					return fmt.Errorf("--storage: %w", err)
				}
			}
			if *messages != "" {
				if q.Messages, err = store.ParseQuotaLimit(*messages, false); err != nil {
					return fmt.Errorf("--messages: %w", err)
				}
			}
			if err := st.SetQuotaLimits(ctx, scope, q); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%s: storage %s, messages %s\n", what, storageLimit(q.Storage), q.Messages)
			return nil
		})
	}
	return usagef("unknown command \"quota %s\" (want show or set)", sub)
}

// quotaScope reads a target: an address is an account, anything else a
// domain, "" the server.
func quotaScope(ctx context.Context, st store.Store, target string) (store.QuotaScope, string, error) {
	switch {
	case target == "":
		return store.QuotaScope{}, "server default", nil
	case strings.Contains(target, "@"):
		acct, err := st.Account(ctx, target)
		if err != nil {
			return store.QuotaScope{}, "", err
		}
		return store.QuotaScope{AccountID: acct.ID}, "account " + acct.Email, nil
	}
	d, err := st.Domain(ctx, target)
	if err != nil {
		return store.QuotaScope{}, "", err
	}
	return store.QuotaScope{Domain: d.Name}, "domain " + d.Name + " (default of its accounts)", nil
}

func storageLimit(l store.QuotaLimit) string {
	if l >= 0 {
		return store.FormatOctets(int64(l))
	}
	return l.String()
}

func quotaShow(ctx context.Context, st store.Store, target string, sio *stdio) error {
	scope, what, err := quotaScope(ctx, st, target)
	if err != nil {
		return err
	}
	q, err := st.QuotaLimits(ctx, scope)
	if err != nil {
		return err
	}
	fmt.Fprintf(sio.out, "%s\n", what)
	if scope.AccountID == 0 {
		fmt.Fprintf(sio.out, "  storage   limit %s\n  messages  limit %s\n", storageLimit(q.Storage), q.Messages)
		return nil
	}
	u, err := st.QuotaUsage(ctx, scope.AccountID)
	if err != nil {
		return err
	}
	fmt.Fprintf(sio.out, "  storage   %s (%d octets) of %s%s   own setting: %s\n", store.FormatOctets(u.Storage), u.Storage,
		storageLimit(u.Limits.Storage), percent(u.Storage, u.Limits.Storage), storageLimit(u.Own.Storage))
	fmt.Fprintf(sio.out, "  messages  %d of %s%s   own setting: %s\n", u.Messages, u.Limits.Messages,
		percent(u.Messages, u.Limits.Messages), u.Own.Messages)
	return nil
}

func percent(usage int64, limit store.QuotaLimit) string {
	if limit <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%d%%)", usage*100/int64(limit))
}
