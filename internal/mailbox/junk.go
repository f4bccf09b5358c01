package mailbox

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"

	"mailroom/internal/store"
)

// JunkTrainer learns from what users do with their mail: every protocol
// moves, copies and flags messages through the Service, so IMAP, the web
// and later JMAP all teach the junk filter the same way
// (internal/junkfilter implements it). It is told after the change is
// durable, and must return quickly: it queues the lesson.
type JunkTrainer interface {
	// Filed: messages were moved or copied from mailbox src into dst;
	// uids are their UIDs in dst.
	Filed(ctx context.Context, src, dst int64, uids []uint32)
	// Marked: the messages got the $Junk keyword (spam) or $NotJunk (or
	// one of their deprecated forms).
	Marked(ctx context.Context, mailboxID int64, uids []uint32, spam bool)
}

// The keywords that say a message is or is not junk: $Junk and $NotJunk
// (RFC 9051 section 2.3.2), and the deprecated forms the IANA keyword
// registry notes existing clients still set (Thunderbird's Junk and
// NonJunk among them).
var (
	junkKeywords    = []string{"$Junk", "Junk"}
	notJunkKeywords = []string{"$NotJunk", "NotJunk", "NonJunk"}
)

// junkTrainer holds the trainer; nil until SetJunkTrainer.
type junkTrainer struct{ p atomic.Pointer[JunkTrainer] }

func (j *junkTrainer) get() JunkTrainer {
	if t := j.p.Load(); t != nil {
		return *t
	}
	return nil
}

// SetJunkTrainer makes the Service tell t of moves, copies and junk
// keywords. Call it before serving.
func (r *Service) SetJunkTrainer(t JunkTrainer) { r.trainer.p.Store(&t) }

// filed tells the trainer of a successful move or copy.
func (r *Service) filed(ctx context.Context, src, dst int64, res store.CopyResult) {
	if t := r.trainer.get(); t != nil && len(res.DestUIDs) > 0 {
		t.Filed(ctx, src, dst, res.DestUIDs)
	}
}

// flagged tells the trainer of messages that got $Junk or $NotJunk. A
// request that sets both says nothing.
func (r *Service) flagged(ctx context.Context, mailboxID int64, upd store.FlagUpdate, res store.FlagResult) {
	t := r.trainer.get()
	if t == nil || upd.Op == store.FlagsRemove || len(res.Updated) == 0 {
		return
	}
	has := func(kws, any []string) bool {
		return slices.ContainsFunc(kws, func(x string) bool {
			return slices.ContainsFunc(any, func(k string) bool { return strings.EqualFold(x, k) })
		})
	}
	spam, ham := has(upd.Keywords, junkKeywords), has(upd.Keywords, notJunkKeywords)
	if spam == ham {
		return
	}
	ks := notJunkKeywords
	if spam {
		ks = junkKeywords
	}
	var uids []uint32
	for _, m := range res.Updated {
		if has(m.Keywords, ks) {
			uids = append(uids, m.UID)
		}
	}
	if len(uids) > 0 {
		t.Marked(ctx, mailboxID, uids, spam)
	}
}
