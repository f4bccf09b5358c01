package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// Shared mailboxes on the admin pages, as `mailroom mailbox create
// --shared` and `mailroom acl set|del ADDRESS '*' …` do: an admin creates
// one (support@) with its first members, and adds, changes and removes
// members, whose rights are set on every folder it has. An admin acts on
// the store's lists directly, as the CLI does: the admin setting, not a
// right on the folders, allows it. Members who are accounts are
// subscribed to the folders they are given, so the mailbox shows in
// their folder list (see folders.go).

type adminSharedMember struct {
	Identifier string
	Who        string
	Access     string // accessLabel, or "varies by folder"
	Preset     string // the acl.Presets name when the same on every folder
}

type adminSharedBox struct {
	Address string
	Folders []string
	Members []adminSharedMember
}

type adminSharedData struct {
	Boxes   []adminSharedBox
	Presets []acl.Preset
	Letters []rightLetter
	// The create form as posted, shown again with its error beside the
	// field it is about.
	Address, MemberList string
	Errs                fieldErrors
}

func (s *Server) adminSharedRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/shared", s.requireAdmin(s.adminSharedPage))
	mux.HandleFunc("POST /admin/shared", s.requireAdmin(s.adminSharedAction))
}

func (s *Server) adminSharedPage(w http.ResponseWriter, r *http.Request) {
	s.renderAdminShared(w, r, http.StatusOK, "", adminSharedData{})
}

func (s *Server) renderAdminShared(w http.ResponseWriter, r *http.Request, status int, errMsg string, form adminSharedData) {
	boxes, err := s.sharedMailboxes(r.Context())
	if err != nil {
		s.log.Error("web: listing shared mailboxes failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not list the shared mailboxes.")
		return
	}
	d := form
	d.Boxes, d.Presets, d.Letters = boxes, acl.Presets, rightLetters
	s.render(w, r, status, "adminshared", view{Title: "Shared mailboxes", Error: errMsg, Data: d})
}

// sharedMailboxes lists the shared mailboxes with their members.
func (s *Server) sharedMailboxes(ctx context.Context) ([]adminSharedBox, error) {
	accts, err := s.opts.Store.Accounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: accounts: %w", err)
	}
	var out []adminSharedBox
	for _, a := range accts {
		if !a.Shared {
			continue
		}
		boxes, err := s.opts.Store.MailboxList(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("web: mailboxes of %s: %w", a.Email, err)
		}
		sb := adminSharedBox{Address: a.Email}
		rights := map[string][]acl.Rights{}
		var order []string
		for _, mb := range boxes {
			sb.Folders = append(sb.Folders, mb.Name)
			entries, err := s.opts.Store.MailboxACL(ctx, mb.ID)
			if err != nil {
				return nil, fmt.Errorf("web: access control list of %s %s: %w", a.Email, mb.Name, err)
			}
			for _, e := range entries {
				if _, ok := rights[e.Identifier]; !ok {
					order = append(order, e.Identifier)
				}
				rights[e.Identifier] = append(rights[e.Identifier], e.Rights)
			}
		}
		slices.Sort(order)
		for _, id := range order {
			rs := rights[id]
			m := adminSharedMember{Identifier: id, Who: identifierWords(id), Access: "varies by folder"}
			switch {
			case allEqual(rs) && len(rs) == len(boxes):
				m.Access = accessLabel(rs[0])
				if p, ok := acl.PresetOf(rs[0]); ok {
					m.Preset = p.Name
				}
			case allEqual(rs):
				// Given on some folders only (by a member with "a", or
				// on folders made since, which inherit their parent's).
				m.Access = fmt.Sprintf("%s, on %d of %d folders", accessLabel(rs[0]), len(rs), len(boxes))
			}
			sb.Members = append(sb.Members, m)
		}
		out = append(out, sb)
	}
	return out, nil
}

func allEqual(rs []acl.Rights) bool {
	for _, r := range rs {
		if r != rs[0] {
			return false
		}
	}
	return len(rs) > 0
}

// adminSharedAction creates a shared mailbox, or sets or removes one
// member's rights on all of its folders.
func (s *Server) adminSharedAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "create":
		s.adminSharedCreate(w, r)
	case "set", "remove":
		acct, err := s.opts.Store.Account(ctx, r.PostFormValue("mailbox"))
		if err != nil || !acct.Shared {
			s.renderAdminShared(w, r, http.StatusNotFound, "There is no shared mailbox "+r.PostFormValue("mailbox")+".", adminSharedData{})
			return
		}
		who := strings.TrimSpace(r.PostFormValue("who"))
		id, kind, err := acl.Canonical(who)
		if err != nil {
			s.renderAdminShared(w, r, http.StatusBadRequest, identifierProblem(who, err), adminSharedData{})
			return
		}
		mod, rights := acl.Replace, acl.Rights(0)
		if r.PostFormValue("action") == "set" {
			var problem string
			if mod, rights, problem = parseAccess(r.PostFormValue("access"), strings.TrimSpace(r.PostFormValue("rights"))); problem != "" {
				s.renderAdminShared(w, r, http.StatusBadRequest, problem, adminSharedData{})
				return
			}
		}
		if err := s.setMember(ctx, acct, id, kind, mod, rights); err != nil {
			status, msg := memberProblem(acct.Email, id, kind, err)
			if status == http.StatusInternalServerError {
				s.log.Error("web: changing a shared mailbox's member failed", "mailbox", acct.Email, "member", id, "err", err)
			}
			s.renderAdminShared(w, r, status, msg, adminSharedData{})
			return
		}
		done := identifierWords(id) + " is no longer a member of " + acct.Email + "."
		if r.PostFormValue("action") == "set" {
			done = "Saved: " + identifierWords(id) + " may use " + acct.Email + "."
		}
		back(w, r, "/admin/shared", done)
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

// memberLine is one line of the create form's member list.
type memberLine struct {
	id     string
	kind   acl.Kind
	rights acl.Rights
}

// parseMembers reads the create form's member list: one per line, an
// identifier and optionally "=" or a space and read, write, full or
// rights letters (write when not said, as `--member` takes it). Every
// account and domain named must exist: all is checked before anything
// is created.
func (s *Server) parseMembers(ctx context.Context, text string) ([]memberLine, string) {
	var out []memberLine
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		who, spec, found := strings.Cut(line, "=")
		if !found {
			who, spec, _ = strings.Cut(line, " ")
		}
		who, spec = strings.TrimSpace(who), strings.TrimSpace(spec)
		id, kind, err := acl.Canonical(who)
		if err != nil {
			return nil, "Line “" + line + "”: " + strings.TrimPrefix(identifierProblem(who, err), "Not saved: ")
		}
		m := memberLine{id: id, kind: kind}
		preset := strings.ToLower(spec)
		if spec == "" {
			preset = "write"
		}
		var problem string
		if _, m.rights, problem = parseAccess(preset, ""); problem != "" {
			var mod acl.Modification
			if mod, m.rights, problem = parseAccess("", spec); problem == "" && mod != acl.Replace {
				problem = `a new member's rights are given whole: no "+" or "-".`
			}
			if problem != "" {
				return nil, "Line “" + line + "”: " + strings.TrimPrefix(problem, "Not saved: ") + " (or read, write, full)"
			}
		}
		switch kind {
		case acl.KindAccount:
			_, err = s.opts.Store.Account(ctx, id)
		case acl.KindDomain:
			if _, err = s.opts.Store.Domain(ctx, id[1:]); errors.Is(err, store.ErrUnknownDomain) {
				err = fmt.Errorf("domain %s: %w", id[1:], store.ErrNotFound)
			}
		}
		if err != nil {
			_, msg := memberProblem("", id, kind, err)
			return nil, "Line “" + line + "”: " + strings.TrimPrefix(msg, "Not saved: ")
		}
		out = append(out, m)
	}
	return out, ""
}

func (s *Server) adminSharedCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form := adminSharedData{Address: strings.TrimSpace(r.PostFormValue("address")), MemberList: r.PostFormValue("members")}
	members, problem := s.parseMembers(ctx, form.MemberList)
	if problem != "" {
		form.Errs = fieldErrors{"sharedmembers": "Not created: " + problem}
		s.renderAdminShared(w, r, http.StatusBadRequest, "", form)
		return
	}
	acct, err := s.opts.Store.CreateSharedAccount(ctx, form.Address)
	if err != nil {
		msg := "Not created: " + storeReason(err) + "."
		switch {
		case errors.Is(err, store.ErrUnknownDomain):
			msg = "Not created: the domain of " + form.Address + " is not hosted here; add it first."
		case errors.Is(err, store.ErrExists):
			msg = "Not created: " + form.Address + " is already an account, an alias or a shared mailbox."
		}
		status := storeStatus(err)
		if errors.Is(err, store.ErrUnknownDomain) {
			status = http.StatusBadRequest
		}
		if status == http.StatusInternalServerError {
			s.renderAdminShared(w, r, status, msg, form)
			return
		}
		form.Errs = fieldErrors{"sharedaddr": msg}
		s.renderAdminShared(w, r, status, "", form)
		return
	}
	for _, m := range members {
		if err := s.setMember(ctx, acct, m.id, m.kind, acl.Replace, m.rights); err != nil {
			s.log.Error("web: giving a new shared mailbox's member rights failed", "mailbox", acct.Email, "member", m.id, "err", err)
			_, msg := memberProblem(acct.Email, m.id, m.kind, err)
			back(w, r, "/admin/shared", "Shared mailbox "+acct.Email+" created, but "+m.id+" could not be made a member: "+strings.TrimPrefix(msg, "Not saved: "))
			return
		}
	}
	back(w, r, "/admin/shared", "Shared mailbox "+acct.Email+" created.")
}

// setMember changes one identifier's rights on every folder of the
// shared mailbox acct, and subscribes an account given access to a
// folder anew.
func (s *Server) setMember(ctx context.Context, acct store.Account, id string, kind acl.Kind, mod acl.Modification, rights acl.Rights) error {
	boxes, err := s.opts.Store.MailboxList(ctx, acct.ID)
	if err != nil {
		return fmt.Errorf("web: mailboxes of %s: %w", acct.Email, err)
	}
	var member store.Account
	if kind == acl.KindAccount && mod != acl.Remove && rights != 0 {
		if member, err = s.opts.Store.Account(ctx, id); err != nil {
			return fmt.Errorf("web: member %s: %w", id, err)
		}
	}
	for _, mb := range boxes {
		var had bool
		if member.ID != 0 {
			entries, err := s.opts.Store.MailboxACL(ctx, mb.ID)
			if err != nil {
				return fmt.Errorf("web: rights on %s %s: %w", acct.Email, mb.Name, err)
			}
			for _, e := range entries {
				had = had || e.Identifier == id
			}
		}
		now, err := s.opts.Store.ModifyACL(ctx, mb.ID, id, mod, rights)
		if err != nil {
			return fmt.Errorf("web: rights of %s on %s %s: %w", id, acct.Email, mb.Name, err)
		}
		if member.ID != 0 && !had && now.Has(acl.Lookup) {
			name := mailbox.SharedPrefix + acct.Email + store.Delimiter + mb.Name
			if err := s.opts.Mailboxes.SetSubscribed(ctx, member.ID, name, true); err != nil {
				s.log.Warn("web: subscribing a new member failed", "member", id, "folder", name, "err", err)
			}
		}
	}
	return nil
}

// memberProblem turns a refused member change into a status and words.
func memberProblem(mailboxAddr, id string, kind acl.Kind, err error) (int, string) {
	switch {
	case errors.Is(err, store.ErrNotFound) && kind == acl.KindDomain:
		return http.StatusNotFound, "Not saved: no domain " + id[1:] + " is hosted here."
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not saved: no account " + id + " exists here."
	case errors.Is(err, store.ErrInvalid) && id == mailboxAddr:
		return http.StatusBadRequest, "Not saved: a shared mailbox cannot be its own member."
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "Not saved: " + storeReason(err) + "."
	}
	return http.StatusInternalServerError, "Not saved: the change could not be stored; try again."
}
