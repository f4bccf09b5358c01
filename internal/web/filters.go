package web

import (
	"errors"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/sieverules"
)

// Settings → Filters: the rules of the account's managed Sieve script
// (sieverules), edited in forms that work without the script; the raw
// editor of all its scripts is scripts.go.

func (s *Server) filterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings/filters", s.requireLogin(s.filtersPage))
	mux.HandleFunc("POST /settings/filters", s.requireLogin(s.filtersAction))
	mux.HandleFunc("GET /settings/filters/rule", s.requireLogin(s.rulePage))
	mux.HandleFunc("POST /settings/filters/rule", s.requireLogin(s.saveRule))
	mux.HandleFunc("GET /settings/scripts", s.requireLogin(s.scriptsPage))
	mux.HandleFunc("POST /settings/scripts", s.requireLogin(s.scriptsAction))
}

type filtersData struct {
	Managed    sieverules.Managed
	Rules      []ruleRow
	ScriptName string
}

// ruleRow is a rule in the list.
type ruleRow struct {
	Index       int
	Name        string
	Disabled    bool
	Summary     string
	First, Last bool
}

func (s *Server) filtersPage(w http.ResponseWriter, r *http.Request) {
	s.renderFilters(w, r, http.StatusOK, "")
}

func (s *Server) renderFilters(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	m, err := sieverules.Load(r.Context(), s.opts.Store, sessionOf(r).AccountID)
	if err != nil {
		s.log.Error("web: reading the filters failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read your filters.")
		return
	}
	d := filtersData{Managed: m, ScriptName: sieverules.ScriptName}
	for i, rule := range m.Rules.Rules {
		d.Rules = append(d.Rules, ruleRow{Index: i, Name: rule.Name, Disabled: rule.Disabled, Summary: summary(rule),
			First: i == 0, Last: i == len(m.Rules.Rules)-1})
	}
	s.render(w, r, status, "filters", view{Title: "Filters", Error: errMsg, Data: d})
}

// filtersAction changes the list: a rule switched on or off, moved,
// deleted; the managed script made the active one, or started afresh.
func (s *Server) filtersAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	acct := sessionOf(r).AccountID
	action := r.PostFormValue("action")
	i, _ := strconv.Atoi(r.PostFormValue("rule"))
	var done string
	var active bool
	var err error
	switch action {
	case "activate":
		active, err = s.activateManaged(r)
		done = "Your mail is now filtered by the rules here."
	case "reset":
		// The script edited by hand is replaced: its edits are lost (the
		// page asks first).
		active, err = sieverules.Save(ctx, s.opts.Store, acct, sieverules.Rules{})
		done = "Your filter script was replaced by an empty list of rules."
	case "toggle", "up", "down", "delete":
		active, err = sieverules.Update(ctx, s.opts.Store, acct, func(rs *sieverules.Rules) error {
			if i < 0 || i >= len(rs.Rules) {
				return errNoRule
			}
			switch action {
			case "toggle":
				rs.Rules[i].Disabled = !rs.Rules[i].Disabled
				done = "Rule switched on."
				if rs.Rules[i].Disabled {
					done = "Rule switched off."
				}
			case "up", "down":
				j := i - 1
				if action == "down" {
					j = i + 1
				}
				if j < 0 || j >= len(rs.Rules) {
					return errNoRule
				}
				rs.Rules[i], rs.Rules[j] = rs.Rules[j], rs.Rules[i]
				done = "Rule moved."
			case "delete":
				rs.Rules = slices.Delete(rs.Rules, i, i+1)
				done = "Rule deleted."
			}
			return nil
		})
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if err != nil {
		s.filterError(w, r, err)
		return
	}
	back(w, r, "/settings/filters", done+notActiveNote(active))
}

// errNoRule: the list changed in another window since the page was shown.
var errNoRule = errors.New("that rule is no longer there: the list was changed in another window")

// filterError shows why a change to the filters was not made.
func (s *Server) filterError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, sieverules.ErrInvalid), errors.Is(err, sieverules.ErrEdited), errors.Is(err, errNoRule):
		s.renderFilters(w, r, http.StatusBadRequest, "Not saved: "+filterProblem(err))
	default:
		s.log.Error("web: saving the filters failed", "err", err)
		s.renderFilters(w, r, http.StatusInternalServerError, "Your filters could not be saved now; try again shortly.")
	}
}

// filterProblem is the user's text of an error of sieverules (meant for
// them), without the package's prefix, as a sentence.
func filterProblem(err error) string {
	return sentence(strings.TrimPrefix(err.Error(), sieverules.ErrInvalid.Error()+": "))
}

// notActiveNote is added to what a change says when the managed script
// is not the one delivery runs.
func notActiveNote(active bool) string {
	if active {
		return ""
	}
	return " It has no effect yet: your mail is filtered by another script (see Filters)."
}

// activateManaged makes the managed script the account's filter,
// creating it (empty) if there is none.
func (s *Server) activateManaged(r *http.Request) (bool, error) {
	ctx := r.Context()
	acct := sessionOf(r).AccountID
	m, err := sieverules.Load(ctx, s.opts.Store, acct)
	if err != nil {
		return false, err
	}
	if !m.Exists {
		if _, err := sieverules.Save(ctx, s.opts.Store, acct, sieverules.Rules{}); err != nil {
			return false, err
		}
	}
	return true, s.opts.Store.SetActiveSieveScript(ctx, acct, sieverules.ScriptName)
}

// The choices of the rule form, in the words it shows.
var (
	fieldChoices = []choice{{"", "—"}, {sieverules.FieldFrom, "From"}, {sieverules.FieldTo, "To or Cc"}, {sieverules.FieldSubject, "Subject"},
		{sieverules.FieldHeader, "Header field"}, {sieverules.FieldSize, "Size"}, {sieverules.FieldAttachment, "Has an attachment"},
		{sieverules.FieldJunk, "Junk score at least"}}
	opChoices = []choice{{sieverules.OpContains, "contains"}, {sieverules.OpIs, "is"}, {sieverules.OpBegins, "begins with"},
		{sieverules.OpMatches, "matches (* and ?)"}, {sieverules.OpOver, "is over"}, {sieverules.OpUnder, "is under"}}
	actionChoices = []choice{{"", "—"}, {sieverules.ActionMove, "Move to folder"}, {sieverules.ActionCopy, "Copy to folder"},
		{sieverules.ActionFlag, "Flag it"}, {sieverules.ActionRead, "Mark it read"}, {sieverules.ActionForward, "Forward to"},
		{sieverules.ActionReject, "Reject with message"}, {sieverules.ActionDiscard, "Delete it silently"},
		{sieverules.ActionStop, "Stop: apply no later rule"}}
)

type choice struct{ Value, Label string }

func label(choices []choice, v string) string {
	for _, c := range choices {
		if c.Value == v {
			return c.Label
		}
	}
	return v
}

// summary says what a rule does, in one line for the list.
func summary(rule sieverules.Rule) string {
	var conds []string
	for _, c := range rule.Conditions {
		var t string
		switch c.Field {
		case sieverules.FieldAttachment:
			t = "has an attachment"
		case sieverules.FieldJunk:
			t = "junk score at least " + c.Value
		case sieverules.FieldHeader:
			t = c.Header + " " + label(opChoices, c.Op) + " “" + c.Value + "”"
		case sieverules.FieldSize:
			t = "size " + label(opChoices, c.Op) + " " + c.Value
		default:
			t = label(fieldChoices, c.Field) + " " + label(opChoices, c.Op) + " “" + c.Value + "”"
		}
		if c.Not {
			t = "not (" + t + ")"
		}
		conds = append(conds, t)
	}
	when := "Every message"
	if len(conds) > 0 {
		sep := " and "
		if rule.Any {
			sep = " or "
		}
		when = "If " + strings.Join(conds, sep)
	}
	var acts []string
	for _, a := range rule.Actions {
		t := label(actionChoices, a.Kind)
		switch a.Kind {
		case sieverules.ActionMove, sieverules.ActionCopy:
			t += " " + a.Folder
		case sieverules.ActionForward:
			t += " " + a.Address
			if a.Keep {
				t += " (keeping it)"
			}
		}
		acts = append(acts, strings.ToLower(t[:1])+t[1:])
	}
	return when + ": " + strings.Join(acts, ", ")
}

// ruleData is the rule form: the rule's conditions and actions and a few
// empty rows, so that one can be added without a script.
type ruleData struct {
	Index   int // -1: a new rule
	Rule    sieverules.Rule
	Conds   []sieverules.Condition
	Actions []sieverules.Action
	Folders []string
	Fields  []choice
	Ops     []choice
	Kinds   []choice
}

// Empty rows the form adds to a rule's conditions and actions.
const (
	spareConds   = 2
	spareActions = 2
)

func (s *Server) rulePage(w http.ResponseWriter, r *http.Request) {
	m, err := sieverules.Load(r.Context(), s.opts.Store, sessionOf(r).AccountID)
	if err != nil {
		s.log.Error("web: reading the filters failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read your filters.")
		return
	}
	if m.Edited {
		back(w, r, "/settings/filters", "")
		return
	}
	rule := sieverules.Rule{Any: false}
	index := -1
	if v := r.URL.Query().Get("rule"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= len(m.Rules.Rules) {
			s.fail(w, r, http.StatusNotFound, "There is no such rule.")
			return
		}
		index, rule = i, m.Rules.Rules[i]
	} else if ref := r.URL.Query().Get("msg"); ref != "" {
		rule, err = s.ruleFromMessage(r, ref)
		if err != nil {
			s.fail(w, r, storeStatus(err), "There is no such message.")
			return
		}
	}
	s.renderRule(w, r, http.StatusOK, "", index, rule)
}

// ruleFromMessage starts a rule for mail like the message ref: from its
// mailing list (List-Id) or else its sender, with its subject, moving it
// to a folder the user picks.
func (s *Server) ruleFromMessage(r *http.Request, ref string) (sieverules.Rule, error) {
	src, err := s.openSource(r, ref)
	if err != nil {
		return sieverules.Rule{}, err
	}
	defer src.Close()
	env := src.envelope()
	var rule sieverules.Rule
	if id := listID(src.hdr.Get("List-Id")); id != "" {
		rule.Name = "List " + id
		rule.Conditions = append(rule.Conditions, sieverules.Condition{Field: sieverules.FieldHeader, Header: "List-Id", Op: sieverules.OpContains, Value: id})
	} else if len(env.From) > 0 && env.From[0].Host != "" {
		from := strings.ToLower(env.From[0].Mailbox + "@" + env.From[0].Host)
		rule.Name = "Mail from " + from
		rule.Conditions = append(rule.Conditions, sieverules.Condition{Field: sieverules.FieldFrom, Op: sieverules.OpIs, Value: from})
	}
	if env.DecodedSubject != "" {
		rule.Conditions = append(rule.Conditions, sieverules.Condition{Field: sieverules.FieldSubject, Op: sieverules.OpContains, Value: env.DecodedSubject})
	}
	rule.Actions = []sieverules.Action{{Kind: sieverules.ActionMove}}
	return rule, nil
}

// listID is the identifier of a List-Id field (RFC 2919): what is
// between the angle brackets, or the whole field.
func listID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return v
}

func (s *Server) renderRule(w http.ResponseWriter, r *http.Request, status int, errMsg string, index int, rule sieverules.Rule) {
	d := ruleData{Index: index, Rule: rule, Fields: fieldChoices, Ops: opChoices, Kinds: actionChoices}
	d.Conds = append(slices.Clone(rule.Conditions), make([]sieverules.Condition, spareConds)...)
	d.Actions = append(slices.Clone(rule.Actions), make([]sieverules.Action, spareActions)...)
	if folders, err := s.user(r).List(r.Context()); err == nil {
		for _, f := range folders {
			if f.Owner() == "" {
				d.Folders = append(d.Folders, f.Name())
			}
		}
	} else {
		s.log.Warn("web: rule form without the folder list", "err", err)
	}
	title := "New rule"
	if index >= 0 {
		title = "Edit rule"
	}
	s.render(w, r, status, "filterrule", view{Title: title, Error: errMsg, Data: d})
}

// saveRule stores the rule form: a new rule at the end, or an edited one
// in its place. Rows left empty are not part of the rule.
func (s *Server) saveRule(w http.ResponseWriter, r *http.Request) {
	index, err := strconv.Atoi(r.PostFormValue("rule"))
	if err != nil {
		index = -1
	}
	rule := ruleFromForm(r)
	var done string
	active, err := sieverules.Update(r.Context(), s.opts.Store, sessionOf(r).AccountID, func(rs *sieverules.Rules) error {
		if index < 0 {
			rs.Rules = append(rs.Rules, rule)
			done = "Rule added."
			return nil
		}
		if index >= len(rs.Rules) {
			return errNoRule
		}
		rs.Rules[index] = rule
		done = "Rule saved."
		return nil
	})
	switch {
	case errors.Is(err, sieverules.ErrInvalid):
		s.renderRule(w, r, http.StatusBadRequest, "Not saved: "+filterProblem(err), index, rule)
		return
	case err != nil:
		s.filterError(w, r, err)
		return
	}
	back(w, r, "/settings/filters", done+notActiveNote(active))
}

// maxRows bounds the rows a rule form may post.
const maxRows = sieverules.MaxConditions + sieverules.MaxActions

func ruleFromForm(r *http.Request) sieverules.Rule {
	rule := sieverules.Rule{
		Name:     strings.TrimSpace(r.PostFormValue("name")),
		Disabled: r.PostFormValue("enabled") == "",
		Any:      r.PostFormValue("match") == "any",
	}
	for i := range maxRows {
		p := "c" + strconv.Itoa(i) + "."
		c := sieverules.Condition{Field: r.PostFormValue(p + "field"), Header: r.PostFormValue(p + "header"),
			Op: r.PostFormValue(p + "op"), Not: r.PostFormValue(p+"not") != "", Value: r.PostFormValue(p + "value")}
		switch c.Field {
		case "":
			continue
		case sieverules.FieldAttachment:
		default:
			if strings.TrimSpace(c.Value) == "" {
				continue // a row the user left empty
			}
		}
		if c.Field == sieverules.FieldSize && c.Op != sieverules.OpUnder {
			c.Op = sieverules.OpOver
		}
		rule.Conditions = append(rule.Conditions, c)
	}
	for i := range maxRows {
		p := "a" + strconv.Itoa(i) + "."
		a := sieverules.Action{Kind: r.PostFormValue(p + "kind"), Folder: r.PostFormValue(p + "folder"),
			Address: r.PostFormValue(p + "address"), Keep: r.PostFormValue(p+"keep") != "", Text: r.PostFormValue(p + "text")}
		if a.Kind != "" {
			rule.Actions = append(rule.Actions, a)
		}
	}
	return rule
}
