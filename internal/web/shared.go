package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
)

// The folders other accounts share with the user: every one they can
// list, whether shown in their folder list (subscribed) or hidden, with
// their access and why they have it. A user leaves a folder shared with
// them by name (mailbox.User.Leave removes that entry); one shared with
// a group they belong to (their domain, everyone) is not theirs to
// leave, and they can only hide it.

type sharedRow struct {
	Name   string // as the user knows it
	Local  string // the owner's name for it
	Access string
	Shown  bool
	Named  bool     // an entry names the user: they can leave
	Groups []string // the groups that give them access, in words
}

type sharedOwner struct {
	Owner   string
	Mailbox bool // a shared mailbox (support@), not a person's account
	Folders []sharedRow
	Named   int // folders the user can leave
}

func (s *Server) sharedRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /shared", s.requireLogin(s.sharedPage))
	mux.HandleFunc("POST /shared", s.requireLogin(s.sharedAction))
}

func (s *Server) sharedPage(w http.ResponseWriter, r *http.Request) {
	s.renderShared(w, r, http.StatusOK, "")
}

func (s *Server) renderShared(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	owners, err := s.sharedWithUser(r.Context(), s.user(r))
	if err != nil {
		s.log.Error("web: listing shared folders failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not list the folders shared with you.")
		return
	}
	s.render(w, r, status, "shared", view{Title: "Shared with me", Error: errMsg, Data: owners})
}

// sharedWithUser lists the folders shared with u by owner. It reads each
// folder's entries naming the user (User.Grants): this page only.
func (s *Server) sharedWithUser(ctx context.Context, u *mailbox.User) ([]sharedOwner, error) {
	all, err := u.List(ctx)
	if err != nil {
		return nil, err
	}
	subs, err := u.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var out []sharedOwner
	for _, f := range all {
		if f.Owner() == "" {
			continue
		}
		grants, err := u.Grants(ctx, f)
		if err != nil {
			return nil, err
		}
		row := sharedRow{Name: f.Name(), Local: ownerName(f), Access: accessLabel(f.Rights())}
		for _, n := range subs {
			row.Shown = row.Shown || n == f.Name()
		}
		for _, g := range grants {
			// Grants names only the user's identifiers: the one
			// account among them is the user.
			if _, kind, _ := acl.Canonical(g.Identifier); kind == acl.KindAccount {
				row.Named = true
			} else {
				row.Groups = append(row.Groups, identifierWords(g.Identifier))
			}
		}
		if n := len(out); n == 0 || out[n-1].Owner != f.Owner() {
			out = append(out, sharedOwner{Owner: f.Owner(), Mailbox: f.Namespace() == mailbox.SharedPrefix})
		}
		o := &out[len(out)-1]
		o.Folders = append(o.Folders, row)
		if row.Named {
			o.Named++
		}
	}
	return out, nil
}

// sharedAction leaves, hides or shows a folder shared with the user, or
// leaves every folder of one owner ("leave-all").
func (s *Server) sharedAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := s.user(r)
	action := r.PostFormValue("action")
	if action == "leave-all" {
		s.leaveAll(w, r, strings.ToLower(r.PostFormValue("owner")))
		return
	}
	f, err := u.Folder(ctx, r.PostFormValue("folder"))
	if err == nil && f.Owner() == "" {
		s.fail(w, r, http.StatusBadRequest, "That folder is your own: nobody shared it with you.")
		return
	}
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder shared with you.")
		return
	}
	switch action {
	case "hide", "show":
		if err := u.SetSubscribed(ctx, f.Name(), action == "show"); err != nil {
			s.failOp(w, r, err, f, action+" %s")
			return
		}
		done := f.Name() + " is hidden from your folder list."
		if action == "show" {
			done = f.Name() + " shows in your folder list."
		}
		back(w, r, "/shared", done)
	case "leave":
		still, err := u.Leave(ctx, f)
		if errors.Is(err, mailbox.ErrNotNamed) {
			s.renderShared(w, r, http.StatusConflict, f.Name()+" is shared with "+groupWords(still)+
				", not with you by name, so you cannot leave it. You can hide it instead: it then no longer shows in your folder list.")
			return
		}
		if err != nil {
			s.failOp(w, r, err, f, "leave %s")
			return
		}
		s.forget(r, f.Name())
		if len(still) > 0 {
			back(w, r, "/shared", "You left "+f.Name()+", but you still have access to it as "+groupWords(still)+
				", so it stays here, hidden from your folder list.")
			return
		}
		back(w, r, "/shared", "You left "+f.Name()+": it is no longer shared with you.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

// leaveAll leaves every folder owner shares with the user by name.
func (s *Server) leaveAll(w http.ResponseWriter, r *http.Request, owner string) {
	ctx := r.Context()
	u := s.user(r)
	all, err := u.List(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not list the folders shared with you.")
		return
	}
	left, kept := 0, 0
	for _, f := range all {
		if f.Owner() != owner || owner == "" {
			continue
		}
		still, err := u.Leave(ctx, f)
		switch {
		case errors.Is(err, mailbox.ErrNotNamed):
			kept++
			continue
		case err != nil:
			s.failOp(w, r, err, f, "leave %s")
			return
		}
		s.forget(r, f.Name())
		left++
		if len(still) > 0 {
			kept++
		}
	}
	if left == 0 && kept == 0 {
		s.fail(w, r, http.StatusNotFound, "No folder of "+owner+" is shared with you.")
		return
	}
	msg := "You left the folders of " + owner + "."
	if kept > 0 {
		msg += " Some stay here, hidden from your folder list: you have access to them as part of a group, which is not yours to leave."
	}
	back(w, r, "/shared", msg)
}

// forget unsubscribes from a folder the user left, so that it does not
// come back into their folder list if it is shared with them again
// through a group.
func (s *Server) forget(r *http.Request, name string) {
	if err := s.user(r).SetSubscribed(r.Context(), name, false); err != nil {
		s.log.Warn("web: unsubscribing from a folder left failed", "folder", name, "err", err)
	}
}

// groupWords names the groups of entries: "everyone at example.org".
func groupWords(entries []acl.Entry) string {
	words := make([]string, len(entries))
	for i, e := range entries {
		words[i] = identifierWords(e.Identifier)
	}
	if len(words) == 0 {
		return "a group"
	}
	return strings.Join(words, " and ")
}
