package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/mailbox/search"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// pageSize is how many messages a list page shows.
const pageSize = 50

func (s *Server) mailRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /mail/{name...}", s.requireLogin(s.mailboxPage))
	mux.HandleFunc("GET /msg/{mailbox}/{uid}", s.requireLogin(s.messagePage))
	mux.HandleFunc("GET /msg/{mailbox}/{uid}/part/{part}", s.requireLogin(s.partDownload))
	mux.HandleFunc("GET /msg/{mailbox}/{uid}/cid/{cid}", s.requireLogin(s.inlinePart))
	mux.HandleFunc("POST /msg/{mailbox}/{uid}/flags", s.requireLogin(s.setFlags))
	mux.HandleFunc("POST /msg/{mailbox}/{uid}/move", s.requireLogin(s.moveMessage))
	mux.HandleFunc("POST /msg/{mailbox}/{uid}/junk", s.requireLogin(s.markJunk))
	mux.HandleFunc("POST /msg/{mailbox}/{uid}/delete", s.requireLogin(s.deleteMessage))
	mux.HandleFunc("POST /folders/create", s.requireLogin(s.createFolder))
	mux.HandleFunc("POST /folders/rename", s.requireLogin(s.renameFolder))
	mux.HandleFunc("POST /folders/delete", s.requireLogin(s.deleteFolder))
	mux.HandleFunc("POST /folders/empty", s.requireLogin(s.emptyFolder))
	mux.HandleFunc("GET /search", s.requireLogin(s.searchPage))
	mux.HandleFunc("GET /events", s.requireLogin(s.events))
}

// folder is one entry of the folder list.
type folder struct {
	ID         int64
	Name       string
	SpecialUse store.SpecialUse
	Total      int
	Unseen     int
	Current    bool
	Depth      int
	Leaf       string
}

// folders lists the account's mailboxes with their counts, from the
// shared index (the first look at a large mailbox loads it; later pages
// and every IMAP session reuse it).
func (s *Server) folders(ctx context.Context, accountID int64, current string) ([]folder, error) {
	boxes, err := s.opts.Store.MailboxList(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]folder, 0, len(boxes))
	for _, mb := range boxes {
		f := folder{ID: mb.ID, Name: mb.Name, SpecialUse: mb.SpecialUse, Current: mb.Name == current}
		f.Depth = strings.Count(mb.Name, "/")
		f.Leaf = mb.Name[strings.LastIndex(mb.Name, "/")+1:]
		box, err := s.opts.Mailboxes.Open(ctx, mb.ID)
		if err != nil {
			return nil, err
		}
		f.Total, f.Unseen = box.Counts()
		s.opts.Mailboxes.Release(box)
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b folder) int {
		// INBOX first, then the special folders, then the rest by name.
		rank := func(f folder) int {
			switch {
			case f.Name == "INBOX":
				return 0
			case f.SpecialUse != "" && f.Depth == 0:
				return 1
			}
			return 2
		}
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// listItem is one row of a message list.
type listItem struct {
	MailboxID   int64
	UID         uint32
	From        string
	Subject     string
	Date        int64
	Size        int64
	Preview     string
	Seen        bool
	Flagged     bool
	Answered    bool
	Attachments bool
	Folder      string // a search result's folder
}

type mailboxData struct {
	Folders   []folder
	Mailbox   store.Mailbox
	Items     []listItem
	Page      int
	Pages     int
	Total     int
	Unseen    int
	Trash     bool
	MoveTo    []folder
	Query     string
	Searching bool
	// PageBase is the URL of a page of this list without the page
	// number: a folder's, or a search's with its query.
	PageBase string
	// A search's: its error for the user, what it covered ("in all
	// folders") and its count ("1,234 results").
	SearchError string
	Scope       string
	Count       string
}

func (s *Server) mailboxPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	ctx := r.Context()
	name, err := mailboxFromPath(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That is not a folder name.")
		return
	}
	mb, err := s.opts.Store.Mailbox(ctx, sess.AccountID, name)
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no folder "+name+".")
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	box, err := s.opts.Mailboxes.Open(ctx, mb.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not open the folder.")
		return
	}
	defer s.opts.Mailboxes.Release(box)
	d := mailboxData{Mailbox: mb, Page: page, Trash: mb.SpecialUse == store.SpecialTrash, PageBase: mailboxURL(mb.Name) + "?page="}
	d.Total, d.Unseen = box.Counts()
	d.Pages = max(1, (d.Total+pageSize-1)/pageSize)
	for _, meta := range box.Newest((page-1)*pageSize, pageSize) {
		st, err := box.Structure(ctx, meta.UID)
		if err != nil {
			continue // expunged meanwhile
		}
		d.Items = append(d.Items, listItemOf(mb.ID, meta, st))
	}
	if d.Folders, err = s.folders(ctx, sess.AccountID, mb.Name); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not list your folders.")
		return
	}
	for _, f := range d.Folders {
		if f.ID != mb.ID {
			d.MoveTo = append(d.MoveTo, f)
		}
	}
	title := mb.Name
	if d.Unseen > 0 {
		title = "(" + strconv.Itoa(d.Unseen) + ") " + title
	}
	s.render(w, r, http.StatusOK, "mailbox", view{Title: title, Data: d})
}

// listItemOf describes a message for a list from its recorded structure.
func listItemOf(mailboxID int64, meta store.MessageMeta, st *mime.Message) listItem {
	it := listItem{
		MailboxID: mailboxID, UID: meta.UID, Date: meta.InternalDate, Size: meta.Size,
		Seen: meta.Flags&store.FlagSeen != 0, Flagged: meta.Flags&store.FlagFlagged != 0,
		Answered: meta.Flags&store.FlagAnswered != 0, Preview: st.Preview,
	}
	if env := st.Root.Envelope; env != nil {
		it.Subject = env.DecodedSubject
		if len(env.From) > 0 {
			it.From = addressLabel(env.From[0])
		}
	}
	if it.Subject == "" {
		it.Subject = "(no subject)"
	}
	// The rule has:attachment searches by, so the two always agree.
	it.Attachments = search.HasAttachment(st)
	return it
}

// addressLabel is a name if there is one, else the address.
func addressLabel(a mime.Address) string {
	if a.DecodedName != "" {
		return a.DecodedName
	}
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// addressFull is "Name <address>" or the address.
func addressFull(a mime.Address) string {
	addr := a.Mailbox
	if a.Host != "" {
		addr += "@" + a.Host
	}
	if a.DecodedName != "" {
		return a.DecodedName + " <" + addr + ">"
	}
	return addr
}

// accountMailbox looks a mailbox up by ID and checks it is the session's.
func (s *Server) accountMailbox(r *http.Request, idText string) (store.Mailbox, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return store.Mailbox{}, store.ErrNotFound
	}
	sess := sessionOf(r)
	boxes, err := s.opts.Store.MailboxList(r.Context(), sess.AccountID)
	if err != nil {
		return store.Mailbox{}, err
	}
	for _, mb := range boxes {
		if mb.ID == id {
			return mb, nil
		}
	}
	return store.Mailbox{}, store.ErrNotFound
}

// specialMailbox returns the account's mailbox with a special use.
func (s *Server) specialMailbox(ctx context.Context, accountID int64, use store.SpecialUse) (store.Mailbox, bool) {
	boxes, err := s.opts.Store.MailboxList(ctx, accountID)
	if err != nil {
		return store.Mailbox{}, false
	}
	for _, mb := range boxes {
		if mb.SpecialUse == use {
			return mb, true
		}
	}
	return store.Mailbox{}, false
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if parent := r.PostFormValue("parent"); parent != "" && name != "" {
		name = parent + "/" + name
	}
	if _, err := s.opts.Mailboxes.CreateMailbox(r.Context(), sessionOf(r).AccountID, name, ""); err != nil {
		s.fail(w, r, storeStatus(err), "Could not create the folder: "+err.Error())
		return
	}
	back(w, r, mailboxURL(name), "Folder created.")
}

func (s *Server) renameFolder(w http.ResponseWriter, r *http.Request) {
	from, to := r.PostFormValue("from"), strings.TrimSpace(r.PostFormValue("to"))
	if err := s.opts.Mailboxes.RenameMailbox(r.Context(), sessionOf(r).AccountID, from, to); err != nil {
		s.fail(w, r, storeStatus(err), "Could not rename the folder: "+err.Error())
		return
	}
	back(w, r, mailboxURL(to), "Folder renamed.")
}

func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	if err := s.opts.Mailboxes.DeleteMailbox(r.Context(), sessionOf(r).AccountID, name); err != nil {
		s.fail(w, r, storeStatus(err), "Could not delete the folder: "+err.Error())
		return
	}
	back(w, r, "/mail/INBOX", "Folder deleted.")
}

// emptyFolder deletes every message of the Trash (or Junk) for good.
func (s *Server) emptyFolder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	mb, err := s.opts.Store.Mailbox(ctx, sessionOf(r).AccountID, r.PostFormValue("name"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder.")
		return
	}
	if mb.SpecialUse != store.SpecialTrash && mb.SpecialUse != store.SpecialJunk {
		s.fail(w, r, http.StatusBadRequest, "Only the Trash and Junk folders can be emptied.")
		return
	}
	list, err := s.opts.Store.MessageList(ctx, mb.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read the folder.")
		return
	}
	uids := make([]uint32, len(list))
	for i, m := range list {
		uids[i] = m.UID
	}
	if len(uids) > 0 {
		if _, err := s.opts.Mailboxes.Expunge(ctx, mb.ID, uids); err != nil {
			s.fail(w, r, http.StatusInternalServerError, "Could not empty the folder.")
			return
		}
	}
	back(w, r, mailboxURL(mb.Name), "Folder emptied.")
}
