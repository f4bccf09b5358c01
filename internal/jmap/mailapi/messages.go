package mailapi

import (
	"context"
	"fmt"
	"sync"

	"mailroom/internal/acl"
	"mailroom/internal/jmap"
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

// where is a message's place, as a query of this request found it.
type where struct {
	mailbox int64
	uid     uint32
}

// hintsKey memoizes, per request and account, where the Emails a query
// answered are: the Email/get that follows (by a result reference, the
// usual pair) finds them in O(log n) each instead of scanning the account.
type hintsKey struct{ account int64 }

type hints struct {
	mu sync.Mutex
	at map[int64]where
}

func (a *API) hints(ctx context.Context, ac *acct) *hints {
	h, _ := jmap.Memo(ctx, hintsKey{ac.id}, func() (*hints, error) { return &hints{at: map[int64]where{}}, nil })
	return h
}

// remember notes where a query found Emails.
func (a *API) remember(ctx context.Context, ac *acct, found []hit) {
	h := a.hints(ctx, ac)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range found {
		h.at[f.meta.ID] = where{mailbox: ac.folders[f.folder].ID(), uid: f.meta.UID}
	}
}

// locate finds messages by their ids (MessageMeta.ID) in the account:
// first where this request's queries saw them (checked: a message moved
// since is not there any more), then by a pass over the account.
func (a *API) locate(ctx context.Context, ac *acct, ids map[int64]bool) (map[int64]located, error) {
	found := make(map[int64]located, len(ids))
	if len(ids) == 0 {
		return found, nil
	}
	h := a.hints(ctx, ac)
	h.mu.Lock()
	byMailbox := map[int64][]int64{}
	for id := range ids {
		if w, ok := h.at[id]; ok {
			byMailbox[w.mailbox] = append(byMailbox[w.mailbox], id)
		}
	}
	at := h.at
	h.mu.Unlock()
	for mbox, list := range byMailbox {
		i, ok := ac.byID[mbox]
		if !ok || ac.folders[i].Owner() != "" || !ac.folders[i].Rights().Has(acl.Read) {
			continue // a shared folder's \Seen may be the user's own: the pass reads it
		}
		box, err := a.svc.Open(ctx, mbox)
		if err != nil {
			return nil, fmt.Errorf("open mailbox %d: %w", mbox, err)
		}
		for _, id := range list {
			if meta, ok := box.Message(at[id].uid); ok && meta.ID == id && meta.Flags&store.FlagDeleted == 0 {
				found[id] = located{folder: i, meta: meta}
			}
		}
		a.svc.Release(box)
	}
	if len(found) == len(ids) {
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
