package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailbox/query"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/store"
)

// searchBatch is how many messages of a mailbox are taken from the shared
// index at a time while evaluating: a copy of that many, not of the whole
// mailbox.
const searchBatch = 500

// searchPage answers the search box: the query language of package query,
// over the user's own folders (not those shared with them), every one
// but Junk and Trash (or the one of in:, or all with
// in:anywhere), with IMAP's search engine (decoded bodies, charsets,
// case-insensitive substrings). Results are merged across folders newest
// first, counted in full and paged like a folder; only the shown page's
// messages have their structure loaded.
func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	params := r.URL.Query()
	text := params.Get("q")
	page, _ := strconv.Atoi(params.Get("page"))
	// Only the user's own folders are searched: every right.
	d := mailboxData{Searching: true, Query: text, Page: max(page, 1), Pages: 1, Can: canOf(acl.All)}
	d.PageBase = "/search?q=" + url.QueryEscape(text) + "&page="
	status := http.StatusOK
	list, err := s.listFolders(ctx, s.user(r), "")
	if err != nil {
		s.log.Error("web: listing folders failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not list your folders.")
		return
	}
	// The folder column's list is the search's too: the user's own.
	var boxes []store.Mailbox
	for _, f := range list.all {
		if f.Owner() == "" {
			boxes = append(boxes, f.Mailbox())
		}
	}
	if err := s.runSearch(ctx, boxes, text, &d); err != nil {
		// A query to fix is answered 200: the page is the search page
		// as asked, saying what to change (as a form with a typo is);
		// an error status would be logged by the browser as a failure.
		d.SearchError = err.Error()
		if qe := (*query.Error)(nil); !errors.As(err, &qe) {
			d.SearchError, status = "The search failed; try again.", http.StatusInternalServerError
			s.log.Warn("web search", "account", sess.AccountID, "err", err)
		}
	}
	for i := range list.Own {
		list.Own[i].Current = d.Mailbox.ID != 0 && list.Own[i].ID == d.Mailbox.ID
	}
	d.Folders, d.Shared, d.Hidden = list.Own, list.Shared, list.Hidden
	title := "Search"
	if text != "" {
		title = "Search: " + text
	}
	s.render(w, r, status, "mailbox", view{Title: title, Data: d})
}

// searchTarget is one mailbox a search covers, open for the request.
type searchTarget struct {
	mb  store.Mailbox
	box *mailbox.Mailbox
}

// searchHit is a matching message: small, since a search may match a
// whole account.
type searchHit struct {
	target int32 // index into the targets
	uid    uint32
	date   int64
}

// runSearch parses text, evaluates it over the folders of boxes it
// names and fills d with the count, the page and the scope. Errors the
// user must fix are *query.Error.
func (s *Server) runSearch(ctx context.Context, boxes []store.Mailbox, text string, d *mailboxData) error {
	q, err := query.Parse(text)
	if err != nil {
		return err
	}
	var scope []store.Mailbox
	switch {
	case q.In != "":
		mb, ok := query.FindFolder(boxes, q.In)
		if !ok {
			return query.NoFolder(q.In)
		}
		scope = []store.Mailbox{mb}
		d.Mailbox = mb
		d.Scope = "in " + mb.Name
	case q.Anywhere:
		scope = boxes
		d.Scope = "in all folders"
	default:
		for _, mb := range boxes {
			if !query.Excluded(mb) {
				scope = append(scope, mb)
			}
		}
		d.Scope = "in all folders but Junk and Trash"
	}

	var targets []searchTarget
	defer func() {
		for _, t := range targets {
			s.opts.Mailboxes.Release(t.box)
		}
	}()
	var hits []searchHit
	for _, mb := range scope {
		box, err := s.opts.Mailboxes.Open(ctx, mb.ID)
		if err != nil {
			return fmt.Errorf("open mailbox %d: %w", mb.ID, err)
		}
		targets = append(targets, searchTarget{mb: mb, box: box})
		total, _ := box.Counts()
		m, err := search.Compile(q.Key, search.Context{MaxSeq: uint32(total), MaxUID: ^uint32(0), Now: time.Now(), Loc: time.Local})
		if err != nil {
			// The parser only builds valid criteria; this is a bug.
			return fmt.Errorf("compile search: %w", err)
		}
		metas, err := searchMailbox(ctx, s.opts.Mailboxes, box, m)
		if err != nil {
			return fmt.Errorf("search mailbox %d: %w", mb.ID, err)
		}
		for _, meta := range metas {
			hits = append(hits, searchHit{target: int32(len(targets) - 1), uid: meta.UID, date: meta.InternalDate})
		}
	}
	// Newest first across folders; within a second, the folder's order.
	slices.SortStableFunc(hits, func(a, b searchHit) int {
		if c := cmp.Compare(b.date, a.date); c != 0 {
			return c
		}
		if c := cmp.Compare(a.target, b.target); c != 0 {
			return c
		}
		return cmp.Compare(b.uid, a.uid)
	})
	d.Total = len(hits)
	d.Count = countText(len(hits), "result")
	d.Pages = max(1, (len(hits)+pageSize-1)/pageSize)
	d.Page = min(d.Page, d.Pages)
	from := (d.Page - 1) * pageSize
	for _, h := range hits[from:min(from+pageSize, len(hits))] {
		t := targets[h.target]
		meta, ok := t.box.Message(h.uid)
		if !ok {
			continue // expunged meanwhile
		}
		st, err := t.box.Structure(ctx, h.uid)
		if err != nil {
			continue
		}
		it := listItemOf(t.mb.ID, meta, st)
		it.Folder = t.mb.Name
		d.Items = append(d.Items, it)
	}
	return nil
}

// searchMailbox returns the messages of box that m matches, newest
// first, through the mailbox service's search (the full-text index for
// text, as IMAP SEARCH): the one place a web search evaluates a mailbox.
func searchMailbox(ctx context.Context, svc *mailbox.Service, box *mailbox.Mailbox, m *search.Matcher) ([]store.MessageMeta, error) {
	var metas []store.MessageMeta
	last := ^uint32(0)
	for offset := 0; ; offset += searchBatch {
		batch := box.Newest(offset, searchBatch)
		if len(batch) == 0 {
			break
		}
		for _, meta := range batch {
			// A message delivered between two batches shifts the
			// offsets: what was seen already comes again.
			if meta.UID < last {
				last = meta.UID
				metas = append(metas, meta)
			}
		}
	}
	// The service takes the messages in ascending UID order (metas is
	// newest first) and answers in that order.
	asc := make([]store.MessageMeta, len(metas))
	for i, meta := range metas {
		asc[len(metas)-1-i] = meta
	}
	uids, err := svc.SearchMetas(ctx, box, m, asc)
	if err != nil {
		return nil, err
	}
	out := make([]store.MessageMeta, 0, len(uids))
	i := 0
	for k := len(uids) - 1; k >= 0; k-- {
		u := uids[k]
		for i < len(metas) && metas[i].UID != u {
			i++
		}
		if i < len(metas) {
			out = append(out, metas[i])
		}
	}
	return out, nil
}

// countText is "1 result", "1,234 results".
func countText(n int, noun string) string {
	digits := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if n != 1 {
		noun += "s"
	}
	return b.String() + " " + noun
}
