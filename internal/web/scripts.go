package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"mailroom/internal/sieve"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
)

// The raw editor of the account's Sieve scripts: the managed one and any
// a mail program uploaded over ManageSieve, each checked by sieve.Check
// before it is stored.

type scriptsData struct {
	Scripts    []store.SieveScript
	ScriptName string // the managed script's
	// Editing is the script in the editor ("" with New: a new one).
	Editing string
	New     bool
	Content string
	// ErrLine is the line the error is on (0: none, or not known), with
	// the lines around it for the listing.
	ErrLine  int
	ErrMsg   string
	ErrLines []scriptLine
}

type scriptLine struct {
	N    int
	Text string
	Bad  bool
}

func (s *Server) scriptsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := scriptsData{New: q.Has("new"), Editing: q.Get("name")}
	if d.Editing != "" {
		sc, err := s.opts.Store.SieveScript(r.Context(), sessionOf(r).AccountID, d.Editing)
		if err != nil {
			s.fail(w, r, storeStatus(err), "There is no such script.")
			return
		}
		d.Content = sc.Content
	}
	s.renderScripts(w, r, http.StatusOK, "", d)
}

func (s *Server) renderScripts(w http.ResponseWriter, r *http.Request, status int, errMsg string, d scriptsData) {
	list, err := s.opts.Store.SieveScripts(r.Context(), sessionOf(r).AccountID)
	if err != nil {
		s.log.Error("web: listing the Sieve scripts failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not list your filter scripts.")
		return
	}
	d.Scripts, d.ScriptName = list, sieverules.ScriptName
	s.render(w, r, status, "scripts", view{Title: "Filter scripts", Error: errMsg, Data: d})
}

// errorLines is the listing of the lines around line, the bad one marked.
func errorLines(content string, line int) []scriptLine {
	lines := strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n")
	var out []scriptLine
	for n := max(1, line-3); n <= min(len(lines), line+3); n++ {
		out = append(out, scriptLine{N: n, Text: lines[n-1], Bad: n == line})
	}
	return out
}

func (s *Server) scriptsAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	acct := sessionOf(r).AccountID
	name := strings.TrimSpace(r.PostFormValue("name"))
	var err error
	var done string
	switch r.PostFormValue("action") {
	case "save":
		// A browser's text area sends CRLF; scripts are kept with LF, as
		// the rules editor writes them.
		content := strings.ReplaceAll(r.PostFormValue("content"), "\r\n", "\n")
		d := scriptsData{Editing: name, New: r.PostFormValue("new") != "", Content: content}
		if name == "" {
			s.renderScripts(w, r, http.StatusBadRequest, "Not saved: give the script a name.", d)
			return
		}
		if d.New {
			if _, err := s.opts.Store.SieveScript(ctx, acct, name); err == nil {
				s.renderScripts(w, r, http.StatusBadRequest, "Not saved: you already have a script named “"+name+"”.", d)
				return
			}
		}
		if err := sieve.Check(content); err != nil {
			var se *sieve.Error
			msg := err.Error()
			if errors.As(err, &se) {
				d.ErrLine, d.ErrMsg = se.Line, se.Msg
				if se.Line > 0 {
					d.ErrLines = errorLines(content, se.Line)
				}
			}
			s.renderScripts(w, r, http.StatusBadRequest, "Not saved: the script has an error: "+msg, d)
			return
		}
		if err := s.opts.Store.PutSieveScript(ctx, acct, name, content); err != nil {
			if scriptStatus(err) == http.StatusInternalServerError {
				s.log.Error("web: storing a Sieve script failed", "err", err)
			}
			s.renderScripts(w, r, scriptStatus(err), "Not saved: "+scriptError(err), d)
			return
		}
		back(w, r, "/settings/scripts?name="+url.QueryEscape(name), "Script “"+name+"” saved.")
		return
	case "activate":
		err, done = s.opts.Store.SetActiveSieveScript(ctx, acct, name), "“"+name+"” now filters your mail."
	case "deactivate":
		err, done = s.opts.Store.SetActiveSieveScript(ctx, acct, ""), "No script filters your mail now."
	case "delete":
		err, done = s.opts.Store.DeleteSieveScript(ctx, acct, name), "Script “"+name+"” deleted."
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if err != nil {
		if scriptStatus(err) == http.StatusInternalServerError {
			s.log.Error("web: changing a Sieve script failed", "err", err)
		}
		s.renderScripts(w, r, scriptStatus(err), "Not done: "+scriptError(err), scriptsData{})
		return
	}
	back(w, r, "/settings/scripts", done)
}

// scriptStatus is storeStatus with the store's refusals of scripts.
func scriptStatus(err error) int {
	if errors.Is(err, store.ErrSieveActive) || errors.Is(err, store.ErrSieveTooBig) || errors.Is(err, store.ErrSieveTooMany) {
		return http.StatusBadRequest
	}
	return storeStatus(err)
}

// scriptError says what the store refused, in words for the user.
func scriptError(err error) string {
	switch {
	case errors.Is(err, store.ErrSieveActive):
		return "it is the script that filters your mail: deactivate it first."
	case errors.Is(err, store.ErrSieveTooBig):
		return "the script is too large."
	case errors.Is(err, store.ErrSieveTooMany):
		return "you have too many scripts: delete one first."
	case errors.Is(err, store.ErrNotFound):
		return "there is no such script."
	case errors.Is(err, store.ErrInvalid):
		return err.Error()
	}
	return "the server could not do it now; try again shortly."
}
