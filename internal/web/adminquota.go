package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"mailroom/internal/store"
)

// Quotas on the admin pages, as `mailroom quota set` sets them: the
// server's default, each domain's (the default of its accounts) and each
// account's own, storage with units (10G) and messages, "unlimited" or
// "inherit"; with every account's usage.

type adminQuotaLevel struct {
	Scope    string // "server", "domain", "account"
	Target   string // the domain or the address; "" for the server
	Storage  string // the limit as the form shows it (limitInput)
	Messages string
	Usage    []quotaBar // an account's
	Shared   bool       // a shared mailbox
	CSRF     string     // the session's, for the level's form
}

type adminQuotaData struct {
	Server   adminQuotaLevel
	Domains  []adminQuotaLevel
	Accounts []adminQuotaLevel
}

func (s *Server) adminQuotaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/quotas", s.requireAdmin(s.adminQuotaPage))
	mux.HandleFunc("POST /admin/quotas", s.requireAdmin(s.adminQuotaSet))
}

func (s *Server) adminQuotaPage(w http.ResponseWriter, r *http.Request) {
	s.renderAdminQuota(w, r, http.StatusOK, "")
}

func (s *Server) renderAdminQuota(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	d, err := s.adminQuotas(r.Context())
	if err != nil {
		s.log.Error("web: reading quotas failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read the quotas.")
		return
	}
	// Each level's form is a template of its own, which sees only the
	// level.
	csrf := sessionOf(r).CSRF
	d.Server.CSRF = csrf
	for _, ls := range [][]adminQuotaLevel{d.Domains, d.Accounts} {
		for i := range ls {
			ls[i].CSRF = csrf
		}
	}
	s.render(w, r, status, "adminquota", view{Title: "Quotas", Error: errMsg, Data: d})
}

// adminQuotas reads every level's limits and every account's usage: a
// read per domain and per account, on this page only.
func (s *Server) adminQuotas(ctx context.Context) (adminQuotaData, error) {
	var d adminQuotaData
	level := func(scope store.QuotaScope, kind, target string) (adminQuotaLevel, error) {
		q, err := s.opts.Store.QuotaLimits(ctx, scope)
		if err != nil {
			return adminQuotaLevel{}, fmt.Errorf("web: quota of %s %s: %w", kind, target, err)
		}
		return adminQuotaLevel{Scope: kind, Target: target, Storage: limitInput(q.Storage, true), Messages: limitInput(q.Messages, false)}, nil
	}
	var err error
	if d.Server, err = level(store.QuotaScope{}, "server", ""); err != nil {
		return d, err
	}
	domains, err := s.opts.Store.Domains(ctx)
	if err != nil {
		return d, fmt.Errorf("web: domains: %w", err)
	}
	for _, dom := range domains {
		l, err := level(store.QuotaScope{Domain: dom.Name}, "domain", dom.Name)
		if err != nil {
			return d, err
		}
		d.Domains = append(d.Domains, l)
	}
	accts, err := s.opts.Store.Accounts(ctx)
	if err != nil {
		return d, fmt.Errorf("web: accounts: %w", err)
	}
	for _, a := range accts {
		u, err := s.opts.Store.QuotaUsage(ctx, a.ID)
		if err != nil {
			return d, fmt.Errorf("web: usage of %s: %w", a.Email, err)
		}
		d.Accounts = append(d.Accounts, adminQuotaLevel{Scope: "account", Target: a.Email, Shared: a.Shared,
			Storage: limitInput(u.Own.Storage, true), Messages: limitInput(u.Own.Messages, false), Usage: quotaBars(u)})
	}
	return d, nil
}

// limitInput writes a limit as the form takes it back unchanged: a
// storage limit in the largest unit that divides it exactly ("10G",
// "1536M"), so that saving a form changes only what was edited.
func limitInput(l store.QuotaLimit, storage bool) string {
	switch {
	case l == store.Unlimited:
		return "unlimited"
	case l == store.Inherit:
		return "inherit"
	case !storage || l == 0:
		return strconv.FormatInt(int64(l), 10)
	}
	for i, unit := range []string{"P", "T", "G", "M", "K"} {
		size := int64(1) << (10 * (5 - i))
		if int64(l)%size == 0 {
			return strconv.FormatInt(int64(l)/size, 10) + unit
		}
	}
	return strconv.FormatInt(int64(l), 10)
}

// adminQuotaSet sets one level's limits; a field left empty keeps its
// limit.
func (s *Server) adminQuotaSet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	target := strings.TrimSpace(r.PostFormValue("target"))
	var scope store.QuotaScope
	what := "the server's default"
	switch r.PostFormValue("scope") {
	case "server":
	case "domain":
		d, err := s.opts.Store.Domain(ctx, target)
		if err != nil {
			s.renderAdminQuota(w, r, http.StatusNotFound, "Not saved: no domain "+target+" is hosted here.")
			return
		}
		scope.Domain, what = d.Name, "the default of "+d.Name
	case "account":
		acct, err := s.opts.Store.Account(ctx, target)
		if err != nil {
			s.renderAdminQuota(w, r, http.StatusNotFound, "Not saved: no account "+target+" exists here.")
			return
		}
		scope.AccountID, what = acct.ID, "the limits of "+acct.Email
	default:
		http.Error(w, "unknown scope", http.StatusBadRequest)
		return
	}
	q, err := s.opts.Store.QuotaLimits(ctx, scope)
	if err != nil {
		s.log.Error("web: reading quota limits failed", "err", err)
		s.renderAdminQuota(w, r, http.StatusInternalServerError, "Not saved: the limits could not be read; try again.")
		return
	}
	for _, f := range []struct {
		field, label string
		storage      bool
		limit        *store.QuotaLimit
	}{{"storage", "Storage", true, &q.Storage}, {"messages", "Messages", false, &q.Messages}} {
		v := strings.TrimSpace(r.PostFormValue(f.field))
		if v == "" {
			continue
		}
		if *f.limit, err = store.ParseQuotaLimit(v, f.storage); err != nil {
			s.renderAdminQuota(w, r, http.StatusBadRequest, "Not saved: "+f.label+": "+storeReason(err)+". "+limitHelp(f.storage))
			return
		}
	}
	if err := s.opts.Store.SetQuotaLimits(ctx, scope, q); err != nil {
		status := storeStatus(err)
		msg := "Not saved: " + storeReason(err) + "."
		if status == http.StatusInternalServerError && !errors.Is(err, store.ErrInvalid) {
			s.log.Error("web: setting quota limits failed", "err", err)
			msg = "Not saved: the limits could not be stored; try again."
		}
		s.renderAdminQuota(w, r, status, msg)
		return
	}
	back(w, r, "/admin/quotas", "Saved "+what+": storage "+limitWords(q.Storage, true)+", messages "+limitWords(q.Messages, false)+".")
}

// limitHelp says what a limit field takes.
func limitHelp(storage bool) string {
	if storage {
		return "Write a size (10G, 500M: K, M, G, T are powers of 1024), unlimited, or inherit."
	}
	return "Write a number of messages, unlimited, or inherit."
}

// limitWords writes a limit for people.
func limitWords(l store.QuotaLimit, storage bool) string {
	if storage && l >= 0 {
		return store.FormatOctets(int64(l))
	}
	return l.String()
}
