package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/mailfetch"
	"mailroom/internal/store"
)

// Settings → Collect mail from other accounts: the account's sources
// (store.FetchSources), added, tested, changed, collected now and
// deleted; their status as the fetcher (internal/mailfetch) left it.

// Fetcher collects mail from a source on demand and tests settings.
type Fetcher interface {
	RunSource(ctx context.Context, acct store.Account, id int64) (mailfetch.Result, error)
	Test(ctx context.Context, src store.FetchSource) (string, error)
	Wake()
}

func (s *Server) fetchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings/fetch", s.requireLogin(s.fetchPage))
	mux.HandleFunc("POST /settings/fetch", s.requireLogin(s.fetchAction))
}

type fetchData struct {
	Enabled bool // [fetch] enabled: the server collects
	Sources []fetchRow
	// Form is the add or edit form's content; Form.ID 0 adds.
	Form       fetchForm
	TestResult string
	Interval   string
}

type fetchRow struct {
	store.FetchSource
	Status string // the last run, in words
}

// fetchForm is what the form holds; the password is never sent back.
type fetchForm struct {
	ID                         int64
	Protocol, Security         string
	Host, Port, Username       string
	Folder, Mailbox            string
	Delete, MarkRead, Disabled bool
	HasPassword                bool // editing: a password is stored
	Errs                       fieldErrors
}

// fetchProblem turns store.CheckFetchSource's refusal into the field it
// is about and a sentence for the person who typed it.
func fetchProblem(err error) (field, msg string) {
	text := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
	long := "This is too long, or not one line of text."
	switch {
	case strings.HasPrefix(text, "protocol"):
		return "protocol", "Choose IMAP or POP3."
	case strings.HasPrefix(text, "security"):
		return "security", "Choose TLS or STARTTLS."
	case strings.HasPrefix(text, "host"):
		return "host", "Enter the name of the server, such as imap.example.net, without a port or a slash."
	case strings.HasPrefix(text, "port"):
		return "port", "Enter a port from 1 to 65535, or leave it empty for the usual one."
	case text == "the login is empty":
		return "username", "Enter your login at that server (often your full address there)."
	case text == "the password is empty":
		return "password", "Enter your password at that server."
	case strings.HasPrefix(text, "the login "):
		return "username", long
	}
	for _, f := range []string{"host", "password", "folder", "mailbox"} {
		if strings.HasPrefix(text, "the "+f+" ") {
			return f, long
		}
	}
	return "", sentence(text)
}

func formOf(src store.FetchSource) fetchForm {
	port := ""
	if src.Port != 0 && src.Port != store.DefaultFetchPort(src.Protocol, src.Security) {
		port = strconv.Itoa(src.Port)
	}
	return fetchForm{ID: src.ID, Protocol: src.Protocol, Security: src.Security, Host: src.Host, Port: port,
		Username: src.Username, Folder: src.Folder, Mailbox: src.Mailbox, Delete: src.Delete, MarkRead: src.MarkRead,
		Disabled: !src.Enabled && src.ID != 0, HasPassword: src.Password != ""}
}

func (s *Server) fetchPage(w http.ResponseWriter, r *http.Request) {
	form := fetchForm{Protocol: store.FetchIMAP, Security: store.FetchTLS}
	if id, err := strconv.ParseInt(r.URL.Query().Get("edit"), 10, 64); err == nil {
		src, err := s.ownSource(r, id)
		if err != nil {
			s.fail(w, r, http.StatusNotFound, "There is no such source of mail.")
			return
		}
		form = formOf(src)
	}
	s.renderFetch(w, r, http.StatusOK, form, "", "")
}

// ownSource reads one of the session's account's sources.
func (s *Server) ownSource(r *http.Request, id int64) (store.FetchSource, error) {
	src, err := s.opts.Store.FetchSource(r.Context(), id)
	if err == nil && src.AccountID != sessionOf(r).AccountID {
		err = store.ErrNotFound
	}
	return src, err
}

func (s *Server) renderFetch(w http.ResponseWriter, r *http.Request, status int, form fetchForm, testResult, errMsg string) {
	srcs, err := s.opts.Store.FetchSources(r.Context(), sessionOf(r).AccountID)
	if err != nil {
		s.log.Error("web: reading the sources to collect from failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read your settings.")
		return
	}
	d := fetchData{Enabled: s.opts.Fetch != nil, Form: form, TestResult: testResult,
		Interval: s.opts.Config.Fetch.Interval.Std().String()}
	for _, src := range srcs {
		d.Sources = append(d.Sources, fetchRow{FetchSource: src, Status: statusWords(src)})
	}
	s.render(w, r, status, "fetch", view{Title: "Collect mail from other accounts", Error: errMsg, Data: d})
}

// statusWords says how the last run went.
func statusWords(src store.FetchSource) string {
	when := func(t time.Time) string { return t.Format("2 Jan 2006 15:04") }
	switch {
	case src.LastAttempt.IsZero():
		return "Not collected yet."
	case src.Failures > 0:
		return fmt.Sprintf("Failed at %s: %s", when(src.LastAttempt), src.LastError)
	case src.LastError != "":
		return fmt.Sprintf("Collected at %s, but: %s", when(src.LastSuccess), src.LastError)
	}
	return "Collected at " + when(src.LastSuccess) + "."
}

// sourceFromForm reads the form into a source of the account.
func sourceFromForm(r *http.Request) (store.FetchSource, fetchForm) {
	f := fetchForm{
		Protocol: r.PostFormValue("protocol"), Security: r.PostFormValue("security"),
		Host: strings.TrimSpace(r.PostFormValue("host")), Port: strings.TrimSpace(r.PostFormValue("port")),
		Username: strings.TrimSpace(r.PostFormValue("username")), Folder: strings.TrimSpace(r.PostFormValue("folder")),
		Mailbox: strings.TrimSpace(r.PostFormValue("mailbox")), Delete: r.PostFormValue("delete") != "",
		MarkRead: r.PostFormValue("markread") != "", Disabled: r.PostFormValue("disabled") != "",
	}
	f.ID, _ = strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	port, _ := strconv.Atoi(f.Port)
	if f.Port != "" && port == 0 {
		port = -1 // refused by the check, as the user typed it
	}
	return store.FetchSource{ID: f.ID, AccountID: sessionOf(r).AccountID, Protocol: f.Protocol, Security: f.Security,
		Host: f.Host, Port: port, Username: f.Username, Password: r.PostFormValue("password"), Folder: f.Folder,
		Mailbox: f.Mailbox, Delete: f.Delete, MarkRead: f.MarkRead, Enabled: !f.Disabled}, f
}

func (s *Server) fetchAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	blank := fetchForm{Protocol: store.FetchIMAP, Security: store.FetchTLS}
	switch action := r.PostFormValue("action"); action {
	case "save", "test":
		src, form := sourceFromForm(r)
		if src.ID != 0 {
			old, err := s.ownSource(r, src.ID)
			if err != nil {
				s.renderFetch(w, r, http.StatusNotFound, blank, "", "That source is no longer there.")
				return
			}
			if src.Password == "" {
				src.Password = old.Password // the form never shows it: empty keeps it
			}
			form.HasPassword = true
		}
		check := src
		if err := store.CheckFetchSource(&check); err != nil {
			field, msg := fetchProblem(err)
			if field == "" {
				s.renderFetch(w, r, http.StatusBadRequest, form, "", "Not saved: "+msg)
				return
			}
			form.Errs = fieldErrors{field: msg}
			s.renderFetch(w, r, http.StatusBadRequest, form, "", "")
			return
		}
		if action == "test" {
			if s.opts.Fetch == nil {
				s.renderFetch(w, r, http.StatusServiceUnavailable, form, "", "Collecting mail is turned off on this server.")
				return
			}
			msg, err := s.opts.Fetch.Test(ctx, src)
			if err != nil {
				s.renderFetch(w, r, http.StatusOK, form, "", "The test failed: "+err.Error())
				return
			}
			s.renderFetch(w, r, http.StatusOK, form, msg, "")
			return
		}
		var err error
		if src.ID == 0 {
			_, err = s.opts.Store.AddFetchSource(ctx, src)
		} else {
			err = s.opts.Store.UpdateFetchSource(ctx, src)
		}
		switch {
		case errors.Is(err, store.ErrFetchTooMany):
			s.renderFetch(w, r, http.StatusBadRequest, form, "", fmt.Sprintf("Not saved: you can collect from at most %d accounts.", store.MaxFetchSources))
			return
		case err != nil:
			s.log.Error("web: saving a source to collect from failed", "err", err)
			s.renderFetch(w, r, http.StatusInternalServerError, form, "", "Not saved: try again shortly.")
			return
		}
		if s.opts.Fetch != nil {
			s.opts.Fetch.Wake() // a new source is collected at once
		}
		back(w, r, "/settings/fetch", "Saved.")
	case "delete":
		id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
		if err := s.opts.Store.DeleteFetchSource(ctx, sess.AccountID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("web: deleting a source failed", "err", err)
			s.renderFetch(w, r, http.StatusInternalServerError, blank, "", "Not deleted: try again shortly.")
			return
		}
		back(w, r, "/settings/fetch", "Deleted. Mail already collected stays here.")
	case "run":
		id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
		if s.opts.Fetch == nil {
			s.renderFetch(w, r, http.StatusServiceUnavailable, blank, "", "Collecting mail is turned off on this server.")
			return
		}
		acct, err := s.opts.Store.Account(ctx, sess.Email)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, "Could not read your account.")
			return
		}
		res, err := s.opts.Fetch.RunSource(ctx, acct, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			back(w, r, "/settings/fetch", "That source is no longer there.")
		case errors.Is(err, mailfetch.ErrBusy):
			back(w, r, "/settings/fetch", "Mail is being collected from that account right now; look again in a moment.")
		case err != nil:
			back(w, r, "/settings/fetch", fmt.Sprintf("Collected %d messages, then it failed (see the status below).", res.Fetched))
		default:
			back(w, r, "/settings/fetch", fmt.Sprintf("Collected %d new messages.", res.Fetched))
		}
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}
