package main

import (
	"context"
	"fmt"
	"strings"

	"mailroom/internal/store"
)

// cmdAnnotation keeps the server's shared annotations (IMAP METADATA,
// RFC 5464 3.2.1.1): every user reads them (GETMETADATA ""), nobody sets
// them over IMAP — they are the administrator's, e.g. a message of the
// day in /shared/comment or the contact in /shared/admin.
func cmdAnnotation(ctx context.Context, args []string, sio *stdio) error {
	const use = "usage: mailroom annotation set NAME VALUE | del NAME | list [--config FILE]"
	if len(args) == 0 {
		return usagef(use)
	}
	sub := args[0]
	want := map[string]int{"set": 2, "del": 1, "list": 0}
	n, known := want[sub]
	if !known {
		return usagef("unknown command \"annotation %s\" (want set, del or list)", sub)
	}
	f := newAdminFlags("annotation "+sub, false)
	pos, err := parseFlags(f.fs, args[1:])
	if err != nil {
		return err
	}
	if err := wantArgs("annotation "+sub, pos, n, strings.TrimPrefix(use, "usage: mailroom annotation ")); err != nil {
		return err
	}
	var name string
	if n > 0 {
		name = strings.ToLower(pos[0])
		if !strings.HasPrefix(name, store.MetadataShared+"/") {
			return usagef("annotation %s: %q is not a shared entry (/shared/...): private entries are each user's own", sub, pos[0])
		}
	}
	return withStore(ctx, *f.config, func(st store.Store) error {
		switch sub {
		case "set":
			return st.SetMetadata(ctx, 0, 0, []store.MetadataEntry{{Name: name, Value: []byte(pos[1])}})
		case "del":
			return st.SetMetadata(ctx, 0, 0, []store.MetadataEntry{{Name: name}})
		}
		entries, err := st.GetMetadata(ctx, 0, 0, []string{store.MetadataShared}, store.MetadataDepthInfinity)
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintf(sio.out, "%s\t%q\n", e.Name, e.Value)
		}
		return nil
	})
}
