package mailbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"mailroom/internal/mailbox/thread"
	"mailroom/internal/store"
)

// threadKeys caches, per mailbox, what sorting and threading read of each
// message (package thread's Message: sent date, size, subject, first
// addresses, message ids). A message's envelope never changes, so an entry
// stays right until the message is expunged, when the feed's expunge
// event drops it. Without it a SORT or THREAD of 100,000 messages reads
// and decodes 100,000 structures from the store, far more than the
// structure LRU holds: seconds each time instead of milliseconds.
//
// An entry keeps only the derived keys (thread.Message.Compact), with
// each distinct string (address key, base subject, message id) stored
// once for the mailbox: about 350 bytes a message in the memory test's
// mix (TestMemoryCommands), 35 MiB for 100,000, where the envelope
// fields and keys took some 960. It is held only for mailboxes a session
// has open and sorted or threaded: it is dropped when the last session
// releases the mailbox, so the idle mailboxes the service keeps loaded
// hold none.
type threadKeys struct {
	mu    sync.Mutex
	byUID map[uint32]*thread.Message
	// strs interns the entries' strings. Strings of expunged messages stay
	// until it is started afresh, when it grows past maxInternPerEntry a
	// message: entries made before then keep their (equal) copies.
	strs map[string]string
}

const maxInternPerEntry = 8

// put compacts m and adds it.
func (c *threadKeys) put(uid uint32, m *thread.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUID == nil {
		c.byUID = make(map[uint32]*thread.Message)
	}
	if c.strs == nil || len(c.strs) > maxInternPerEntry*(len(c.byUID)+1024) {
		c.strs = make(map[string]string)
	}
	m.Compact(c.intern)
	c.byUID[uid] = m
}

// intern returns the kept copy of s; a new one is cloned, so that it does
// not hold on to the larger string it may be part of (a References field).
func (c *threadKeys) intern(s string) string {
	if s == "" {
		return ""
	}
	if k, ok := c.strs[s]; ok {
		return k
	}
	s = strings.Clone(s)
	c.strs[s] = s
	return s
}

func (c *threadKeys) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byUID, c.strs = nil, nil
}

func (c *threadKeys) forget(uids []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range uids {
		delete(c.byUID, u)
	}
}

// ThreadInputs describes messages uids for package thread's sorting and
// threading, in the order given; each Message's Num is its UID. Messages
// no longer in the mailbox are left out. The descriptions are cached (see
// threadKeys) and shared: treat them as read-only. Only the first call
// for a message reads its structure.
func (m *Mailbox) ThreadInputs(ctx context.Context, uids []uint32) ([]*thread.Message, error) {
	out := make([]*thread.Message, 0, len(uids))
	m.threads.mu.Lock()
	for _, u := range uids {
		if tm := m.threads.byUID[u]; tm != nil {
			out = append(out, tm)
		} else {
			out = append(out, nil)
		}
	}
	m.threads.mu.Unlock()
	for i, u := range uids {
		if out[i] != nil {
			continue
		}
		meta, ok := m.Message(u)
		if !ok {
			continue
		}
		tm, err := m.threadInput(ctx, meta)
		if errors.Is(err, store.ErrNotFound) {
			continue // expunged meanwhile
		}
		if err != nil {
			return nil, err
		}
		m.threads.put(u, tm)
		out[i] = tm
	}
	// Drop the messages expunged meanwhile.
	return slices.DeleteFunc(out, func(tm *thread.Message) bool { return tm == nil }), nil
}

// threadInput reads one message's description. The structure LRU is used
// when it has the structure, but not filled: a sort of a large mailbox
// would only evict what FETCH needs.
func (m *Mailbox) threadInput(ctx context.Context, meta store.MessageMeta) (*thread.Message, error) {
	st, ok := m.reg.structures.get(messageKey{m.id, meta.UID})
	if !ok {
		var err error
		if st, err = m.reg.st.Structure(ctx, m.id, meta.UID); err != nil {
			return nil, fmt.Errorf("mailbox: sort keys of message %d: %w", meta.UID, err)
		}
	}
	tm := thread.Message{Num: meta.UID, Sent: meta.InternalDate, Arrival: meta.InternalDate, Size: meta.Size}
	if st.Root != nil && st.Root.Envelope != nil {
		tm = thread.FromEnvelope(meta.UID, st.Root.Envelope, meta.InternalDate, meta.Size)
	}
	// Collated keys and parsed ids are computed once, not per command.
	tm.Prepare()
	return &tm, nil
}
