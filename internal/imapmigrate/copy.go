package imapmigrate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/store"
)

// chunkMessages and chunkBytes bound one UID FETCH of bodies: small
// enough that the connections share a big folder, large enough that a
// command's round trip is nothing next to its transfer.
const (
	chunkMessages = 500
	chunkBytes    = 32 << 20
)

// job is a run of UIDs of one folder, fetched by one connection.
type job struct {
	p    *plan
	uids []uint32
}

func chunks(plans []*plan) (jobs []job, msgs int, bytes int64) {
	for _, p := range plans {
		start, size := 0, int64(0)
		for i := range p.todo {
			size += p.sizes[i]
			msgs++
			bytes += p.sizes[i]
			if i+1-start >= chunkMessages || size >= chunkBytes || i == len(p.todo)-1 {
				jobs = append(jobs, job{p: p, uids: p.todo[start : i+1]})
				start, size = i+1, 0
			}
		}
	}
	return jobs, msgs, bytes
}

// copyAll copies the plans' messages over up to Connections connections.
// The first error stops every connection.
func (r *run) copyAll(ctx context.Context, plans []*plan) error {
	jobs, msgs, bytes := chunks(plans)
	if len(jobs) == 0 {
		return nil
	}
	r.mu.Lock()
	r.progress.TotalMessages, r.progress.TotalBytes = msgs, bytes
	r.mu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan job)
	var wg sync.WaitGroup
	n := min(r.opts.Connections, len(jobs))
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.worker(ctx, queue); err != nil {
				cancel(err)
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

func (r *run) worker(ctx context.Context, queue <-chan job) error {
	var cn *conn
	defer func() {
		if cn != nil {
			cn.logout()
		}
	}()
	for j := range queue {
		if cn == nil {
			var err error
			if cn, err = dial(ctx, r.opts.Source, r.opts.Password, r.opts.InsecureTLS); err != nil {
				return err
			}
		}
		if err := r.copyJob(ctx, cn, j); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	return nil
}

// pending is a staged message of the batch.
type pending struct {
	src  uint32
	size int64
}

// copyJob fetches the bodies of a job's UIDs and delivers them in
// batches. Each body is streamed from the connection into the store: a
// connection holds one message's buffers, never the message.
func (r *run) copyJob(ctx context.Context, cn *conn, j job) error {
	p := j.p
	if cn.selected != p.folder.Source {
		if _, err := cn.examine(p.folder.Source); err != nil {
			return err
		}
	}
	if cn.validity != p.validity {
		return fmt.Errorf("folder %q: its UIDVALIDITY changed during the run; run again", p.folder.Source)
	}
	r.setFolder(p.folder.Ours)
	var (
		batch      []store.Delivery
		info       []pending
		batchBytes int64
	)
	discard := func() {
		for _, d := range batch {
			d.Msg.Discard()
		}
		batch, info, batchBytes = batch[:0], info[:0], 0
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			discard()
			return err
		}
		got, err := r.opts.Mail.AppendAll(ctx, batch)
		if err != nil {
			discard()
			return fmt.Errorf("deliver %d messages into %s: %w", len(batch), p.folder.Ours, err)
		}
		src := make([]uint32, len(info))
		ours := make([]uint32, len(info))
		var size int64
		for i := range info {
			src[i], ours[i] = info[i].src, got[i].UID
			size += info[i].size
		}
		batch, info, batchBytes = batch[:0], info[:0], 0
		if err := p.fm.add(src, ours); err != nil {
			return err
		}
		r.mu.Lock()
		p.result.Copied += len(src)
		p.result.Bytes += size
		r.mu.Unlock()
		return nil
	}
	var set imap.UIDSet
	for _, u := range j.uids {
		set.AddNum(imap.UID(u))
	}
	cmd := cn.c.Fetch(set, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		m, err := r.readMessage(ctx, msg, p.dedupe != nil)
		if err != nil {
			cmd.Close()
			discard()
			return fmt.Errorf("fetch from %q: %w", p.folder.Source, err)
		}
		if m.staged == nil {
			continue // not a message of the job (an unsolicited FETCH)
		}
		r.count(m.staged.Size())
		if p.dedupe != nil {
			if ourUID, ok := p.dedupe.take(m.sum); ok {
				m.staged.Discard()
				// The copy here takes the source's flags now: a later
				// run only looks at what changes after this one.
				upd, err := r.opts.Store.UpdateFlags(ctx, p.ourID, store.FlagUpdate{UIDs: []uint32{ourUID}, Op: store.FlagsReplace, Flags: m.flags, Keywords: m.kw})
				if err == nil {
					err = p.fm.add([]uint32{m.uid}, []uint32{ourUID})
				}
				if err != nil {
					cmd.Close()
					discard()
					return fmt.Errorf("match a message of %q already here: %w", p.folder.Source, err)
				}
				r.mu.Lock()
				p.result.Matched++
				p.result.FlagsUpdated += len(upd.Updated)
				r.mu.Unlock()
				continue
			}
		}
		batch = append(batch, store.Delivery{Msg: m.staged, Targets: []store.Target{{
			MailboxID: p.ourID, Flags: m.flags, Keywords: m.kw, InternalDate: m.date,
		}}})
		info = append(info, pending{src: m.uid, size: m.staged.Size()})
		batchBytes += m.staged.Size()
		if len(batch) >= r.opts.BatchMessages || batchBytes >= r.opts.BatchBytes {
			if err := flush(); err != nil {
				cmd.Close()
				return err
			}
		}
	}
	if err := cmd.Close(); err != nil {
		discard()
		return fmt.Errorf("fetch from %q: %w", p.folder.Source, err)
	}
	return flush()
}

// fetched is one message read from a FETCH response.
type fetched struct {
	uid    uint32
	flags  store.Flags
	kw     []string
	date   time.Time
	staged store.Staged
	sum    [sha256.Size]byte
}

// readMessage reads one FETCH response, staging its body as it comes.
// Servers send the items in any order, so the flags and date are taken
// whenever they come; the body is staged (and hashed, if asked) from the
// connection without being held in memory.
func (r *run) readMessage(ctx context.Context, msg *imapclient.FetchMessageData, hashIt bool) (fetched, error) {
	var m fetched
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			m.uid = uint32(it.UID)
		case imapclient.FetchItemDataFlags:
			m.flags, m.kw = flagsOf(it.Flags)
		case imapclient.FetchItemDataInternalDate:
			m.date = it.Time
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil || m.staged != nil {
				continue
			}
			var body io.Reader = it.Literal
			var h hash.Hash
			if hashIt {
				h = sha256.New()
				body = io.TeeReader(body, h)
			}
			st, err := r.opts.Store.Stage(ctx, body)
			if err != nil {
				return m, fmt.Errorf("stage message: %w", err)
			}
			if st.Size() != it.Literal.Size() {
				st.Discard()
				return m, fmt.Errorf("message of %d bytes cut at %d", it.Literal.Size(), st.Size())
			}
			m.staged = st
			if h != nil {
				h.Sum(m.sum[:0])
			}
		}
	}
	if m.staged != nil && m.uid == 0 {
		m.staged.Discard()
		return m, errors.New("a message without its UID")
	}
	return m, nil
}

func (r *run) count(size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress.Messages++
	r.progress.Bytes += size
	r.report()
}

func (r *run) setFolder(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress.Folder = name
	r.report()
}

// report calls Options.Progress; r.mu is held.
func (r *run) report() {
	if r.opts.Progress != nil {
		r.progress.Elapsed = time.Since(r.start)
		r.opts.Progress(r.progress)
	}
}

// contentIndex finds messages already here by the SHA-256 of their
// bytes: when a folder is copied again (its UIDVALIDITY changed), what
// is here already is recognised, whatever its UIDs, and not copied twice.
type contentIndex struct {
	mu  sync.Mutex
	ids map[[sha256.Size]byte][]uint32
}

func (ci *contentIndex) empty() bool { return len(ci.ids) == 0 }

// build hashes the folder's messages that no source UID maps to.
func (ci *contentIndex) build(ctx context.Context, st Store, mailboxID int64, ours []store.MessageMeta, mapped map[uint32]uint32) error {
	used := make(map[uint32]bool, len(mapped))
	for _, o := range mapped {
		used[o] = true
	}
	ci.ids = map[[sha256.Size]byte][]uint32{}
	for _, m := range ours {
		if used[m.UID] {
			continue
		}
		sum, err := bodySum(ctx, st, mailboxID, m.UID)
		if err != nil {
			return err
		}
		ci.ids[sum] = append(ci.ids[sum], m.UID)
	}
	return nil
}

// take returns a message with that content not taken yet: two identical
// messages at the source match two here, not one.
func (ci *contentIndex) take(sum [sha256.Size]byte) (uint32, bool) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	ids := ci.ids[sum]
	if len(ids) == 0 {
		return 0, false
	}
	ci.ids[sum] = ids[1:]
	return ids[0], true
}

func bodySum(ctx context.Context, st Store, mailboxID int64, uid uint32) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	b, err := st.OpenBody(ctx, mailboxID, uid)
	if err != nil {
		return sum, fmt.Errorf("read message %d: %w", uid, err)
	}
	defer b.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(b, 0, b.Size())); err != nil {
		return sum, fmt.Errorf("read message %d: %w", uid, err)
	}
	h.Sum(sum[:0])
	return sum, nil
}
