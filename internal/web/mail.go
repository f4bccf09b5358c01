package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"mailroom/internal/mailbox"
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
	Folders []folder      // the user's own
	Shared  []folderGroup // shown folders shared with the user
	Hidden  int           // hidden ones
	Mailbox store.Mailbox // Name: as the user knows it
	// Owner is the owner of a folder shared with the user ("": the
	// user's own), Access their rights on it in words.
	Owner         string
	Access        string
	SharedMailbox bool // the owner is a shared mailbox (support@)
	Can           can
	// Fixed: INBOX or a special folder, which pages do not offer to
	// rename or delete.
	Fixed bool
	// OwnerFull says that the owner of a shared folder the user may add
	// to is out of room.
	OwnerFull string
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
	ctx := r.Context()
	name, err := mailboxFromPath(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That is not a folder name.")
		return
	}
	u := s.user(r)
	list, err := s.listFolders(ctx, u, name)
	if err != nil {
		s.log.Error("web: listing folders failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not list your folders.")
		return
	}
	f, ok := list.find(name)
	if !ok {
		// Not listed: a folder shared without the "l" right can still
		// be opened by its name.
		if f, err = u.Folder(ctx, name); err != nil {
			s.fail(w, r, storeStatus(err), "There is no folder "+name+".")
			return
		}
	}
	box, err := u.Open(ctx, f)
	if err != nil {
		s.failOp(w, r, err, f, "read the messages of %s")
		return
	}
	defer s.opts.Mailboxes.Release(box)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	mb := f.Mailbox()
	d := mailboxData{Mailbox: mb, Page: page, PageBase: mailboxURL(mb.Name) + "?page=",
		Folders: list.Own, Shared: list.Shared, Hidden: list.Hidden, Owner: f.Owner(), Can: canOf(f.Rights()),
		SharedMailbox: f.Namespace() == mailbox.SharedPrefix}
	// Emptying is for the user's own Trash: another's is theirs to empty.
	d.Trash = mb.SpecialUse == store.SpecialTrash && f.Owner() == ""
	local := mb.Name
	if f.Owner() != "" {
		d.Access = accessLabel(f.Rights())
		local = ownerName(f)
	}
	d.Fixed = local == "INBOX" || mb.SpecialUse != ""
	if f.Owner() != "" && d.Can.Insert {
		// Moves and copies in would be refused for the owner's quota:
		// say so before the user tries (one read, for shared folders).
		if q, err := u.FolderQuota(ctx, f.Name()); err == nil && quotaFull(q.Usage) {
			d.OwnerFull = "The mailbox of " + f.Owner() + " is full: nothing can be moved or copied into " + f.Name() + " until " + f.Owner() + " makes room."
		}
	}
	if d.Total, d.Unseen, err = s.folderCounts(ctx, u, f, box); err != nil {
		s.failOp(w, r, err, f, "read the messages of %s")
		return
	}
	d.Pages = max(1, (d.Total+pageSize-1)/pageSize)
	newest := box.Newest((page-1)*pageSize, pageSize)
	v, err := readerView(ctx, u, f)
	if err != nil {
		s.failOp(w, r, err, f, "read the messages of %s")
		return
	}
	asSeenBy(v, newest)
	if v != nil {
		v.Close()
	}
	for _, meta := range newest {
		st, err := box.Structure(ctx, meta.UID)
		if err != nil {
			continue // expunged meanwhile
		}
		d.Items = append(d.Items, listItemOf(mb.ID, meta, st))
	}
	d.MoveTo = list.moveTargets(mb.ID)
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
		name = parent + store.Delimiter + name
	}
	if name == "" {
		s.fail(w, r, http.StatusBadRequest, "Give the new folder a name.")
		return
	}
	f, err := s.user(r).CreateMailbox(r.Context(), name, "")
	if err != nil {
		parent, doing := name, "create %s"
		if i := strings.LastIndex(name, store.Delimiter); i > 0 && errors.Is(err, mailbox.ErrNoPermission) {
			// A refusal is about the level above the new folder.
			parent, doing = name[:i], "create folders in %s"
		}
		s.failFolder(w, r, err, parent, doing)
		return
	}
	if f.Owner() != "" {
		// Made in a folder shared with the user: shown in their list,
		// which shows the shared folders they are subscribed to.
		if err := s.user(r).SetSubscribed(r.Context(), f.Name(), true); err != nil {
			s.log.Warn("web: subscribing to a new shared folder failed", "folder", f.Name(), "err", err)
		}
	}
	back(w, r, mailboxURL(f.Name()), "Folder created.")
}

func (s *Server) renameFolder(w http.ResponseWriter, r *http.Request) {
	from, to := r.PostFormValue("from"), strings.TrimSpace(r.PostFormValue("to"))
	u := s.user(r)
	if err := u.RenameMailbox(r.Context(), from, to); err != nil {
		s.failFolder(w, r, err, from, "rename %s")
		return
	}
	if f, err := u.Folder(r.Context(), to); err == nil && f.Owner() != "" {
		// A shared folder stays shown under its new name (its owner's
		// other users keep their subscriptions as they are, as in IMAP).
		err := u.SetSubscribed(r.Context(), f.Name(), true)
		if err == nil {
			err = u.SetSubscribed(r.Context(), from, false)
		}
		if err != nil {
			s.log.Warn("web: moving the subscription of a renamed folder failed", "folder", f.Name(), "err", err)
		}
	}
	back(w, r, mailboxURL(to), "Folder renamed.")
}

func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	if err := s.user(r).DeleteMailbox(r.Context(), name); err != nil {
		s.failFolder(w, r, err, name, "delete %s")
		return
	}
	back(w, r, "/mail/INBOX", "Folder deleted.")
}

// failFolder is failOp for a folder operation that names the folder
// rather than holding it: the refusal says what the user's rights on it
// are when they can see it.
func (s *Server) failFolder(w http.ResponseWriter, r *http.Request, err error, name, doing string) {
	f, lookup := s.user(r).Folder(r.Context(), name)
	switch {
	case lookup == nil:
		s.failOp(w, r, err, f, doing)
	case errors.Is(err, mailbox.ErrNoPermission):
		// A new top level in another account: only its owner makes those.
		s.fail(w, r, http.StatusForbidden, "You may not create folders there: only the owner makes new folders at the top of their account.")
	default:
		s.failWhat(w, r, err, strings.ReplaceAll(doing, "%s", name), nil)
	}
}

// emptyFolder deletes every message of the user's own Trash (or Junk)
// for good.
func (s *Server) emptyFolder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := s.user(r)
	f, err := u.Folder(ctx, r.PostFormValue("name"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder.")
		return
	}
	mb := f.Mailbox()
	if f.Owner() != "" || mb.SpecialUse != store.SpecialTrash && mb.SpecialUse != store.SpecialJunk {
		s.fail(w, r, http.StatusBadRequest, "Only your own Trash and Junk folders can be emptied.")
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
	if _, err := u.Expunge(ctx, f, uids); err != nil {
		s.failOp(w, r, err, f, "empty %s")
		return
	}
	back(w, r, mailboxURL(mb.Name), "Folder emptied.")
}
