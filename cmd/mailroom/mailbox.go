package main

import (
	"context"
	"fmt"
	"strings"

	"mailroom/internal/store"
)

// cmdMailboxSeen is `mailroom mailbox seen EMAIL/MAILBOX [shared|per-user]`:
// whether the users a mailbox is shared with see one \Seen, the owner's
// (shared), or each their own (per-user, the default); without a mode it
// shows the mailbox's. As an administrator's command it needs no right; a
// user with the "a" right switches through the mailbox service instead.
func cmdMailboxSeen(ctx context.Context, args []string, sio *stdio) error {
	const names = "EMAIL/MAILBOX [shared|per-user] [--config FILE]"
	f := newAdminFlags("mailbox seen", false)
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 && len(pos) != 2 {
		return usagef("usage: mailroom mailbox seen %s", names)
	}
	owner, name, ok := strings.Cut(pos[0], store.Delimiter)
	if !ok || owner == "" || name == "" {
		return usagef("mailbox seen: %q is not EMAIL/MAILBOX (the owner's address, a slash, the owner's name for the mailbox)", pos[0])
	}
	var shared, set bool
	if len(pos) == 2 {
		switch pos[1] {
		case "shared":
			shared, set = true, true
		case "per-user":
			set = true
		default:
			return usagef("mailbox seen: unknown mode %q (want shared or per-user)", pos[1])
		}
	}
	return withStore(ctx, *f.config, func(st store.Store) error {
		acct, err := st.Account(ctx, owner)
		if err != nil {
			return err
		}
		mb, err := st.Mailbox(ctx, acct.ID, name)
		if err != nil {
			return err
		}
		if set {
			if err := st.SetSharedSeen(ctx, mb.ID, shared); err != nil {
				return err
			}
			mb.SharedSeen = shared
		}
		mode := "per-user: every user but the owner has their own \\Seen"
		if mb.SharedSeen {
			mode = "shared: every user sees and sets the owner's \\Seen"
		}
		fmt.Fprintf(sio.out, "%s/%s: %s\n", acct.Email, mb.Name, mode)
		return nil
	})
}
