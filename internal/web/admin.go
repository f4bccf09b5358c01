package web

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/dkim"
	"mailroom/internal/dnsrecords"
	"mailroom/internal/store"
)

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", s.requireAdmin(s.adminPage))
	mux.HandleFunc("POST /admin/domains", s.requireAdmin(s.adminDomain))
	mux.HandleFunc("POST /admin/accounts", s.requireAdmin(s.adminAccount))
	mux.HandleFunc("POST /admin/aliases", s.requireAdmin(s.adminAlias))
	mux.HandleFunc("POST /admin/queue", s.requireAdmin(s.adminQueue))
	mux.HandleFunc("GET /admin/dns/{domain}", s.requireAdmin(s.adminDNS))
	s.adminSharedRoutes(mux)
	s.adminQuotaRoutes(mux)
}

type adminAccount struct {
	store.Account
	Admin bool
}

type adminData struct {
	Domains  []store.Domain
	Accounts []adminAccount
	Aliases  []store.Alias
	Queue    []store.QueuedMessage
	Records  string
	Domain   string
	// Errs are the errors of the form just posted, by field id; that
	// form keeps what was typed in Form (by field id; never a password).
	Errs fieldErrors
	Form map[string]string
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request) {
	s.renderAdmin(w, r, http.StatusOK, nil)
}

// adminFieldError shows the admin page again with msg beside the field
// id and what the form posted kept.
func (s *Server) adminFieldError(w http.ResponseWriter, r *http.Request, status int, id, msg string, form map[string]string) {
	s.renderAdmin(w, r, status, func(d *adminData) { d.Errs, d.Form = fieldErrors{id: msg}, form })
}

// adminProblem says in a sentence why a change to what (“the domain”)
// failed, logging what a person cannot act on.
func (s *Server) adminProblem(what string, err error) string {
	switch {
	case errors.Is(err, store.ErrExists):
		return sentence(what + " exists already")
	case errors.Is(err, store.ErrNotFound):
		return sentence(what + " does not exist (any more); reload the page")
	case errors.Is(err, store.ErrUnknownDomain):
		return "That address is not in a domain of this server: add the domain first."
	case errors.Is(err, store.ErrInvalid):
		return "That is not a valid address: write it as name@example.org."
	}
	s.log.Error("web: admin change failed", "what", what, "err", err)
	return sentence(what + " could not be changed now; try again shortly")
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, status int, fill func(*adminData)) {
	ctx := r.Context()
	var d adminData
	var err error
	if d.Domains, err = s.opts.Store.Domains(ctx); err == nil {
		var accts []store.Account
		if accts, err = s.opts.Store.Accounts(ctx); err == nil {
			for _, a := range accts {
				st, _ := s.opts.Store.Settings(ctx, a.ID)
				d.Accounts = append(d.Accounts, adminAccount{Account: a, Admin: st.Bool("admin")})
			}
			if d.Aliases, err = s.opts.Store.Aliases(ctx); err == nil {
				d.Queue, err = s.opts.Store.QueuedMessages(ctx)
			}
		}
	}
	if err != nil {
		s.log.Error("web: reading the admin page failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read the server's configuration now; try again shortly.")
		return
	}
	if fill != nil {
		fill(&d)
	}
	s.render(w, r, status, "admin", view{Title: "Admin", Data: d})
}

func (s *Server) adminDomain(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := strings.TrimSpace(strings.ToLower(r.PostFormValue("name")))
	switch r.PostFormValue("action") {
	case "add":
		d, err := s.opts.Store.CreateDomain(ctx, name)
		if err != nil {
			msg := s.adminProblem("the domain "+name, err)
			if errors.Is(err, store.ErrInvalid) {
				msg = "That is not a domain name: write it as example.org."
			}
			s.adminFieldError(w, r, storeStatus(err), "newdomain", msg, map[string]string{"newdomain": name})
			return
		}
		if _, err := dkim.Generate(ctx, s.opts.Store, d.Name, time.Now()); err != nil {
			s.log.Error("web: making DKIM keys failed", "domain", d.Name, "err", err)
			s.fail(w, r, http.StatusInternalServerError, "The domain was added, but its DKIM keys could not be made now: open its DNS records to try again.")
			return
		}
		back(w, r, "/admin/dns/"+d.Name, "Domain added: publish these DNS records.")
	case "delete":
		if err := s.opts.Store.DeleteDomain(ctx, name); err != nil {
			msg := s.adminProblem("the domain "+name, err)
			if errors.Is(err, store.ErrNotEmpty) {
				msg = "The domain still has accounts or aliases: delete them first."
			}
			s.fail(w, r, storeStatus(err), msg)
			return
		}
		back(w, r, "/admin", "Domain deleted.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

func (s *Server) adminAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := strings.TrimSpace(r.PostFormValue("email"))
	switch r.PostFormValue("action") {
	case "add":
		pw := r.PostFormValue("password")
		kept := map[string]string{"newemail": email}
		if len(pw) < 8 {
			s.adminFieldError(w, r, http.StatusBadRequest, "newpw", "The password must have at least 8 characters.", kept)
			return
		}
		cred, err := auth.HashPassword(pw, auth.DefaultParams)
		if err != nil {
			s.log.Error("web: hashing a password failed", "err", err)
			s.fail(w, r, http.StatusInternalServerError, "The account could not be created now; try again shortly.")
			return
		}
		if _, err := s.opts.Store.CreateAccount(ctx, email, cred); err != nil {
			s.adminFieldError(w, r, storeStatus(err), "newemail", s.adminProblem("the account "+email, err), kept)
			return
		}
		back(w, r, "/admin", "Account "+email+" created.")
	case "delete":
		acct, err := s.opts.Store.Account(ctx, email)
		if err == nil && acct.ID == sessionOf(r).AccountID {
			s.fail(w, r, http.StatusBadRequest, "You cannot delete the account you are logged in with.")
			return
		}
		if err == nil {
			err = s.opts.Store.DeleteAccount(ctx, email)
		}
		if err != nil {
			s.fail(w, r, storeStatus(err), s.adminProblem("the account "+email, err))
			return
		}
		// The store ended the account's sessions with it; this drops
		// what this process kept for them.
		if err := s.opts.Sessions.endAccount(ctx, acct.ID, nil); err != nil {
			s.log.Warn("end the web sessions of a deleted account", "account", email, "err", err)
		}
		back(w, r, "/admin", "Account "+email+" deleted with all its mail.")
	case "admin", "unadmin":
		acct, err := s.opts.Store.Account(ctx, email)
		if err == nil {
			err = s.opts.Store.SetSettings(ctx, acct.ID, map[string]string{"admin": strconv.FormatBool(r.PostFormValue("action") == "admin")})
		}
		if err != nil {
			s.fail(w, r, storeStatus(err), s.adminProblem("the account "+email, err))
			return
		}
		back(w, r, "/admin", "Saved.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

func (s *Server) adminAlias(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	alias := strings.TrimSpace(r.PostFormValue("alias"))
	switch r.PostFormValue("action") {
	case "add":
		targets := strings.FieldsFunc(r.PostFormValue("targets"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' })
		if err := s.opts.Store.AddAlias(ctx, alias, targets); err != nil {
			id := "newalias"
			if len(targets) == 0 {
				id = "targets"
			}
			s.adminFieldError(w, r, storeStatus(err), id, s.adminProblem("the alias "+alias, err),
				map[string]string{"newalias": alias, "targets": r.PostFormValue("targets")})
			return
		}
		back(w, r, "/admin", "Alias saved.")
	case "delete":
		if err := s.opts.Store.DeleteAlias(ctx, alias); err != nil {
			s.fail(w, r, storeStatus(err), s.adminProblem("the alias "+alias, err))
			return
		}
		back(w, r, "/admin", "Alias deleted.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

func (s *Server) adminQueue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	switch r.PostFormValue("action") {
	case "retry":
		if _, err := s.opts.Store.RetryQueued(ctx, id, time.Now()); err != nil {
			s.fail(w, r, storeStatus(err), s.adminProblem("the queued message", err))
			return
		}
		s.opts.Queue.Wake()
		back(w, r, "/admin", "Trying again now.")
	case "drop", "drop-silent":
		if _, err := s.opts.Queue.Drop(ctx, id, r.PostFormValue("action") == "drop-silent"); err != nil {
			s.fail(w, r, storeStatus(err), s.adminProblem("the queued message", err))
			return
		}
		back(w, r, "/admin", "Message dropped.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

// adminDNS shows the records to publish for a domain, as `mailroom domain
// dns` prints them.
func (s *Server) adminDNS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := s.opts.Store.Domain(ctx, r.PathValue("domain"))
	if err != nil {
		s.fail(w, r, storeStatus(err), "There is no such domain.")
		return
	}
	keys, err := dkim.Load(ctx, s.opts.Store, d.Name)
	if errors.Is(err, dkim.ErrNoKeys) {
		keys, err = dkim.Generate(ctx, s.opts.Store, d.Name, time.Now())
	}
	if err != nil {
		s.log.Error("web: reading DKIM keys failed", "domain", d.Name, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read the domain's DKIM keys now; try again shortly.")
		return
	}
	var buf bytes.Buffer
	dnsrecords.Format(&buf, dnsrecords.For(dnsrecords.FromConfig(s.opts.Config, d.Name, keys.Records())))
	s.render(w, r, http.StatusOK, "admindns", view{Title: "DNS records for " + d.Name, Data: adminData{Domain: d.Name, Records: buf.String()}})
}
