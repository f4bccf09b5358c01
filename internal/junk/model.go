package junk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Model holds learned counts: how many messages were learned as spam and
// as ham, and per token how many of each contained it. Tokens are kept
// only as a 64-bit hash (Hash), so memory is 16 bytes of counts per token
// plus the map's overhead, whatever the tokens' lengths, and a stored model
// reveals no words of the user's mail. Safe for concurrent use.
type Model struct {
	mu     sync.RWMutex
	nspam  uint32
	nham   uint32
	tokens map[uint64]entry
	// clock counts Learn calls; an entry's stamp is the clock when it was
	// last learned, so Prune can drop what was seen long ago first.
	clock uint32
}

// entry is one token's counts. stamp lives only in memory: a model loaded
// with Add starts with stamp 0 (oldest) for all it loaded.
type entry struct {
	spam, ham uint32
	stamp     uint32
}

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{tokens: make(map[uint64]entry)}
}

// Hash is the 64-bit FNV-1a hash of a token: the key a Model stores
// instead of the token. It is fixed (not seeded per process) because
// stored models must read the same after a restart.
func Hash(token string) uint64 {
	return hashString(fnvOffset, token)
}

// FNV-1a, written out so that a token can be hashed in pieces (prefix and
// word) without being built first.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func hashBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// Hashes returns the distinct hashes of tokens, in the order first seen:
// what Learn changes, for a caller that stores the model incrementally.
func Hashes(tokens []string) []uint64 {
	seen := make(map[uint64]struct{}, len(tokens))
	out := make([]uint64, 0, len(tokens))
	for _, t := range tokens {
		h := Hash(t)
		if _, dup := seen[h]; dup {
			continue
		}
		seen[h] = struct{}{}
		out = append(out, h)
	}
	return out
}

// Learn counts one message, given by its tokens (Tokens), as spam or ham.
// A token repeated in tokens counts once, as a message either contains a
// token or not.
func (m *Model) Learn(tokens []string, spam bool) {
	hs := Hashes(tokens)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	m.clock++
	if spam {
		m.nspam = addSat(m.nspam, 1)
	} else {
		m.nham = addSat(m.nham, 1)
	}
	for _, h := range hs {
		e := m.tokens[h]
		if spam {
			e.spam = addSat(e.spam, 1)
		} else {
			e.ham = addSat(e.ham, 1)
		}
		e.stamp = m.clock
		m.tokens[h] = e
	}
}

// Unlearn undoes a Learn of the same tokens and class, as when a user
// corrects a mistake: the message was learned as spam but is ham. Counts
// never go below zero (a model pruned since, or loaded without that
// message, may no longer hold what is unlearned), and a token whose counts
// reach zero is dropped.
func (m *Model) Unlearn(tokens []string, spam bool) {
	hs := Hashes(tokens)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if spam {
		m.nspam = subSat(m.nspam, 1)
	} else {
		m.nham = subSat(m.nham, 1)
	}
	for _, h := range hs {
		e, ok := m.tokens[h]
		if !ok {
			continue
		}
		if spam {
			e.spam = subSat(e.spam, 1)
		} else {
			e.ham = subSat(e.ham, 1)
		}
		m.put(h, e)
	}
}

// Counts returns the number of messages learned as spam and as ham.
func (m *Model) Counts() (spam, ham int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int(m.nspam), int(m.nham)
}

// Len returns the number of tokens the model holds.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tokens)
}

// Token returns the counts of one token hash (zero if unknown).
func (m *Model) Token(hash uint64) (spam, ham uint32) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.tokens[hash]
	return e.spam, e.ham
}

// Each calls fn for every token the model holds, in no particular order,
// under the model's read lock: fn must not call the model's methods.
func (m *Model) Each(fn func(hash uint64, spam, ham uint32)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for h, e := range m.tokens {
		fn(h, e.spam, e.ham)
	}
}

// Add adds counts to one token (negative to subtract; results are clamped
// to 0 … 2³²−1): how a stored model is loaded, or a stored delta applied.
func (m *Model) Add(hash uint64, spam, ham int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	e := m.tokens[hash]
	e.spam = addDelta(e.spam, spam)
	e.ham = addDelta(e.ham, ham)
	m.put(hash, e)
}

// AddMessages adds to the numbers of messages learned as spam and ham
// (negative to subtract, clamped like Add): the other half of loading a
// stored model.
func (m *Model) AddMessages(spam, ham int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nspam = addDelta(m.nspam, spam)
	m.nham = addDelta(m.nham, ham)
}

// Prune bounds the model to at most maxTokens tokens by dropping the least
// useful ones first: those seen in the fewest messages, and among equally
// rare ones those learned longest ago (or loaded, whose age is unknown).
// A token seen once is almost never a useful clue (Robinson's smoothing
// keeps it near neutral), which is why rarity goes first. It returns the
// number of tokens dropped.
func (m *Model) Prune(maxTokens int) int {
	if maxTokens < 0 {
		maxTokens = 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	excess := len(m.tokens) - maxTokens
	if excess <= 0 {
		return 0
	}
	type cand struct {
		hash  uint64
		total uint64
		stamp uint32
	}
	cs := make([]cand, 0, len(m.tokens))
	for h, e := range m.tokens {
		cs = append(cs, cand{h, uint64(e.spam) + uint64(e.ham), e.stamp})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.total != b.total:
			return cmpU64(a.total, b.total)
		case a.stamp != b.stamp:
			return cmpU64(uint64(a.stamp), uint64(b.stamp))
		}
		// Ties broken by hash so that pruning is deterministic.
		return cmpU64(a.hash, b.hash)
	})
	for _, c := range cs[:excess] {
		delete(m.tokens, c.hash)
	}
	return excess
}

// binaryMagic starts MarshalBinary's encoding; the digit is its version.
const binaryMagic = "MRJ1"

// MarshalBinary encodes the whole model compactly: the message counts,
// then the tokens sorted by hash, each as the varint delta from the
// previous hash and varint counts. For a shared base model kept as one
// file, or a per-account model stored whole.
func (m *Model) MarshalBinary() ([]byte, error) {
	m.mu.RLock()
	hs := make([]uint64, 0, len(m.tokens))
	for h := range m.tokens {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	b := make([]byte, 0, 16+len(hs)*10)
	b = append(b, binaryMagic...)
	b = binary.AppendUvarint(b, uint64(m.nspam))
	b = binary.AppendUvarint(b, uint64(m.nham))
	b = binary.AppendUvarint(b, uint64(len(hs)))
	var prev uint64
	for _, h := range hs {
		e := m.tokens[h]
		b = binary.AppendUvarint(b, h-prev)
		b = binary.AppendUvarint(b, uint64(e.spam))
		b = binary.AppendUvarint(b, uint64(e.ham))
		prev = h
	}
	m.mu.RUnlock()
	return b, nil
}

// ErrCorrupt is returned by UnmarshalBinary for data that is not a model.
var ErrCorrupt = errors.New("junk: corrupt model encoding")

// UnmarshalBinary replaces the model's contents with an encoding from
// MarshalBinary. Bad input gives an error wrapping ErrCorrupt and leaves
// the model unchanged; memory stays bounded by the input's length (every
// token takes at least three bytes).
func (m *Model) UnmarshalBinary(data []byte) error {
	if len(data) < len(binaryMagic) || string(data[:len(binaryMagic)]) != binaryMagic {
		return fmt.Errorf("junk: unmarshal model: %w: bad magic", ErrCorrupt)
	}
	d := data[len(binaryMagic):]
	var err error
	next := func(what string, limit uint64) uint64 {
		if err != nil {
			return 0
		}
		v, n := binary.Uvarint(d)
		if n <= 0 {
			err = fmt.Errorf("junk: unmarshal model: %w: truncated %s", ErrCorrupt, what)
			return 0
		}
		if v > limit {
			err = fmt.Errorf("junk: unmarshal model: %w: %s out of range", ErrCorrupt, what)
			return 0
		}
		d = d[n:]
		return v
	}
	nspam := uint32(next("spam count", math.MaxUint32))
	nham := uint32(next("ham count", math.MaxUint32))
	count := next("token count", uint64(len(d))/3)
	if err != nil {
		return err
	}
	tokens := make(map[uint64]entry, count)
	var h uint64
	for i := uint64(0); i < count; i++ {
		delta := next("hash", math.MaxUint64)
		s := uint32(next("token spam count", math.MaxUint32))
		hm := uint32(next("token ham count", math.MaxUint32))
		if err != nil {
			return err
		}
		if i > 0 && delta == 0 {
			return fmt.Errorf("junk: unmarshal model: %w: duplicate hash", ErrCorrupt)
		}
		h += delta
		if s != 0 || hm != 0 {
			tokens[h] = entry{spam: s, ham: hm}
		}
	}
	if len(d) != 0 {
		return fmt.Errorf("junk: unmarshal model: %w: %d trailing bytes", ErrCorrupt, len(d))
	}
	m.mu.Lock()
	m.nspam, m.nham, m.tokens, m.clock = nspam, nham, tokens, 0
	m.mu.Unlock()
	return nil
}

// init makes the zero Model usable; called with the write lock held.
func (m *Model) init() {
	if m.tokens == nil {
		m.tokens = make(map[uint64]entry)
	}
}

// put stores e, or drops the token when both counts are zero so that
// unlearned tokens take no space. Called with the write lock held.
func (m *Model) put(h uint64, e entry) {
	if e.spam == 0 && e.ham == 0 {
		delete(m.tokens, h)
		return
	}
	m.tokens[h] = e
}

func addSat(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint32
}

func subSat(a, b uint32) uint32 {
	if a < b {
		return 0
	}
	return a - b
}

func addDelta(a uint32, d int32) uint32 {
	v := int64(a) + int64(d)
	switch {
	case v < 0:
		return 0
	case v > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(v)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
