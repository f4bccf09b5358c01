package main

import (
	"context"
	"fmt"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// cmdDelegate manages who may send as whom (store.Delegations) and where
// the copies of what delegates send go.
func cmdDelegate(ctx context.Context, args []string, sio *stdio) error {
	if len(args) == 0 {
		return usagef("usage: mailroom delegate grant|revoke|list|sent-copy …")
	}
	sub, args := args[0], args[1:]
	name := "delegate " + sub
	f := newAdminFlags(name, false)
	var mode *string
	if sub == "grant" {
		mode = f.fs.String("mode", "", "send-as (the owner's address in From:) or on-behalf (with the delegate in Sender:)")
	}
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "grant":
		if err := wantArgs(name, pos, 2, "OWNER GRANTEE --mode send-as|on-behalf [--config FILE]"); err != nil {
			return err
		}
		if *mode == "" {
			return usagef("%s: --mode send-as or --mode on-behalf is needed", name)
		}
		m, err := store.ParseDelegationMode(*mode)
		if err != nil {
			return usagef("%s: --mode %q: want send-as or on-behalf", name, *mode)
		}
		grantee, err := canonicalGrantee(name, pos[1])
		if err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			owner, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if err := st.GrantDelegation(ctx, owner.ID, grantee, m); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%s may send as %s (%s)\n", grantee, owner.Email, m)
			return nil
		})
	case "revoke":
		if err := wantArgs(name, pos, 2, "OWNER GRANTEE [--config FILE]"); err != nil {
			return err
		}
		grantee, err := canonicalGrantee(name, pos[1])
		if err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			owner, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if err := st.RevokeDelegation(ctx, owner.ID, grantee); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%s may no longer send as %s\n", grantee, owner.Email)
			return nil
		})
	case "list":
		if err := wantArgs(name, pos, 1, "EMAIL [--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			return listDelegations(ctx, st, pos[0], sio)
		})
	case "sent-copy":
		if err := wantArgs(name, pos, 2, "OWNER delegate|both [--config FILE]"); err != nil {
			return err
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			owner, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if err := st.SetSettings(ctx, owner.ID, map[string]string{store.SentCopySetting: pos[1]}); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%s: %s\n", owner.Email, sentCopyText(pos[1]))
			return nil
		})
	}
	return usagef("unknown command \"delegate %s\" (want grant, revoke, list or sent-copy)", sub)
}

// canonicalGrantee checks a grantee on the command line: an address or
// @domain, in any case.
func canonicalGrantee(cmd, grantee string) (string, error) {
	canon, kind, err := acl.Canonical(grantee)
	if err != nil || (kind != acl.KindAccount && kind != acl.KindDomain) {
		return "", usagef("%s: %q is not an address or @domain", cmd, grantee)
	}
	return canon, nil
}

// listDelegations prints who may send as the account, where copies go,
// and whom the account itself may send as.
func listDelegations(ctx context.Context, st store.Store, email string, sio *stdio) error {
	acct, err := st.Account(ctx, email)
	if err != nil {
		return err
	}
	grants, err := st.Delegations(ctx, acct.ID)
	if err != nil {
		return err
	}
	settings, err := st.Settings(ctx, acct.ID)
	if err != nil {
		return err
	}
	sendAs, err := st.DelegatedTo(ctx, acct.ID, acct.Email)
	if err != nil {
		return err
	}
	fmt.Fprintf(sio.out, "%-40s %s\n", "GRANTEE", "MODE")
	for _, g := range grants {
		fmt.Fprintf(sio.out, "%-40s %s\n", g.Grantee, g.Mode)
	}
	fmt.Fprintf(sio.out, "sent copies: %s\n", sentCopyText(settings.String(store.SentCopySetting)))
	if len(sendAs) > 0 {
		var owners []string
		for _, d := range sendAs {
			owners = append(owners, d.Owner+" ("+d.Mode.String()+")")
		}
		fmt.Fprintf(sio.out, "%s may send as: %s\n", acct.Email, strings.Join(owners, ", "))
	}
	return nil
}

func sentCopyText(v string) string {
	if v == store.SentCopyBoth {
		return "both (the delegate's Sent and the owner's)"
	}
	return "delegate (the delegate's Sent only)"
}
