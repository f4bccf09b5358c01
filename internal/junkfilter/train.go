package junkfilter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"mailroom/internal/junk"
	"mailroom/internal/store"
)

// The keywords of RFC 9051 section 2.3.2 (registered by RFC 5788's
// registry) that say a message is or is not junk. Clients set them, and
// the trainer sets them on what it learned, so every client shows it.
const (
	KeywordJunk    = "$Junk"
	KeywordNotJunk = "$NotJunk"
)

// Training runs after the user's operation committed, in one goroutine
// fed by a bounded queue, so a MOVE or a STORE never waits for tokenizing
// and writing counts. The events carry only mailbox IDs and UIDs; the
// trainer reads what it needs from the store. If the queue is full (a
// flood of moves), the operation that reports an event waits for room
// rather than drop it; the events still queued when the process crashes
// are lost (the messages stay where the user put them, untrained), and
// Close trains everything queued before it returns.

type eventKind int

const (
	filed  eventKind = iota // moved or copied from src into dst
	marked                  // $Junk or $NotJunk set
)

type event struct {
	kind     eventKind
	src, dst int64
	uids     []uint32
	spam     bool // marked: $Junk rather than $NotJunk
}

// Filed implements mailbox.JunkTrainer: messages were moved or copied
// from the mailbox src into dst, where their UIDs are uids. Into Junk
// teaches spam; out of Junk into any mailbox but Trash teaches ham (a
// message thrown away says nothing about it); anything else is no lesson.
func (f *Filter) Filed(ctx context.Context, src, dst int64, uids []uint32) {
	f.enqueue(ctx, event{kind: filed, src: src, dst: dst, uids: uids})
}

// Marked implements mailbox.JunkTrainer: the messages uids of mailboxID
// got the $Junk keyword (spam) or $NotJunk.
func (f *Filter) Marked(ctx context.Context, mailboxID int64, uids []uint32, spam bool) {
	f.enqueue(ctx, event{kind: marked, dst: mailboxID, uids: uids, spam: spam})
}

func (f *Filter) enqueue(ctx context.Context, e event) {
	if len(e.uids) == 0 {
		return
	}
	f.mu.Lock()
	f.pending++
	f.mu.Unlock()
	// sendMu makes Close wait for sends in progress, so the trainer's
	// final drain sees every event that was queued.
	f.sendMu.RLock()
	sent := false
	if !f.closed {
		select {
		case f.queue <- e:
			sent = true
		case <-ctx.Done():
		}
	}
	f.sendMu.RUnlock()
	if !sent {
		f.log.Warn("junk filter: a training event was dropped", "mailbox", e.dst, "messages", len(e.uids))
		f.doneOne()
	}
}

func (f *Filter) doneOne() {
	f.mu.Lock()
	f.pending--
	if f.pending == 0 {
		f.idle.Broadcast()
	}
	f.mu.Unlock()
}

// Flush waits until every event reported before it is trained (tests,
// and an orderly shutdown).
func (f *Filter) Flush() {
	f.mu.Lock()
	for f.pending > 0 {
		f.idle.Wait()
	}
	f.mu.Unlock()
}

// Close trains what is queued and stops the trainer. Events reported
// after Close are dropped.
func (f *Filter) Close() { f.Shutdown(context.Background()) }

// Shutdown is Close within ctx: when ctx ends first, the lesson in
// progress is cut short and those still queued are dropped (lost, as in a
// crash), so a long queue cannot hold up a server's shutdown.
func (f *Filter) Shutdown(ctx context.Context) {
	f.close.Do(func() {
		f.sendMu.Lock()
		f.closed = true
		f.sendMu.Unlock()
		close(f.closing)
	})
	select {
	case <-f.done:
	case <-ctx.Done():
		f.abort()
		<-f.done
	}
}

// train is the trainer goroutine.
func (f *Filter) train() {
	defer close(f.done)
	for {
		select {
		case e := <-f.queue:
			f.handle(e)
		case <-f.closing:
			for {
				select {
				case e := <-f.queue:
					if f.ctx.Err() != nil {
						f.log.Warn("junk filter: shutting down: a training event was dropped", "mailbox", e.dst, "messages", len(e.uids))
						f.doneOne()
						continue
					}
					f.handle(e)
				default:
					return
				}
			}
		}
	}
}

// trainTimeout bounds one event's work, so a stuck store cannot hold the
// trainer for ever.
const trainTimeout = 5 * time.Minute

func (f *Filter) handle(e event) {
	defer f.doneOne()
	ctx, cancel := context.WithTimeout(f.ctx, trainTimeout)
	defer cancel()
	if err := f.learnEvent(ctx, e); err != nil {
		f.log.Error("junk filter: training failed", "mailbox", e.dst, "messages", len(e.uids), "err", err)
	}
}

// learnEvent works out what an event teaches and teaches it.
func (f *Filter) learnEvent(ctx context.Context, e event) error {
	mb, msgs, err := f.st.JunkMessages(ctx, e.dst, e.uids)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the mailbox went away meanwhile
	}
	if err != nil {
		return err
	}
	var as store.JunkClass
	switch e.kind {
	case marked:
		as = store.JunkHam
		if e.spam {
			as = store.JunkSpam
		}
	case filed:
		from := store.SpecialUse("")
		src, _, err := f.st.JunkMessages(ctx, e.src, nil)
		switch {
		case err == nil:
			if src.AccountID != mb.AccountID {
				return nil
			}
			from = src.SpecialUse
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		switch {
		case from == store.SpecialJunk && mb.SpecialUse == store.SpecialJunk:
			return nil
		case mb.SpecialUse == store.SpecialJunk:
			as = store.JunkSpam
		case from == store.SpecialJunk && mb.SpecialUse != store.SpecialTrash:
			as = store.JunkHam
		default:
			return nil
		}
	}
	return f.learn(ctx, mb, msgs, as)
}

// trainBatch is how many messages one store transaction trains.
const trainBatch = 32

// learn teaches the account of mb that msgs are as, and marks them with
// the matching keyword.
func (f *Filter) learn(ctx context.Context, mb store.Mailbox, msgs []store.JunkMessage, as store.JunkClass) error {
	var todo []store.JunkTraining
	flush := func() error {
		if len(todo) == 0 {
			return nil
		}
		if _, err := f.st.TrainJunk(ctx, todo); err != nil {
			return err
		}
		todo = todo[:0]
		return nil
	}
	var uids []uint32
	seen := map[int64]bool{}
	for _, m := range msgs {
		uids = append(uids, m.UID)
		if m.Trained == as || seen[m.ContentID] {
			continue
		}
		seen[m.ContentID] = true
		hashes, err := f.messageHashes(ctx, mb.ID, m.UID)
		if errors.Is(err, store.ErrNotFound) {
			continue // expunged meanwhile
		}
		if err != nil {
			return err
		}
		todo = append(todo, store.JunkTraining{AccountID: mb.AccountID, ContentID: m.ContentID, As: as, Hashes: hashes})
		if len(todo) == trainBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(seen) > 0 {
		f.log.Info("junk filter: trained", "account", mb.AccountID, "as", as.String(), "messages", len(seen))
		if _, err := f.st.PruneJunk(ctx, mb.AccountID, f.max); err != nil {
			return err
		}
	}
	return f.keywords(ctx, mb.ID, uids, as)
}

// keywords sets $Junk or $NotJunk on what was learned, and clears the
// other, with the store directly: the trainer must not hear of its own
// change as a new lesson (it would be a no-op anyway).
func (f *Filter) keywords(ctx context.Context, mailboxID int64, uids []uint32, as store.JunkClass) error {
	if len(uids) == 0 {
		return nil
	}
	// The deprecated forms of the opposite keyword go too: a message
	// marked both ways counts as marked neither way.
	set, clear := KeywordJunk, []string{KeywordNotJunk, "NotJunk", "NonJunk"}
	if as == store.JunkHam {
		set, clear = KeywordNotJunk, []string{KeywordJunk, "Junk"}
	}
	if _, err := f.st.UpdateFlags(ctx, mailboxID, store.FlagUpdate{UIDs: uids, Op: store.FlagsRemove, Keywords: clear}); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("clear %s: %w", clear[0], err)
	}
	if _, err := f.st.UpdateFlags(ctx, mailboxID, store.FlagUpdate{UIDs: uids, Op: store.FlagsAdd, Keywords: []string{set}}); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("set %s: %w", set, err)
	}
	return nil
}

// messageHashes reads a stored message and returns its token hashes.
func (f *Filter) messageHashes(ctx context.Context, mailboxID int64, uid uint32) ([]uint64, error) {
	b, err := f.st.OpenBody(ctx, mailboxID, uid)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	raw, err := readMessage(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		return nil, err
	}
	return junk.Hashes(junk.Tokens(raw)), nil
}

// TrainCorpus teaches one message (raw bytes) to a model without
// remembering it: how an operator seeds the base model
// (store.JunkBaseModel) or an account from a corpus.
func (f *Filter) TrainCorpus(ctx context.Context, accountID int64, msgs [][]byte, spam bool) error {
	as := store.JunkHam
	if spam {
		as = store.JunkSpam
	}
	var ts []store.JunkTraining
	for _, raw := range msgs {
		raw, err := readMessage(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		ts = append(ts, store.JunkTraining{AccountID: accountID, As: as, Hashes: junk.Hashes(junk.Tokens(raw))})
	}
	for len(ts) > 0 {
		n := min(len(ts), trainBatch)
		if _, err := f.st.TrainJunk(ctx, ts[:n]); err != nil {
			return fmt.Errorf("junk filter: train: %w", err)
		}
		ts = ts[n:]
	}
	if _, err := f.st.PruneJunk(ctx, accountID, f.max); err != nil {
		return fmt.Errorf("junk filter: train: %w", err)
	}
	return nil
}
