package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"mailroom/internal/mailbox"
	"mailroom/internal/mailbox/search"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// maxResults bounds a search's result list.
const maxResults = 200

// searchPage searches one folder, newest first, with IMAP's search engine
// (decoded bodies, charsets, case-insensitive): q matches sender, subject
// or text; from, subject, since and before narrow it.
func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	q := r.URL.Query()
	name := q.Get("in")
	if name == "" {
		name = "INBOX"
	}
	mb, err := s.opts.Store.Mailbox(ctx, sess.AccountID, name)
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no folder "+name+".")
		return
	}
	key := searchKey(q.Get("q"), q.Get("from"), q.Get("subject"), q.Get("since"), q.Get("before"))
	box, err := s.opts.Mailboxes.Open(ctx, mb.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not open the folder.")
		return
	}
	defer s.opts.Mailboxes.Release(box)
	total, unseen := box.Counts()
	m, err := search.Compile(key, search.Context{MaxSeq: uint32(total), MaxUID: ^uint32(0), Now: time.Now(), Loc: time.Local})
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That search is not valid: "+err.Error())
		return
	}
	d := mailboxData{Mailbox: mb, Page: 1, Pages: 1, Total: total, Unseen: unseen, Query: q.Get("q"), Searching: true}
	// Newest first, stopping at maxResults.
	for offset := 0; len(d.Items) < maxResults; offset += 500 {
		batch := box.Newest(offset, 500)
		if len(batch) == 0 {
			break
		}
		for _, meta := range batch {
			ok, err := m.Match(ctx, &webMessage{box: box, meta: meta})
			if err != nil || !ok {
				continue
			}
			st, err := box.Structure(ctx, meta.UID)
			if err != nil {
				continue
			}
			d.Items = append(d.Items, listItemOf(mb.ID, meta, st))
			if len(d.Items) == maxResults {
				break
			}
		}
	}
	if d.Folders, err = s.folders(ctx, sess.AccountID, mb.Name); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not list your folders.")
		return
	}
	s.render(w, r, http.StatusOK, "mailbox", view{Title: "Search " + mb.Name, Data: d})
}

// searchKey builds search criteria from the form: every word of q
// must appear in the sender, the subject or the text.
func searchKey(q, from, subject, since, before string) *search.Key {
	and := &search.Key{Op: "AND"}
	for _, word := range strings.Fields(q) {
		and.Children = append(and.Children, &search.Key{Op: "OR", Children: []*search.Key{
			{Op: "FROM", Value: word},
			{Op: "OR", Children: []*search.Key{{Op: "SUBJECT", Value: word}, {Op: "TEXT", Value: word}}},
		}})
	}
	if from != "" {
		and.Children = append(and.Children, &search.Key{Op: "FROM", Value: from})
	}
	if subject != "" {
		and.Children = append(and.Children, &search.Key{Op: "SUBJECT", Value: subject})
	}
	if t, err := time.ParseInLocation("2006-01-02", since, time.Local); err == nil {
		and.Children = append(and.Children, &search.Key{Op: "SINCE", Date: t})
	}
	if t, err := time.ParseInLocation("2006-01-02", before, time.Local); err == nil {
		and.Children = append(and.Children, &search.Key{Op: "BEFORE", Date: t})
	}
	if len(and.Children) == 0 {
		return &search.Key{Op: "ALL"}
	}
	return and
}

// webMessage is a message as the search engine sees it.
type webMessage struct {
	box  *mailbox.Mailbox
	meta store.MessageMeta
}

func (m *webMessage) Meta() store.MessageMeta { return m.meta }
func (m *webMessage) Seq() uint32             { return 0 }
func (m *webMessage) Recent() bool            { return false }
func (m *webMessage) Structure(ctx context.Context) (*mime.Message, error) {
	return m.box.Structure(ctx, m.meta.UID)
}
func (m *webMessage) Body(ctx context.Context) (store.Body, error) {
	return m.box.ScanBody(ctx, m.meta.UID)
}
