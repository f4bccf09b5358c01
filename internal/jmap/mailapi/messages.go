package mailapi

import (
	"context"
	"fmt"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// located is one message where it is now.
type located struct {
	folder int // index in acct.folders
	meta   store.MessageMeta
}

// eachMessage calls fn with every message of the account's folders the
// user may read, as the user sees it (their own \Seen in a shared folder
// where it is private), skipping those with \Deleted (RFC 8621 §4.1.1),
// until fn returns false. It reads the mailbox service's shared state:
// what every protocol of this process wrote before is in it.
func (a *API) eachMessage(ctx context.Context, ac *acct, folders []int, fn func(folder int, meta store.MessageMeta) bool) error {
	if folders == nil {
		folders = make([]int, len(ac.folders))
		for i := range folders {
			folders[i] = i
		}
	}
	for _, i := range folders {
		f := ac.folders[i]
		if !f.Rights().Has(acl.Read) {
			continue
		}
		more := true
		each := func(meta store.MessageMeta) bool {
			if meta.Flags&store.FlagDeleted != 0 {
				return true
			}
			more = fn(i, meta)
			return more
		}
		if f.Owner() == "" {
			// The user's own: the messages' flags are theirs, and no
			// session view is needed.
			box, err := a.svc.Open(ctx, f.ID())
			if err != nil {
				return fmt.Errorf("open mailbox %d: %w", f.ID(), err)
			}
			box.Each(each)
			a.svc.Release(box)
		} else {
			// Another's: a view shows the user's own \Seen where it is private.
			v, err := ac.user.Select(ctx, f, mailbox.NoRecent)
			if err != nil {
				return fmt.Errorf("open mailbox %d: %w", f.ID(), err)
			}
			v.Each(each)
			v.Close()
		}
		if !more {
			break
		}
	}
	return nil
}

// locate finds messages by their ids (MessageMeta.ID) in the account.
func (a *API) locate(ctx context.Context, ac *acct, ids map[int64]bool) (map[int64]located, error) {
	found := make(map[int64]located, len(ids))
	if len(ids) == 0 {
		return found, nil
	}
	err := a.eachMessage(ctx, ac, nil, func(folder int, meta store.MessageMeta) bool {
		if ids[meta.ID] {
			found[meta.ID] = located{folder: folder, meta: meta}
		}
		return len(found) < len(ids)
	})
	return found, err
}
