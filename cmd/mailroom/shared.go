package main

import (
	"context"
	"fmt"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/store"
)

// Shared mailboxes and access rights for admins: `mailbox create
// --shared` makes a mailbox that belongs to a domain (support@), and
// `acl` shows and changes who may use any account's mailboxes — what
// users do themselves with IMAP's SETACL, for any account.

// memberFlags collects repeated --member EMAIL[=RIGHTS] flags.
type memberFlags []string

func (m *memberFlags) String() string     { return strings.Join(*m, ",") }
func (m *memberFlags) Set(v string) error { *m = append(*m, v); return nil }

// cmdMailboxCreate implements `mailbox create --shared ADDRESS`.
func cmdMailboxCreate(ctx context.Context, args []string, sio *stdio) error {
	const names = "--shared ADDRESS [--member EMAIL[=RIGHTS]]… [--send-as] [--config FILE]"
	f := newAdminFlags("mailbox create", false)
	shared := f.fs.Bool("shared", false, "a shared mailbox: belongs to the domain, nobody logs in as it")
	var members memberFlags
	f.fs.Var(&members, "member", "EMAIL[=RIGHTS]: give a member rights on every folder (default: write)")
	sendAs := f.fs.Bool("send-as", false, "let the members send as the shared address (mailroom delegate)")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("mailbox create", pos, 1, names); err != nil {
		return err
	}
	if !*shared {
		// A person's account is `user add`; a folder is made by its user.
		return usagef("usage: mailroom mailbox create %s (accounts of people: mailroom user add)", names)
	}
	type grant struct {
		id     string
		rights acl.Rights
	}
	var grants []grant
	for _, m := range members {
		who, spec, _ := strings.Cut(m, "=")
		id, rights, err := parseGrant(who, spec)
		if err != nil {
			return usagef("--member %s: %v", m, err)
		}
		grants = append(grants, grant{id, rights})
	}
	return withStore(ctx, *f.config, func(st store.Store) error {
		acct, err := st.CreateSharedAccount(ctx, pos[0])
		if err != nil {
			return fmt.Errorf("create shared mailbox %s: %w", pos[0], err)
		}
		fmt.Fprintf(sio.out, "created shared mailbox %s\n", acct.Email)
		for _, g := range grants {
			if err := setEverywhere(ctx, st, acct, g.id, acl.Replace, g.rights); err != nil {
				return err
			}
			fmt.Fprintf(sio.out, "%s may use it: %s\n", g.id, g.rights)
			if *sendAs {
				if err := st.GrantDelegation(ctx, acct.ID, g.id, store.SendAs); err != nil {
					return fmt.Errorf("let %s send as %s: %w", g.id, acct.Email, err)
				}
				fmt.Fprintf(sio.out, "%s may send as %s\n", g.id, acct.Email)
			}
		}
		return nil
	})
}

// parseGrant reads an identifier and a RIGHTS word: a preset (read,
// write, full) or rights letters (lrswipkxtea). An empty spec is write.
func parseGrant(who, spec string) (string, acl.Rights, error) {
	id, _, err := acl.Canonical(who)
	if err != nil {
		return "", 0, err
	}
	mod, rights, err := parseRights(spec)
	switch {
	case err != nil:
		return "", 0, err
	case mod != acl.Replace:
		return "", 0, fmt.Errorf("a new member's rights are given whole (read, write, full or letters), without + or -")
	}
	return id, rights, nil
}

// parseRights reads a RIGHTS argument: a preset, letters, or "+letters"
// or "-letters" to add or remove (RFC 4314 SETACL).
func parseRights(spec string) (acl.Modification, acl.Rights, error) {
	if spec == "" {
		spec = "write"
	}
	if p, ok := acl.PresetNamed(spec); ok {
		return acl.Replace, p.Rights, nil
	}
	return acl.ParseModification(spec)
}

// setEverywhere changes one identifier's rights on every mailbox of acct.
func setEverywhere(ctx context.Context, st store.Store, acct store.Account, id string, mod acl.Modification, rights acl.Rights) error {
	boxes, err := st.MailboxList(ctx, acct.ID)
	if err != nil {
		return err
	}
	for _, mb := range boxes {
		if _, err := st.ModifyACL(ctx, mb.ID, id, mod, rights); err != nil {
			return fmt.Errorf("rights of %s on %s: %w", id, mb.Name, err)
		}
	}
	return nil
}

func cmdACL(ctx context.Context, args []string, sio *stdio) error {
	const usageLine = "usage: mailroom acl show EMAIL [MAILBOX] | acl set EMAIL MAILBOX|'*' IDENTIFIER RIGHTS | acl del EMAIL MAILBOX|'*' IDENTIFIER"
	if len(args) == 0 {
		return usagef(usageLine)
	}
	sub, rest := args[0], args[1:]
	f := newAdminFlags("acl "+sub, false)
	pos, err := parseFlags(f.fs, rest)
	if err != nil {
		return err
	}
	switch sub {
	case "show":
		if len(pos) != 1 && len(pos) != 2 {
			return usagef(usageLine)
		}
		return withStore(ctx, *f.config, func(st store.Store) error { return showACL(ctx, st, sio, pos) })
	case "set", "del":
		want, names := 4, "EMAIL MAILBOX|'*' IDENTIFIER RIGHTS"
		if sub == "del" {
			want, names = 3, "EMAIL MAILBOX|'*' IDENTIFIER"
		}
		if err := wantArgs("acl "+sub, pos, want, names); err != nil {
			return err
		}
		id, _, err := acl.Canonical(pos[2])
		if err != nil {
			return usagef("acl %s: %v", sub, err)
		}
		mod, rights := acl.Replace, acl.Rights(0) // del: no rights left
		if sub == "set" {
			if mod, rights, err = parseRights(pos[3]); err != nil {
				return usagef("acl set: %v (rights are read, write, full or letters of lrswipkxtea, with + or - to add or remove)", err)
			}
		}
		return withStore(ctx, *f.config, func(st store.Store) error {
			acct, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if pos[1] == "*" {
				if err := setEverywhere(ctx, st, acct, id, mod, rights); err != nil {
					return err
				}
				return showACL(ctx, st, sio, pos[:1])
			}
			mb, err := st.Mailbox(ctx, acct.ID, pos[1])
			if err != nil {
				return err
			}
			if _, err := st.ModifyACL(ctx, mb.ID, id, mod, rights); err != nil {
				return fmt.Errorf("rights of %s on %s: %w", id, mb.Name, err)
			}
			return showACL(ctx, st, sio, pos[:2])
		})
	}
	return usagef(usageLine)
}

// showACL prints the lists of one mailbox, or of every mailbox of an
// account, one line per entry.
func showACL(ctx context.Context, st store.Store, sio *stdio, pos []string) error {
	acct, err := st.Account(ctx, pos[0])
	if err != nil {
		return err
	}
	var boxes []store.Mailbox
	if len(pos) == 2 {
		mb, err := st.Mailbox(ctx, acct.ID, pos[1])
		if err != nil {
			return err
		}
		boxes = []store.Mailbox{mb}
	} else if boxes, err = st.MailboxList(ctx, acct.ID); err != nil {
		return err
	}
	kind := "account"
	if acct.Shared {
		kind = "shared mailbox"
	}
	fmt.Fprintf(sio.out, "%s (%s)\n", acct.Email, kind)
	for _, mb := range boxes {
		entries, err := st.MailboxACL(ctx, mb.ID)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			fmt.Fprintf(sio.out, "  %-24s (not shared)\n", mb.Name)
			continue
		}
		for _, e := range entries {
			fmt.Fprintf(sio.out, "  %-24s %-32s %s\n", mb.Name, e.Identifier, e.Rights)
		}
	}
	return nil
}
