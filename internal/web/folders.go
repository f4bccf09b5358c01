package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// Folders as one user sees them. Pages reach mailboxes only through the
// session's mailbox.User, as IMAP does: the user's own folders (every
// right) and those other accounts share with them ("Other Users/<owner>/
// …", a shared mailbox's "Shared/<address>/…"), with the rights their
// owners gave. Pages hide the buttons the rights do not allow; the User
// checks the rights anyway, so a forged form is refused (403).
//
// Shared folders show in the folder list when the user is subscribed to
// them, as in mail programs that show subscribed folders: hiding one is
// unsubscribing (the page of folders shared with the user lists them
// all). Sharing a folder with a person from the web, or making them a
// member of a shared mailbox on the admin pages, subscribes them, so a
// new share shows at once; one made otherwise (IMAP SETACL, the CLI, a
// share with a whole domain) waits on that page until the user shows it.

// user is the session's access to mail.
func (s *Server) user(r *http.Request) *mailbox.User {
	sess := sessionOf(r)
	return s.opts.Mailboxes.User(sess.AccountID, sess.Email)
}

// folder is one entry of the folder list.
type folder struct {
	ID         int64
	Name       string // as the user knows it: what its page's URL names
	SpecialUse store.SpecialUse
	Total      int
	Unseen     int
	Readable   bool // the counts are shown (the "r" right)
	Current    bool
	Depth      int
	Leaf       string
}

// folderGroup is the folders one account shares with the user.
type folderGroup struct {
	Owner   string
	Mailbox bool // a shared mailbox (support@), not a person's account
	Folders []folder
}

// folderList is what the folder column shows.
type folderList struct {
	all    []mailbox.Folder // every folder the user can list
	Own    []folder
	Shared []folderGroup // shown: subscribed, or the current one
	Hidden int           // shared folders the user hid
}

// ownerName is a shared folder's name in its owner's account.
func ownerName(f mailbox.Folder) string {
	return strings.TrimPrefix(f.Name(), f.Namespace()+f.Owner()+store.Delimiter)
}

// listFolders lists the user's folders with their counts, from the
// shared index (the first look at a large mailbox loads it; later pages
// and every IMAP session reuse it). It costs the store the same reads as
// listing the user's own mailboxes did, plus the shares (one indexed
// read); subscriptions are read only when something is shared.
func (s *Server) listFolders(ctx context.Context, u *mailbox.User, current string) (*folderList, error) {
	all, err := u.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: list folders: %w", err)
	}
	l := &folderList{all: all}
	var subscribed map[string]bool
	if slices.ContainsFunc(all, func(f mailbox.Folder) bool { return f.Owner() != "" }) {
		names, err := u.Subscriptions(ctx)
		if err != nil {
			return nil, fmt.Errorf("web: subscriptions: %w", err)
		}
		subscribed = make(map[string]bool, len(names))
		for _, n := range names {
			subscribed[n] = true
		}
	}
	for _, f := range all {
		name := f.Name()
		if f.Owner() != "" && !subscribed[name] && name != current {
			l.Hidden++
			continue
		}
		e := folder{ID: f.ID(), Name: name, SpecialUse: f.Mailbox().SpecialUse, Current: name == current}
		local := name
		if f.Owner() != "" {
			local = ownerName(f)
		}
		e.Depth = strings.Count(local, store.Delimiter)
		e.Leaf = local[strings.LastIndex(local, store.Delimiter)+1:]
		if f.Rights().Has(acl.Read) {
			var err error
			if e.Total, e.Unseen, err = s.folderCounts(ctx, u, f); err != nil {
				return nil, fmt.Errorf("web: counts of %q: %w", name, err)
			}
			e.Readable = true
		}
		if f.Owner() == "" {
			l.Own = append(l.Own, e)
			continue
		}
		if n := len(l.Shared); n == 0 || l.Shared[n-1].Owner != f.Owner() {
			l.Shared = append(l.Shared, folderGroup{Owner: f.Owner(), Mailbox: f.Namespace() == mailbox.SharedPrefix})
		}
		g := &l.Shared[len(l.Shared)-1]
		g.Folders = append(g.Folders, e)
	}
	slices.SortStableFunc(l.Own, func(a, b folder) int {
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
	return l, nil
}

// find returns the listed folder with that name.
func (l *folderList) find(name string) (mailbox.Folder, bool) {
	for _, f := range l.all {
		if f.Name() == name {
			return f, true
		}
	}
	return mailbox.Folder{}, false
}

// byID returns the listed folder with that id.
func (l *folderList) byID(id int64) (mailbox.Folder, bool) {
	for _, f := range l.all {
		if f.ID() == id {
			return f, true
		}
	}
	return mailbox.Folder{}, false
}

// moveTargets are the folders a message in the folder with id from can
// be moved to: the user's own, and the shown shared ones they may add
// messages to.
func (l *folderList) moveTargets(from int64) []folder {
	var out []folder
	for _, f := range l.Own {
		if f.ID != from {
			out = append(out, f)
		}
	}
	for _, g := range l.Shared {
		for _, f := range g.Folders {
			if lf, ok := l.byID(f.ID); ok && f.ID != from && lf.Rights().Has(acl.Insert) {
				out = append(out, f)
			}
		}
	}
	return out
}

// folderByID looks up a folder the user can see by its id in a URL or a
// form. Another account's folder not shared with the user is "not
// found", as if it did not exist.
func (s *Server) folderByID(r *http.Request, idText string) (mailbox.Folder, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return mailbox.Folder{}, fmt.Errorf("web: folder id %q: %w", idText, store.ErrNotFound)
	}
	return s.user(r).FolderByID(r.Context(), id)
}

// can is what a user's rights on a folder let a page offer.
type can struct {
	Read, Seen, Flag, Insert bool
	Delete                   bool // delete messages for good ("t" and "e")
	Move                     bool // move messages out ("r", "t" and "e")
	Create                   bool // subfolders
	Remove                   bool // rename or delete the folder
	Share                    bool // change who may use it ("a")
}

func canOf(r acl.Rights) can {
	return can{
		Read: r.Has(acl.Read), Seen: r.Has(acl.Seen), Flag: r.Has(acl.Write), Insert: r.Has(acl.Insert),
		Delete: r.Has(acl.DeleteMessages | acl.Expunge), Move: r.Has(acl.Read | acl.DeleteMessages | acl.Expunge),
		Create: r.Has(acl.Create), Remove: r.Has(acl.DeleteMailbox), Share: r.Has(acl.Admin),
	}
}

// accessLabel names a set of rights as the sharing form's presets do.
func accessLabel(r acl.Rights) string {
	if p, ok := acl.PresetOf(r); ok {
		return p.Label
	}
	return "Custom (" + r.Letters() + ")"
}

// accessStatus is the HTTP status of a mailbox operation's error.
func accessStatus(err error) int {
	if errors.Is(err, mailbox.ErrNoPermission) {
		return http.StatusForbidden
	}
	return storeStatus(err)
}

// failOp shows why an operation on folder f failed, in plain language:
// what the user's rights do not allow (403), a full mailbox (507), what
// is gone (404), what was asked wrongly (400). doing says what failed,
// "%s" standing for the folder's name ("move messages into %s"); without
// it, " in" and the name follow.
func (s *Server) failOp(w http.ResponseWriter, r *http.Request, err error, f mailbox.Folder, doing string) {
	if !strings.Contains(doing, "%s") {
		doing += " in %s"
	}
	s.failWhat(w, r, err, strings.ReplaceAll(doing, "%s", f.Name()), &f)
}

// failWhat is failOp with what failed said in full; f is nil when there
// is no folder to name (one to be made).
func (s *Server) failWhat(w http.ResponseWriter, r *http.Request, err error, what string, f *mailbox.Folder) {
	status, msg := http.StatusInternalServerError, "Could not "+what+"; try again."
	quota, over := overQuotaMessage(err, sessionOf(r).Email)
	switch {
	case errors.Is(err, mailbox.ErrNoPermission):
		status, msg = http.StatusForbidden, "You may not "+what+"."
		if f != nil && f.Owner() != "" {
			msg = "You may not " + what + ": " + f.Owner() + " gave you " + strings.ToLower(accessLabel(f.Rights())) +
				" access. Ask " + f.Owner() + " if you need more."
		}
	case over:
		status, msg = http.StatusInsufficientStorage, "Could not "+what+": "+quota
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "Could not "+what+": it is gone (moved or deleted, maybe from another device)."
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrExists):
		status, msg = http.StatusBadRequest, "Could not "+what+": "+storeReason(err)+"."
	default:
		s.log.Error("web: operation failed", "doing", what, "err", err)
	}
	s.fail(w, r, status, msg)
}

// storeReason is the reason of a store error without its wrapping
// ("invalid: name too long" is "name too long").
func storeReason(err error) string {
	msg := err.Error()
	for _, e := range []error{store.ErrInvalid, store.ErrExists} {
		if i := strings.LastIndex(msg, e.Error()+": "); i >= 0 {
			return msg[i+len(e.Error())+2:]
		}
	}
	return msg
}
