package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/imapmigrate"
	"mailroom/internal/store"
)

// The "Import from another account" page runs imapmigrate inside the
// server for the logged-in account: the same job as `mailroom migrate`,
// with the same state in data_dir/import, so either can continue what the
// other started. The password is used for the job's connections and
// dropped with the job; it is never stored or logged.
func (s *Server) migrateRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings/import", s.requireLogin(s.migratePage))
	mux.HandleFunc("POST /settings/import", s.requireLogin(s.startMigration))
	mux.HandleFunc("GET /settings/import/status", s.requireLogin(s.migrationStatus))
}

type migrateData struct {
	Job *imapmigrate.JobStatus
	// The form as last filled (never the password).
	Host, Port, User, Security string
	SelfSigned                 bool
	Errs                       fieldErrors // beside the fields
}

func (s *Server) migratePage(w http.ResponseWriter, r *http.Request) {
	s.renderMigrate(w, r, http.StatusOK, "", migrateData{Security: "imaps"})
}

func (s *Server) renderMigrate(w http.ResponseWriter, r *http.Request, status int, errMsg string, d migrateData) {
	if j := s.opts.Migrations.Get(sessionOf(r).AccountID); j != nil {
		st := j.Status()
		d.Job = &st
		if d.Host == "" {
			if src, err := imapmigrate.ParseSource(st.Source); err == nil {
				d.Host, d.Port, d.User = src.Host, strconv.Itoa(src.Port), src.User
				d.Security = "imap"
				if src.TLS {
					d.Security = "imaps"
				}
			}
		}
	}
	s.render(w, r, status, "migrate", view{Title: "Import from another account", Error: errMsg, Data: d})
}

func (s *Server) startMigration(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	d := migrateData{
		Host:       strings.TrimSpace(r.PostFormValue("host")),
		Port:       strings.TrimSpace(r.PostFormValue("port")),
		User:       strings.TrimSpace(r.PostFormValue("user")),
		Security:   r.PostFormValue("security"),
		SelfSigned: r.PostFormValue("selfsigned") == "on",
	}
	password := r.PostFormValue("password")
	src := imapmigrate.Source{TLS: d.Security != "imap", Host: d.Host, User: d.User, Port: 993}
	if !src.TLS {
		src.Port = 143
	}
	if d.Port != "" {
		p, err := strconv.Atoi(d.Port)
		if err != nil || p < 1 || p > 65535 {
			d.Errs = fieldErrors{"mport": "Enter a port from 1 to 65535, or leave it empty for the usual one."}
			s.renderMigrate(w, r, http.StatusBadRequest, "", d)
			return
		}
		src.Port = p
	}
	// The form's fields make the URL the command takes, and are checked
	// by the same parser.
	if _, err := imapmigrate.ParseSource(src.String()); err != nil || d.Host == "" || d.User == "" || strings.ContainsAny(d.Host, "/@ ") {
		d.Errs = fieldErrors{"mhost": "Enter the name of the server, such as imap.example.com, without a port or a slash."}
		if d.Host != "" && !strings.ContainsAny(d.Host, "/@ ") {
			d.Errs = fieldErrors{"muser": "Enter your user name on that server (often your full address there)."}
		}
		s.renderMigrate(w, r, http.StatusBadRequest, "", d)
		return
	}
	if password == "" {
		d.Errs = fieldErrors{"mpassword": "Enter your password on that server."}
		s.renderMigrate(w, r, http.StatusBadRequest, "", d)
		return
	}
	if s.opts.Mailboxes == nil {
		s.renderMigrate(w, r, http.StatusServiceUnavailable, "Imports are not available on this server.", d)
		return
	}
	_, err := s.opts.Migrations.Start(sess.AccountID, imapmigrate.Options{
		Store: s.opts.Store, Mail: s.opts.Mailboxes, Account: sess.Email,
		Source: src, Password: password, InsecureTLS: d.SelfSigned,
		StateDir: filepath.Join(s.opts.Config.DataDir, "import"),
	})
	if errors.Is(err, imapmigrate.ErrJobRunning) {
		s.renderMigrate(w, r, http.StatusConflict, "An import is already running: wait for it to finish.", d)
		return
	}
	if err != nil {
		s.log.Error("web: import from another account not started", "account", sess.Email, "err", err)
		s.renderMigrate(w, r, http.StatusServiceUnavailable, "The import could not start now; try again shortly.", d)
		return
	}
	http.Redirect(w, r, "/settings/import", http.StatusSeeOther)
}

// migrationStatus is the job's state for the page's script.
func (s *Server) migrationStatus(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"running": false}
	if j := s.opts.Migrations.Get(sessionOf(r).AccountID); j != nil {
		st := j.Status()
		out = map[string]any{
			"running": st.Running, "messages": st.Progress.Messages, "total": st.Progress.TotalMessages,
			"bytes": store.FormatOctets(st.Progress.Bytes), "folder": st.Progress.Folder,
			"elapsed": st.Elapsed.Round(time.Second).String(), "error": st.Err,
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
