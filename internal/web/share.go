package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"mailroom/internal/acl"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// Sharing a folder from the webmail: the page lists who may use it (the
// folder's access control list, GETACL) and adds, changes and removes
// people, whole domains and everyone (SETACL, DELETEACL), through the
// session's mailbox.User, so only a user with the "a" right on a folder
// (every owner on their own) can do it, as in IMAP. Rights are given as
// presets or, for experts, as RFC 4314 letters.

// rightLetter is one right as the expert field's help explains it.
type rightLetter struct{ Letter, Means string }

// rightLetters explains each right for the expert field.
var rightLetters = []rightLetter{
	{"l", "see the folder in the folder list"},
	{"r", "open it and read its messages"},
	{"s", "mark messages read or unread"},
	{"w", "flag messages (other flags and keywords)"},
	{"i", "add messages (copy or move them in)"},
	{"p", "send mail to it (not used here)"},
	{"k", "create folders inside it"},
	{"x", "rename or delete the folder"},
	{"t", "mark messages deleted"},
	{"e", "delete marked messages for good"},
	{"a", "change who may use it (this page)"},
}

type shareEntry struct {
	Identifier string
	Who        string // the identifier in words
	Access     string // accessLabel
	Preset     string // the acl.Presets name, "" for custom rights
	Letters    string
}

type shareData struct {
	Folder  string // as the user knows it
	Owner   string // the owner's address
	Own     bool   // the user's own folder
	Entries []shareEntry
	Presets []acl.Preset
	Letters []rightLetter
	// The add form as posted, shown again with its error beside the
	// field it is about.
	Who, Access, Rights string
	Errs                fieldErrors
}

func (s *Server) shareRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sharing", s.requireLogin(s.sharePage))
	mux.HandleFunc("POST /sharing", s.requireLogin(s.shareAction))
}

func (s *Server) sharePage(w http.ResponseWriter, r *http.Request) {
	f, err := s.user(r).Folder(r.Context(), r.URL.Query().Get("folder"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder.")
		return
	}
	s.renderShare(w, r, http.StatusOK, f, "", shareData{Access: "read"})
}

// renderShare shows the sharing page of f, with an error and the add
// form as posted (form) when a change was refused.
func (s *Server) renderShare(w http.ResponseWriter, r *http.Request, status int, f mailbox.Folder, errMsg string, form shareData) {
	entries, err := s.user(r).ACL(r.Context(), f)
	if err != nil {
		if errors.Is(err, mailbox.ErrNoPermission) {
			s.fail(w, r, http.StatusForbidden, onlyAdmins(f))
			return
		}
		s.failOp(w, r, err, f, "read who may use %s")
		return
	}
	d := form
	d.Folder, d.Own, d.Presets, d.Letters = f.Name(), f.Owner() == "", acl.Presets, rightLetters
	// ACL lists the owner first, with every right, fixed.
	d.Owner = entries[0].Identifier
	for _, e := range entries[1:] {
		se := shareEntry{Identifier: e.Identifier, Who: identifierWords(e.Identifier), Access: accessLabel(e.Rights), Letters: e.Rights.Letters()}
		if p, ok := acl.PresetOf(e.Rights); ok {
			se.Preset = p.Name
		}
		d.Entries = append(d.Entries, se)
	}
	s.render(w, r, status, "share", view{Title: "Sharing " + f.Name(), Error: errMsg, Data: d})
}

// onlyAdmins refuses the sharing page to a user without the "a" right.
func onlyAdmins(f mailbox.Folder) string {
	return "Only people with full control of " + f.Name() + " may see and change who can use it; " +
		f.Owner() + " gave you " + strings.ToLower(accessLabel(f.Rights())) + " access."
}

// identifierWords says whom an identifier names.
func identifierWords(id string) string {
	switch {
	case id == acl.Anyone:
		return "anyone"
	case id == acl.Authenticated:
		return "everyone with an account here"
	case strings.HasPrefix(id, "@"):
		return "everyone at " + id[1:]
	}
	return id
}

// shareAction adds, changes or removes one entry of a folder's list.
func (s *Server) shareAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := s.user(r)
	f, err := u.Folder(ctx, r.PostFormValue("folder"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such folder.")
		return
	}
	form := shareData{Who: strings.TrimSpace(r.PostFormValue("who")), Access: r.PostFormValue("access"), Rights: strings.TrimSpace(r.PostFormValue("rights"))}
	refuse := func(status int, msg string) { s.renderShare(w, r, status, f, msg, form) }
	// The add form's errors go beside its field; a row's Remove has no
	// field to show one beside.
	refuseAt := func(status int, field, msg string) {
		if r.PostFormValue("action") != "set" {
			refuse(status, msg)
			return
		}
		form.Errs = fieldErrors{field: msg}
		s.renderShare(w, r, status, f, "", form)
	}
	id, kind, err := acl.Canonical(form.Who)
	if err != nil {
		refuseAt(http.StatusBadRequest, "sharewho", identifierProblem(form.Who, err))
		return
	}
	mod, rights := acl.Replace, acl.Rights(0) // remove: no rights left
	switch r.PostFormValue("action") {
	case "set":
		var problem string
		if mod, rights, problem = parseAccess(form.Access, form.Rights); problem != "" {
			field := "shareaccess"
			if form.Rights != "" {
				field = "sharerights"
			}
			refuseAt(http.StatusBadRequest, field, problem)
			return
		}
	case "remove":
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	// Whether the identifier had an entry: a person given access anew is
	// subscribed to the folder (see folders.go).
	before, err := u.ACL(ctx, f)
	if err != nil {
		if errors.Is(err, mailbox.ErrNoPermission) {
			refuse(http.StatusForbidden, onlyAdmins(f))
			return
		}
		s.failOp(w, r, err, f, "read who may use %s")
		return
	}
	now, err := u.SetACL(ctx, f, id, mod, rights)
	if err != nil {
		status, msg := shareProblem(f, id, kind, err)
		if status == http.StatusInternalServerError {
			s.log.Error("web: sharing a folder failed", "folder", f.Name(), "identifier", id, "err", err)
		}
		refuseAt(status, "sharewho", msg)
		return
	}
	had := false
	for _, e := range before {
		had = had || e.Identifier == id
	}
	if kind == acl.KindAccount && !had && now.Has(acl.Lookup) {
		s.subscribeShared(r, id, sharedName(f, sessionOf(r).Email))
	}
	back(w, r, "/sharing?folder="+url.QueryEscape(f.Name()), shareDone(f, id, now))
}

// sharedName is the name the folder f of the user email has for the
// people it is shared with.
func sharedName(f mailbox.Folder, email string) string {
	if f.Owner() == "" {
		return mailbox.OtherUsersPrefix + strings.ToLower(email) + store.Delimiter + f.Name()
	}
	return f.Name() // already a name in another account's namespace, the same for everyone
}

// subscribeShared subscribes the account email to the shared folder name,
// so that a new share shows in their folder list at once. It costs the
// share nothing when it fails: the folder waits on their page of shared
// folders instead.
func (s *Server) subscribeShared(r *http.Request, email, name string) {
	acct, err := s.opts.Store.Account(r.Context(), email)
	if err == nil {
		err = s.opts.Mailboxes.SetSubscribed(r.Context(), acct.ID, name, true)
	}
	if err != nil {
		s.log.Warn("web: subscribing the person a folder was shared with failed", "account", email, "folder", name, "err", err)
	}
}

// shareDone is the flash after a change.
func shareDone(f mailbox.Folder, id string, now acl.Rights) string {
	who := identifierWords(id)
	if now == 0 {
		return who + " no longer has access to " + f.Name() + " (unless through another entry)."
	}
	msg := who + " now has " + strings.ToLower(accessLabel(now)) + " access to " + f.Name() + "."
	if !now.Has(acl.Lookup) {
		msg += ` Without the "l" right it does not show in their folder list.`
	}
	return msg
}

// parseAccess reads the form's access: the expert field's letters when
// given (with "+" or "-" to add or remove), else a preset. A problem is
// said in the form's terms.
func parseAccess(preset, letters string) (mod acl.Modification, rights acl.Rights, problem string) {
	if letters != "" {
		mod, rights, err := acl.ParseModification(letters)
		switch {
		case err != nil:
			return 0, 0, rightsProblem(letters)
		case mod == acl.Replace && rights == 0:
			return 0, 0, "No rights given: to stop sharing with someone, press Remove beside them."
		}
		return mod, rights, ""
	}
	if p, ok := acl.PresetNamed(preset); ok {
		return acl.Replace, p.Rights, ""
	}
	return 0, 0, "Choose the access to give: read only, read and write, or full control."
}

// validRight reports whether c is a right's letter (acl's, c and d
// included).
func validRight(c rune) bool {
	_, err := acl.Parse(string(c))
	return err == nil
}

// rightsProblem explains a rights field that does not parse.
func rightsProblem(letters string) string {
	var bad []string
	rest := letters
	if rest != "" && strings.ContainsRune("+-", rune(rest[0])) {
		rest = rest[1:]
	}
	for _, c := range rest {
		if q := `"` + string(c) + `"`; !validRight(c) && !slices.Contains(bad, q) {
			bad = append(bad, q)
		}
	}
	what := strings.Join(bad, ", ") + " is not a right"
	switch {
	case strings.ContainsAny(rest, "+-"):
		what = `"+" or "-" may only come first`
	case len(bad) > 1:
		what = strings.Join(bad, ", ") + " are not rights"
	}
	return "Not saved: " + what + `. Rights are lower-case letters of lrswipkxtea (see the list below); "+" before them adds them to what the person has, "-" takes them away.`
}

// identifierProblem explains who-field input acl.Canonical refused.
func identifierProblem(who string, err error) string {
	if errors.Is(err, acl.ErrNegativeRights) {
		return "Not saved: taking rights away with a leading \"-\" is not supported; give fewer rights instead."
	}
	if who == "" {
		return "Not saved: say whom to share with: an address, @domain for all of a domain's accounts, or authenticated for everyone with an account here."
	}
	return "Not saved: " + who + " is not an address (name@example.com), @domain for all of a domain's accounts, authenticated or anyone."
}

// shareProblem turns a refused change into a status and plain words.
func shareProblem(f mailbox.Folder, id string, kind acl.Kind, err error) (int, string) {
	switch {
	case errors.Is(err, mailbox.ErrNoPermission):
		return http.StatusForbidden, onlyAdmins(f)
	case errors.Is(err, mailbox.ErrOwnerRights):
		return http.StatusBadRequest, "Not saved: " + id + " owns " + f.Name() + " and always has every right on it."
	case errors.Is(err, store.ErrNotFound) && kind == acl.KindDomain:
		return http.StatusNotFound, "Not saved: no domain " + id[1:] + " is hosted here."
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not saved: no account " + id + " exists here."
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "Not saved: " + storeReason(err) + "."
	}
	return http.StatusInternalServerError, "Not saved: the change could not be stored; try again."
}
