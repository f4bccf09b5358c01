package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"mailroom/internal/store"
)

// Mailbox is the shared in-memory state of one mailbox.
type Mailbox struct {
	id  int64
	reg *Service

	refs     int    // guarded by reg.mu
	released uint64 // reg.tick at the last release, guarded by reg.mu
	loaded   chan struct{}
	loadErr  error

	mu            sync.RWMutex
	uidValidity   uint32
	uidNext       uint32
	highestModSeq uint64
	msgs          []store.MessageMeta // sorted by UID
	deleted       bool
	serial        uint64          // bumped by every change
	loadedModSeq  uint64          // HIGHESTMODSEQ of the snapshot the state was loaded from
	recentUpTo    uint32          // UIDs up to this were \Recent for some session already
	keywords      []string        // every keyword of a message since load, in order of appearance
	keywordSet    map[string]bool // keywords, lower case
	watchers      map[*func()]struct{}
	sharedSeen    bool              // everyone uses the messages' own \Seen (store.Mailbox.SharedSeen)
	readers       map[int64]*reader // accounts other than the owner with a view open (seen.go)
	// behind: a resync failed (the store was away), so the state may lack
	// changes made since resyncFrom. Later events must not hide the gap
	// by moving highestModSeq past it: the next resync starts from
	// resyncFrom (see Service.retryBehind).
	behind     bool
	resyncFrom uint64

	threads threadKeys // sort and thread keys, see threadkeys.go
}

func (m *Mailbox) load(ctx context.Context) error {
	mb, list, err := m.reg.st.LoadMailbox(ctx, m.id)
	if err != nil {
		return err
	}
	m.reg.mu.Lock()
	mark, marked := m.reg.recentMarks[m.id]
	m.reg.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uidValidity, m.uidNext, m.highestModSeq = mb.UIDValidity, mb.UIDNext, mb.HighestModSeq
	m.sharedSeen = mb.SharedSeen
	m.loadedModSeq = mb.HighestModSeq
	m.msgs = list
	if n := len(list); n > 0 && list[n-1].UID >= m.uidNext {
		m.uidNext = list[n-1].UID + 1
	}
	// Messages present at load are not \Recent for anyone (the previous
	// process may have shown them already), except those that arrived
	// since a session last had the mailbox open in this process.
	m.recentUpTo = m.uidNext - 1
	if marked && mark < m.recentUpTo {
		m.recentUpTo = mark
	}
	for i := range m.msgs {
		m.addKeywords(m.msgs[i].Keywords)
	}
	return nil
}

// addKeywords records keywords in the mailbox's keyword list (m.mu held).
func (m *Mailbox) addKeywords(kws []string) {
	for _, k := range kws {
		lk := strings.ToLower(k)
		if m.keywordSet[lk] {
			continue
		}
		if m.keywordSet == nil {
			m.keywordSet = map[string]bool{}
		}
		m.keywordSet[lk] = true
		m.keywords = append(m.keywords, k)
	}
}

// RecentCount is the number of messages that are \Recent for the next
// session to select the mailbox (STATUS RECENT).
func (m *Mailbox) RecentCount() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, _ := m.find(m.recentUpTo + 1)
	return len(m.msgs) - i
}

// Keywords returns every keyword a message of the mailbox has had since it
// was loaded: a superset of those in use now.
func (m *Mailbox) Keywords() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.keywords)
}

// ID is the store's mailbox id.
func (m *Mailbox) ID() int64 { return m.id }

// State is a consistent snapshot of the mailbox counters.
type State struct {
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      int
}

// State returns the current counters.
func (m *Mailbox) State() State {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return State{UIDValidity: m.uidValidity, UIDNext: m.uidNext, HighestModSeq: m.highestModSeq, Messages: len(m.msgs)}
}

// Message returns the current state of one message by UID.
func (m *Mailbox) Message(uid uint32) (store.MessageMeta, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.find(uid)
	if !ok {
		return store.MessageMeta{}, false
	}
	return m.msgs[i], true
}

// Messages calls fn with the current state of each message of uids that
// is still there, in the order of uids, under one lock: for a command
// over many messages (SEARCH, SORT and THREAD of a whole mailbox), where
// the next UID is most often the next message, checked before searching.
// fn must not call the Mailbox.
func (m *Mailbox) Messages(uids []uint32, fn func(i int, meta store.MessageMeta)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	next := 0 // the index after the last message found
	for i, u := range uids {
		k, ok := next, next < len(m.msgs) && m.msgs[next].UID == u
		if !ok {
			k, ok = m.find(u)
		}
		if ok {
			fn(i, m.msgs[k])
			next = k + 1
		}
	}
}

func (m *Mailbox) find(uid uint32) (int, bool) {
	return slices.BinarySearchFunc(m.msgs, uid, func(x store.MessageMeta, u uint32) int {
		switch {
		case x.UID < u:
			return -1
		case x.UID > u:
			return 1
		}
		return 0
	})
}

// Watch calls wake after every change until stop is called: how a session
// in IDLE learns of changes without a goroutine of its own waiting for
// them. wake runs with the mailbox locked, so it must return at once and
// not call the Mailbox: it starts a goroutine or signals one.
func (m *Mailbox) Watch(wake func()) (stop func()) {
	key := &wake
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watchers == nil {
		m.watchers = map[*func()]struct{}{}
	}
	m.watchers[key] = struct{}{}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.watchers, key)
	}
}

// changed bumps the serial and wakes the watchers (m.mu held).
func (m *Mailbox) changed() {
	m.serial++
	for w := range m.watchers {
		(*w)()
	}
}

func (m *Mailbox) added(meta store.MessageMeta, seen store.SeenChange) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, found := m.find(meta.UID)
	switch {
	case found && m.msgs[i].ModSeq >= meta.ModSeq:
		return // the load's snapshot already had it, as it is now or newer
	case found:
		m.msgs[i] = meta
	case meta.ModSeq <= m.loadedModSeq:
		// Committed before the snapshot this state was loaded from, which
		// does not have it: it was expunged since. Events of commits just
		// before the load arrive after it.
		return
	default:
		m.msgs = slices.Insert(m.msgs, i, meta)
	}
	if meta.UID >= m.uidNext {
		m.uidNext = meta.UID + 1
	}
	m.highestModSeq = max(m.highestModSeq, meta.ModSeq)
	m.addKeywords(meta.Keywords)
	m.seenChanged(meta.UID, meta.ModSeq, seen)
	m.changed()
}

// flagsChanged applies a message's new flags and modseq, and the change of
// a reader's \Seen that came with them.
func (m *Mailbox) flagsChanged(meta store.MessageMeta, seen store.SeenChange) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, found := m.find(meta.UID)
	if !found || m.msgs[i].ModSeq >= meta.ModSeq {
		return // expunged meanwhile, or already newer
	}
	m.msgs[i].Flags, m.msgs[i].Keywords, m.msgs[i].ModSeq = meta.Flags, meta.Keywords, meta.ModSeq
	m.highestModSeq = max(m.highestModSeq, meta.ModSeq)
	m.addKeywords(meta.Keywords)
	m.seenChanged(meta.UID, meta.ModSeq, seen)
	m.changed()
}

func (m *Mailbox) expunged(uids []uint32, modseq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gone := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		gone[u] = true
	}
	m.msgs = slices.DeleteFunc(m.msgs, func(x store.MessageMeta) bool { return gone[x.UID] })
	m.highestModSeq = max(m.highestModSeq, modseq)
	m.reg.structures.forget(m.id, uids)
	m.reg.bodies.forget(m.id, uids)
	m.threads.forget(uids)
	m.forgetSeen(uids)
	m.changed()
}

func (m *Mailbox) markDeleted() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleted = true
	m.changed()
}

// resync reloads the mailbox's changes from the store after lost events or
// a change made by another process, with the readers' \Seen of the
// changed messages and the mailbox's mode (seen.go). When the store cannot
// be read, the mailbox is marked behind, and resynced from the same point
// later.
func (m *Mailbox) resync(ctx context.Context) {
	m.mu.RLock()
	since := m.highestModSeq
	if m.behind {
		since = min(since, m.resyncFrom)
	}
	m.mu.RUnlock()
	ch, err := m.reg.st.ChangesSince(ctx, m.id, since)
	var read []readerSeen
	if err == nil {
		read, err = m.readReaders(ctx, ch)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			m.markDeleted()
			return
		}
		m.mu.Lock()
		m.behind, m.resyncFrom = true, since
		m.mu.Unlock()
		m.reg.log.Error("index resync failed; retrying", "mailbox", m.id, "err", err)
		return
	}
	m.applyReaders(ch, read)
	for _, meta := range ch.Changed {
		if _, present := m.Message(meta.UID); present {
			m.flagsChanged(meta, store.SeenChange{})
		} else {
			m.added(meta, store.SeenChange{})
		}
	}
	if len(ch.Vanished) > 0 {
		m.expunged(ch.Vanished, ch.ModSeq)
	}
	m.mu.Lock()
	m.highestModSeq = max(m.highestModSeq, ch.ModSeq)
	m.behind = false
	m.mu.Unlock()
}

// isLoaded reports whether the mailbox's state was loaded (without waiting).
func (m *Mailbox) isLoaded() bool {
	select {
	case <-m.loaded:
		return m.loadErr == nil
	default:
		return false
	}
}

// isBehind reports whether a resync failed and has not succeeded since.
func (m *Mailbox) isBehind() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.behind
}

// String is for logs.
func (m *Mailbox) String() string { return fmt.Sprintf("mailbox %d", m.id) }

// Counts returns how many messages the mailbox holds and how many lack
// \Seen (a scan of the in-memory state, well under a millisecond for
// 100,000 messages).
func (m *Mailbox) Counts() (total, unseen int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := range m.msgs {
		if m.msgs[i].Flags&store.FlagSeen == 0 {
			unseen++
		}
	}
	return len(m.msgs), unseen
}

// Newest returns up to limit messages, newest (highest UID) first,
// skipping the offset newest: a page of a message list.
func (m *Mailbox) Newest(offset, limit int) []store.MessageMeta {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []store.MessageMeta
	for i := len(m.msgs) - 1 - offset; i >= 0 && len(out) < limit; i-- {
		out = append(out, m.msgs[i])
	}
	return out
}

// Each calls fn with the current state of every message, in UID order,
// until fn returns false: the messages as their owner sees them (a
// reader of a mailbox with private \Seen goes through View.Each). fn
// runs under the mailbox's lock and must not call it.
func (m *Mailbox) Each(fn func(meta store.MessageMeta) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, meta := range m.msgs {
		if !fn(meta) {
			return
		}
	}
}
