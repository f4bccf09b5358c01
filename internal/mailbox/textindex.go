package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"mailroom/internal/mailbox/search"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// The full-text index. Every delivery and APPEND passes through Append or
// AppendAll, which extract the message's searchable text (package search:
// the evaluator's own definition of it) and hand it to the store with the
// delivery, to be stored with the content (the backend may index it a
// moment later; it is searchable at once either way). Search
// then answers the text keys of a search from the index, and evaluates
// the rest as before on what is left. A message the index does not know
// (stored before the index existed, delivered around this service, or
// with a body too large to index) is evaluated by reading it: the answer
// is the same, only slower. `mailroom reindex` fills such gaps (Reindex).

// maxIndexLeaves bounds how many text keys of one search go to the index;
// the others (a query of thousands of terms) are evaluated as before.
const maxIndexLeaves = 64

// maxExtractInMemory bounds a staged body read into memory for the
// extraction when the store's reader cannot seek (not the case of the
// built-in stores); a larger one is left unindexed.
const maxExtractInMemory = 64 << 20

// setText attaches the index text to a staged message, if the store
// keeps one. A failure only leaves the message unindexed.
func (r *Service) setText(ctx context.Context, msg store.Staged) {
	ts, ok := msg.(store.TextStager)
	if !ok {
		return
	}
	doc, err := stagedText(ctx, msg)
	if err != nil {
		r.log.Warn("mailbox: full-text extraction failed; the message stays unindexed", "err", err)
		return
	}
	ts.SetText(doc)
}

func stagedText(ctx context.Context, msg store.Staged) (*store.TextDoc, error) {
	rc, err := msg.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		if msg.Size() > maxExtractInMemory {
			return nil, fmt.Errorf("%d bytes, not seekable", msg.Size())
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxExtractInMemory))
		if err != nil {
			return nil, err
		}
		ra = bytes.NewReader(b)
	}
	return search.IndexText(ctx, msg.Structure(), ra)
}

// Search returns the UIDs of msgs (one mailbox's, in ascending UID order)
// that satisfy m, ascending: IMAP SEARCH, SORT and THREAD, the web and
// JMAP all search through it. Content keys are answered by the full-text index
// where it knows the message, so that a text search of a large mailbox
// reads no message; the rest is m.Match. A message that is gone meanwhile
// (store.ErrNotFound) does not match.
func (r *Service) Search(ctx context.Context, mailboxID int64, m *search.Matcher, msgs []search.Message) ([]uint32, error) {
	return r.SearchList(ctx, mailboxID, m, search.Slice(msgs))
}

// SearchList is Search over a list whose messages are made on demand
// (search.List): those the index rules out are never made.
func (r *Service) SearchList(ctx context.Context, mailboxID int64, m *search.Matcher, list search.List) ([]uint32, error) {
	var idx search.Index
	var msgs []search.Message
	if m.NeedsContent() && list.Len() > 0 {
		ti, cand, err := r.textIndex(ctx, mailboxID, m, list)
		if err != nil {
			return nil, err
		}
		if ti != nil {
			idx, msgs = ti, cand
		}
	}
	if idx == nil {
		msgs = list.All()
	}
	var hits []uint32
	for _, msg := range msgs {
		ok, err := m.MatchIndexed(ctx, msg, idx)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if ok {
			hits = append(hits, msg.Meta().UID)
		}
	}
	return hits, nil
}

// restrictMax is the most candidates whose stored text the store checks
// directly (SearchText within) rather than looking the needles up in the
// index of the whole mailbox: a few thousand rows read cost less than a
// common word's lookup in 100,000 messages.
const restrictMax = 2000

// textIndex asks the store about the index leaves of m, cheapest first,
// and returns its answers (nil when it has none to ask) with the messages
// of msgs they leave possible, in order. The metadata keys (flags, dates
// of arrival, sizes, UIDs) narrow first, for nothing; then the header
// fields (FROM, TO, CC, BCC, SUBJECT: short, often selective); then the
// rest (TEXT, BODY, HEADER). Each stage asks only about the candidates
// left when they are few (restrictMax), so UNSEEN FLAGGED TEXT x, or
// SUBJECT y NOT TEXT x, does not look x up in the whole mailbox.
func (r *Service) textIndex(ctx context.Context, mailboxID int64, m *search.Matcher, list search.List) (*textAnswers, []search.Message, error) {
	leaves := m.IndexLeaves()
	if len(leaves) == 0 {
		return nil, nil, nil
	}
	ta := &textAnswers{ctx: ctx, byLeaf: map[int]int{}}
	// cand is the candidates so far; while lazy, every message of list,
	// none made yet: criteria of content keys alone give the metadata pass
	// nothing to rule out.
	var cand []search.Message
	lazy := m.ContentOnly()
	if !lazy {
		cand = possible(m, list.All(), nil)
	}
	required := m.Required()
	var headers, rest []search.IndexLeaf
	for _, l := range leaves {
		if l.Field <= store.TextSubject {
			headers = append(headers, l)
		} else {
			rest = append(rest, l)
		}
	}
	for _, stage := range [][]search.IndexLeaf{headers, rest} {
		if len(stage) == 0 || (!lazy && len(cand) == 0) {
			continue
		}
		var queries []store.TextQuery
		for _, l := range stage {
			q := store.TextQuery{Field: l.Field, Needle: l.Needle}
			i := slices.Index(queries, q)
			if i < 0 {
				if len(ta.queries)+len(queries) == maxIndexLeaves {
					continue // left to the evaluator
				}
				i = len(queries)
				queries = append(queries, q)
			}
			ta.byLeaf[l.Leaf] = len(ta.queries) + i
		}
		if len(queries) == 0 {
			continue
		}
		var within []uint32
		if !lazy && len(cand) <= restrictMax && 2*len(cand) <= list.Len() {
			within = make([]uint32, len(cand))
			for i, c := range cand {
				within[i] = c.Meta().UID
			}
			slices.Sort(within)
		}
		res, err := r.st.SearchText(ctx, mailboxID, queries, within)
		if err != nil {
			return nil, nil, fmt.Errorf("mailbox: search: %w", err)
		}
		ta.add(queries, res)
		from := list
		if !lazy {
			from = search.Slice(cand)
		}
		if picked, ok := ta.narrow(from, required); ok {
			cand = picked
		} else if lazy {
			cand = list.All()
		}
		lazy = false
		cand = possible(m, cand, ta)
	}
	return ta, cand, nil
}

// narrow is the messages of l (ascending UIDs, as Search's) that may
// satisfy the required keys (search.Matcher.Required) answered so far:
// the hits of the one with fewest, and every message the index cannot
// decide, each found by binary search and made (l.At) alone. A rare word
// in 100,000 messages then makes and evaluates its few dozen hits, not
// every message. ok is false when no required key was answered.
func (ta *textAnswers) narrow(l search.List, required []int) (out []search.Message, ok bool) {
	var hits []uint32
	found := false
	for _, leaf := range required {
		qi, ok := ta.byLeaf[leaf]
		if ok && qi < len(ta.res.Hits) && (!found || len(ta.res.Hits[qi]) < len(hits)) {
			hits, found = ta.res.Hits[qi], true
		}
	}
	n := l.Len()
	// Whether l is ascending is Search's contract; checking every
	// message would cost what narrowing saves. A list plainly not in
	// order is not narrowed.
	if !found || n == 0 || l.UID(0) > l.UID(n-1) {
		return nil, false
	}
	keep := union(union(hits, ta.res.Unindexed), union(ta.res.BodyUnindexed, ta.res.Stale))
	if len(ta.res.Prefixed) > 0 {
		prefixed := make([]uint32, 0, len(ta.res.Prefixed))
		for u := range ta.res.Prefixed {
			prefixed = append(prefixed, u)
		}
		slices.Sort(prefixed)
		keep = union(keep, prefixed)
	}
	out = make([]search.Message, 0, min(len(keep), n))
	lo := 0
	for _, u := range keep {
		i := lo + sort.Search(n-lo, func(k int) bool { return l.UID(lo+k) >= u })
		if i < n && l.UID(i) == u {
			if msg := l.At(i); msg != nil {
				out = append(out, msg)
			}
		}
		lo = i
	}
	return out, true
}

// possible is the messages of msgs that m.Possible keeps, in order.
func possible(m *search.Matcher, msgs []search.Message, idx search.Index) []search.Message {
	out := make([]search.Message, 0, len(msgs))
	for _, msg := range msgs {
		if m.Possible(msg, idx) {
			out = append(out, msg)
		}
	}
	return out
}

// textAnswers is one search's answers from the index (search.Index).
type textAnswers struct {
	ctx     context.Context
	queries []store.TextQuery
	byLeaf  map[int]int // leaf -> query
	res     store.TextResult
	// prefixes caches the folded text of the per-copy header prefixes,
	// made on first need.
	prefixes map[uint32]*store.TextDoc
}

// add takes the answers of one more SearchText call, for queries
// numbered after those before.
func (ta *textAnswers) add(queries []store.TextQuery, res store.TextResult) {
	ta.queries = append(ta.queries, queries...)
	ta.res.Hits = append(ta.res.Hits, res.Hits...)
	ta.res.Unindexed = union(ta.res.Unindexed, res.Unindexed)
	ta.res.BodyUnindexed = union(ta.res.BodyUnindexed, res.BodyUnindexed)
	ta.res.Stale = union(ta.res.Stale, res.Stale)
	for u, p := range res.Prefixed {
		if ta.res.Prefixed == nil {
			ta.res.Prefixed = map[uint32][]byte{}
		}
		ta.res.Prefixed[u] = p
	}
}

// union merges two ascending UID lists.
func union(a, b []uint32) []uint32 {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func has(sorted []uint32, uid uint32) bool {
	_, ok := slices.BinarySearch(sorted, uid)
	return ok
}

// Lookup implements search.Index.
func (ta *textAnswers) Lookup(leaf int, uid uint32) (hit, known bool) {
	qi, ok := ta.byLeaf[leaf]
	if !ok || has(ta.res.Unindexed, uid) {
		return false, false
	}
	q := ta.queries[qi]
	if (q.Field == store.TextBody || q.Field == store.TextAll) && has(ta.res.BodyUnindexed, uid) {
		return false, false
	}
	// An entry of an older format lacks text TEXT searches (the MIME part
	// headers): the message is read until reindexed.
	if q.Field == store.TextAll && has(ta.res.Stale, uid) {
		return false, false
	}
	if has(ta.res.Hits[qi], uid) {
		return true, true
	}
	if q.Field != store.TextHeader && q.Field != store.TextAll {
		return false, true // a prefix holds none of the other fields
	}
	// The copy's own header prefix is part of its header.
	prefix, ok := ta.res.Prefixed[uid]
	if !ok {
		return false, true
	}
	doc, ok := ta.prefixes[uid]
	if !ok {
		var err error
		if doc, err = search.PrefixText(ta.ctx, prefix); err != nil {
			return false, false
		}
		if ta.prefixes == nil {
			ta.prefixes = map[uint32]*store.TextDoc{}
		}
		ta.prefixes[uid] = doc
	}
	field := q.Field
	if field == store.TextAll {
		field = store.TextHeader
	}
	return strings.Contains(doc.Field(field), q.Needle), true
}

// Reindex indexes the contents of an account (0: every account) that
// the index lacks, and calls progress (if not nil) now and then with how
// many are done of how many. It runs beside live servers: each content is
// written in its own short transaction (several at once, which the
// backends batch), so an interrupted run loses nothing and the next one
// resumes where it stopped, the contents indexed meanwhile skipped.
func (r *Service) Reindex(ctx context.Context, accountID int64, progress func(done, total int)) error {
	// Text the store has not indexed yet (it may index in the background)
	// is not on the work list: it is extracted already.
	if err := r.st.FlushText(ctx); err != nil {
		return err
	}
	// The work list first, for a true total: some 40 bytes a content.
	var work []store.UnindexedContent
	for after := int64(0); ; {
		batch, err := r.st.UnindexedContents(ctx, accountID, after, 10000)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		work = append(work, batch...)
		after = batch[len(batch)-1].ContentID
	}
	if progress != nil {
		progress(0, len(work))
	}
	const workers = 4
	jobs := make(chan store.UnindexedContent)
	errs := make(chan error, workers)
	var done atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		go func() {
			var err error
			for u := range jobs {
				if err != nil {
					continue
				}
				if err = r.reindexOne(ctx, u); err != nil {
					cancel()
				}
				done.Add(1)
			}
			errs <- err
		}()
	}
	last := time.Now()
feed:
	for _, u := range work {
		select {
		case jobs <- u:
		case <-ctx.Done():
			break feed
		}
		if progress != nil && time.Since(last) > 100*time.Millisecond {
			last = time.Now()
			progress(int(done.Load()), len(work))
		}
	}
	close(jobs)
	var err error
	for range workers {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if progress != nil {
		progress(int(done.Load()), len(work))
	}
	return err
}

func (r *Service) reindexOne(ctx context.Context, u store.UnindexedContent) error {
	doc, err := r.contentText(ctx, u)
	if err != nil {
		return fmt.Errorf("mailbox: reindex content %d: %w", u.ContentID, err)
	}
	if doc == nil {
		return nil
	}
	return r.st.IndexText(ctx, u.ContentID, doc)
}

// contentText extracts the text of a stored content through one message
// holding it, without that message's header prefix; nil when the message
// is gone meanwhile.
func (r *Service) contentText(ctx context.Context, u store.UnindexedContent) (*store.TextDoc, error) {
	body, err := r.st.OpenBody(ctx, u.MailboxID, u.UID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	content := io.NewSectionReader(body, u.PrefixLen, body.Size()-u.PrefixLen)
	// The stored structure's offsets include the prefix: scan the
	// content again for the content's own.
	sc := mime.NewScanner(mime.Limits{})
	if _, err := io.Copy(sc, io.NewSectionReader(content, 0, content.Size())); err != nil {
		return nil, err
	}
	s, err := sc.Close()
	if err != nil {
		return nil, err
	}
	return search.IndexText(ctx, s, content)
}

// SearchMetas evaluates m over the given messages of box (ascending UID
// order) through Search: the full-text index for text keys, the stored
// structure and bytes for the rest. It answers the matching UIDs in
// ascending order. For callers that hold MessageMetas rather than a
// session's sequence numbers (the web, JMAP).
func (r *Service) SearchMetas(ctx context.Context, box *Mailbox, m *search.Matcher, metas []store.MessageMeta) ([]uint32, error) {
	adapters := make([]metaMessage, len(metas))
	msgs := make([]search.Message, len(metas))
	for i, meta := range metas {
		adapters[i] = metaMessage{box: box, meta: meta}
		msgs[i] = &adapters[i]
	}
	return r.Search(ctx, box.ID(), m, msgs)
}

// metaMessage is a message as the search engine sees it, outside a session.
type metaMessage struct {
	box  *Mailbox
	meta store.MessageMeta
}

func (m *metaMessage) Meta() store.MessageMeta { return m.meta }
func (m *metaMessage) Seq() uint32             { return 0 }
func (m *metaMessage) Recent() bool            { return false }
func (m *metaMessage) Structure(ctx context.Context) (*mime.Message, error) {
	return m.box.ScanStructure(ctx, m.meta.UID)
}
func (m *metaMessage) Body(ctx context.Context) (store.Body, error) {
	return m.box.ScanBody(ctx, m.meta.UID)
}
