package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/autoconfig"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
)

func (s *Server) settingsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings", s.requireLogin(s.settingsPage))
	mux.HandleFunc("POST /settings/password", s.requireLogin(s.changePassword))
	mux.HandleFunc("POST /settings/protocols", s.requireLogin(s.saveSettings("Protocols saved.",
		"imap.enabled", "pop3.enabled", "jmap.enabled", "pop3.delete_mode", "pop3.mark_seen", "pop3.scope")))
	mux.HandleFunc("POST /settings/forwarding", s.requireLogin(s.saveForwarding))
	mux.HandleFunc("POST /settings/vacation", s.requireLogin(s.saveVacation))
	mux.HandleFunc("POST /settings/app-passwords", s.requireLogin(s.appPassword))
	mux.HandleFunc("POST /settings/access-tokens", s.requireLogin(s.accessToken))
	mux.HandleFunc("POST /settings/delegates", s.requireLogin(s.delegateAction))
	mux.HandleFunc("POST /settings/delegation", s.requireLogin(s.saveSettings("Sent copies saved.", store.SentCopySetting)))
	mux.HandleFunc("GET /settings/setup.mobileconfig", s.requireLogin(s.mobileConfig))
}

type settingsData struct {
	Settings     store.Settings
	AppPasswords []store.AppPassword
	NewPassword  string // an app password just made, shown once
	NewName      string
	AccessTokens []tokenRow
	// NewToken is an access token just made, shown once; TokenForm is
	// what was typed into the form that makes one, with its errors.
	NewToken  string
	TokenForm tokenForm
	Setup     []autoconfig.Setting
	// Filters is the managed Sieve script, whose Forwarding and Vacation
	// the forms show (filters.go).
	Filters     sieverules.Managed
	ForwardTo   string // the addresses, as the form shows them
	ForwardKeep bool
	Vacation    sieverules.Vacation
	Quota       []quotaBar         // the account's usage, one bar per limited resource
	Delegates   []store.Delegation // who may send as this account
	SendAs      []store.Delegation // whom this account may send as
	// Errs are the errors of the form just posted, by field id, shown
	// beside each field; that form keeps what was typed (ForwardTo,
	// Vacation, VacationDays, AppName; never a password).
	Errs         fieldErrors
	VacationDays string // as typed; else Vacation.Days
	AppName      string // the app password's name typed
	Grantee      string // the delegate's address typed
}

// quotaBar is one resource's usage as the page shows it.
type quotaBar struct {
	Label   string // "Storage", "Messages"
	Used    string // "1.2 MiB", "42"
	Limit   string // "10 GiB", "unlimited"
	Percent int    // 0–100 for the bar; -1: unlimited, no bar
	Full    bool   // at or over the limit
}

// overQuotaMessage says, for an error the store gave because a write
// would take a mailbox over its quota, whose (own: the session's address),
// which limit and what to do; ok is false for any other error.
func overQuotaMessage(err error, own string) (msg string, ok bool) {
	var oq *store.OverQuotaError
	if !errors.As(err, &oq) {
		return "", false
	}
	limit := fmt.Sprintf("%d messages", int64(oq.Limit))
	if oq.Resource == store.QuotaStorage {
		limit = store.FormatOctets(int64(oq.Limit))
	}
	if oq.Email != "" && !strings.EqualFold(oq.Email, own) {
		return "the mailbox of " + oq.Email + " is full (it may hold " + limit + ").", true
	}
	return "your mailbox is full (it may hold " + limit + "). Delete messages you no longer need and empty the Trash, then try again.", true
}

// quotaFull reports whether an account is at or over one of its limits.
func quotaFull(u store.QuotaUsage) bool {
	return u.Limits.Storage >= 0 && u.Storage >= int64(u.Limits.Storage) || u.Limits.Messages >= 0 && u.Messages >= int64(u.Limits.Messages)
}

// quotaBars shows an account's usage: a bar for each limited resource,
// the plain number for an unlimited one.
func quotaBars(u store.QuotaUsage) []quotaBar {
	bars := []quotaBar{
		{Label: "Storage", Used: store.FormatOctets(u.Storage), Percent: -1},
		{Label: "Messages", Used: strconv.FormatInt(u.Messages, 10), Percent: -1},
	}
	for i, c := range []struct {
		used  int64
		limit store.QuotaLimit
	}{{u.Storage, u.Limits.Storage}, {u.Messages, u.Limits.Messages}} {
		b := &bars[i]
		if c.limit < 0 {
			b.Limit = "unlimited"
			continue
		}
		if i == 0 {
			b.Limit = store.FormatOctets(int64(c.limit))
		} else {
			b.Limit = strconv.FormatInt(int64(c.limit), 10)
		}
		b.Full = c.used >= int64(c.limit)
		b.Percent = 100
		if c.limit > 0 {
			b.Percent = int(min(100, c.used*100/int64(c.limit)))
		}
	}
	return bars
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, http.StatusOK, "", "", "")
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, errMsg, newName, newPassword string) {
	s.renderSettingsWith(w, r, status, errMsg, func(d *settingsData) { d.NewName, d.NewPassword = newName, newPassword })
}

// renderSettingsWith renders the settings page; fill adds what one form's
// answer shows (a secret made, what was typed and its errors).
func (s *Server) renderSettingsWith(w http.ResponseWriter, r *http.Request, status int, errMsg string, fill func(*settingsData)) {
	ctx := r.Context()
	sess := sessionOf(r)
	st, err := s.opts.Store.Settings(ctx, sess.AccountID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read your settings.")
		return
	}
	apps, err := s.opts.Store.AppPasswords(ctx, sess.AccountID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read your app passwords.")
		return
	}
	delegates, err := s.opts.Store.Delegations(ctx, sess.AccountID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read who may send as you.")
		return
	}
	sendAs, err := s.opts.Store.DelegatedTo(ctx, sess.AccountID, sess.Email)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read whom you may send as.")
		return
	}
	tokens, err := s.opts.Store.AccessTokens(ctx, sess.AccountID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Could not read your access tokens.")
		return
	}
	d := settingsData{Settings: st, AppPasswords: apps, Setup: s.setup.ClientSettings(sess.Email),
		Delegates: delegates, SendAs: sendAs}
	now := time.Now()
	for _, t := range tokens {
		d.AccessTokens = append(d.AccessTokens, tokenRow{AccessToken: t, Expired: t.Expired(now)})
	}
	if u, err := s.opts.Store.QuotaUsage(ctx, sess.AccountID); err == nil {
		d.Quota = quotaBars(u)
	} else {
		s.log.Warn("settings page without the quota usage", "account", sess.Email, "err", err)
	}
	m, err := sieverules.Load(ctx, s.opts.Store, sess.AccountID)
	if err != nil {
		s.log.Error("web: reading the filters failed", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not read your forwarding and vacation notice.")
		return
	}
	d.Filters = m
	d.ForwardTo = strings.Join(m.Rules.Forwarding.To, ", ")
	d.ForwardKeep = m.Rules.Forwarding.Keep || len(m.Rules.Forwarding.To) == 0 // keeping is the default
	d.Vacation = m.Rules.Vacation
	if d.Vacation == (sieverules.Vacation{}) {
		// Never set: the text it starts with.
		d.Vacation = sieverules.Vacation{Subject: settingDefault("vacation.subject"), Body: settingDefault("vacation.body"), Days: sieverules.DefaultDays}
	}
	// Last: what a form posted replaces what is stored.
	fill(&d)
	if d.VacationDays == "" && d.Vacation.Days > 0 {
		d.VacationDays = strconv.Itoa(d.Vacation.Days)
	}
	if d.NewPassword != "" || d.NewToken != "" {
		// A secret on the page: never cached.
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, status, "settings", view{Title: "Settings", Error: errMsg, Data: d})
}

// settingDefault is the default of a setting.
func settingDefault(key string) string {
	d, _ := store.LookupSetting(key)
	return d.Default
}

// saveSettings stores the named settings from the form. A checkbox that is
// not ticked is not sent by the browser: a bool key absent from the form
// is false.
func (s *Server) saveSettings(done string, keys ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		values := map[string]string{}
		for _, k := range keys {
			def, ok := store.LookupSetting(k)
			if !ok {
				continue
			}
			v := strings.TrimSpace(r.PostFormValue(k))
			if def.Kind == store.KindBool {
				v = strconv.FormatBool(v == "true" || v == "on")
			}
			values[k] = v
		}
		if err := s.opts.Store.SetSettings(r.Context(), sessionOf(r).AccountID, values); err != nil {
			status, msg := http.StatusBadRequest, "Not saved: one of the choices is not one this server offers. Reload the page and choose again."
			if !errors.Is(err, store.ErrInvalid) {
				s.log.Error("web: saving settings failed", "err", err)
				status, msg = http.StatusInternalServerError, "Not saved: the server could not store it now; try again shortly."
			}
			s.renderSettings(w, r, status, msg, "", "")
			return
		}
		back(w, r, "/settings", done)
	}
}

// saveForwarding stores the Forwarding of the managed Sieve script
// (delivery runs redirect for it). The addresses are checked as the
// forward.to setting checked them.
func (s *Server) saveForwarding(w http.ResponseWriter, r *http.Request) {
	typed := strings.TrimSpace(r.PostFormValue("forward.to"))
	keep := r.PostFormValue("forward.keep") == "on" || r.PostFormValue("forward.keep") == "true"
	kept := func(d *settingsData) { d.ForwardTo, d.ForwardKeep = typed, keep }
	to, err := store.NormalizeSetting("forward.to", typed)
	if err != nil {
		s.renderSettingsWith(w, r, http.StatusBadRequest, "", func(d *settingsData) {
			kept(d)
			d.Errs = fieldErrors{"fwdto": "Not saved: enter complete email addresses, such as kim@example.com, separated by commas."}
		})
		return
	}
	f := sieverules.Forwarding{Keep: keep}
	if to != "" {
		f.To = strings.Split(to, ", ")
	}
	s.saveFilterPart(w, r, "Forwarding saved.", "fwdto", kept, func(rs *sieverules.Rules) { rs.Forwarding = f })
}

// saveVacation stores the Vacation of the managed Sieve script.
func (s *Server) saveVacation(w http.ResponseWriter, r *http.Request) {
	v := sieverules.Vacation{
		Enabled: r.PostFormValue("vacation.enabled") == "on" || r.PostFormValue("vacation.enabled") == "true",
		Subject: r.PostFormValue("vacation.subject"),
		Body:    r.PostFormValue("vacation.body"),
		From:    r.PostFormValue("from"),
		Until:   r.PostFormValue("until"),
	}
	typedDays := strings.TrimSpace(r.PostFormValue("vacation.days"))
	kept := func(d *settingsData) { d.Vacation, d.VacationDays = v, typedDays }
	days, err := strconv.Atoi(typedDays)
	if typedDays != "" && (err != nil || days < 1 || days > sieverules.MaxDays) {
		s.renderSettingsWith(w, r, http.StatusBadRequest, "", func(d *settingsData) {
			kept(d)
			d.Errs = fieldErrors{"vdays": fmt.Sprintf("Not saved: enter a number of days from 1 to %d.", sieverules.MaxDays)}
		})
		return
	}
	s.saveFilterPart(w, r, "Vacation notice saved.", "vacation", kept, func(rs *sieverules.Rules) {
		v.Days = rs.Vacation.Days // a form without the field keeps what was set
		if days > 0 {
			v.Days = days
		}
		rs.Vacation = v
	})
}

// saveFilterPart changes the managed script with change and says what
// came of it; an error is shown beside field, with the form as kept
// fills it in.
func (s *Server) saveFilterPart(w http.ResponseWriter, r *http.Request, done, field string, kept func(*settingsData), change func(*sieverules.Rules)) {
	active, err := sieverules.Update(r.Context(), s.opts.Store, sessionOf(r).AccountID, func(rs *sieverules.Rules) error {
		change(rs)
		return nil
	})
	var status int
	var msg string
	switch {
	case errors.Is(err, sieverules.ErrEdited):
		status, msg = http.StatusBadRequest, "Not saved: your filter script was edited by hand, so this can only be changed in it as text, in Filters."
	case errors.Is(err, sieverules.ErrInvalid):
		// sieverules' texts are meant for the user ("forwarding: at
		// most 10 addresses").
		status, msg = http.StatusBadRequest, "Not saved: "+sentence(strings.TrimPrefix(err.Error(), sieverules.ErrInvalid.Error()+": "))
	case err != nil:
		s.log.Error("web: saving the filters failed", "err", err)
		status, msg = http.StatusInternalServerError, "Not saved: the server could not store it now; try again shortly."
	}
	if errors.Is(err, sieverules.ErrEdited) {
		// The page shows no form then, only the note: no field to be
		// beside.
		s.renderSettings(w, r, status, msg, "", "")
		return
	}
	if err != nil {
		s.renderSettingsWith(w, r, status, "", func(d *settingsData) {
			kept(d)
			d.Errs = fieldErrors{field: msg}
		})
		return
	}
	back(w, r, "/settings", done+notActiveNote(active))
}

// changePassword checks the current password (with the login throttle),
// stores the new one and ends the account's other sessions.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	cur, pw, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	fieldErr := func(status int, id, msg string) {
		s.renderSettingsWith(w, r, status, "", func(d *settingsData) { d.Errs = fieldErrors{id: msg} })
	}
	if _, err := s.opts.Auth.Authenticate(r.Context(), remoteAddr(r), "web", sess.Email, cur); err != nil || !s.mainPassword(r, sess.AccountID, cur) {
		fieldErr(http.StatusForbidden, "pwcur", "The current password is not right.")
		return
	}
	switch {
	case len(pw) < 8:
		fieldErr(http.StatusBadRequest, "pwnew", "The new password must have at least 8 characters.")
		return
	case pw != again:
		fieldErr(http.StatusBadRequest, "pwagain", "The two new passwords differ: type the new one again.")
		return
	}
	cred, err := auth.HashPassword(pw, auth.DefaultParams)
	if err == nil {
		err = s.opts.Store.SetCredentials(r.Context(), sess.AccountID, cred)
	}
	if err != nil {
		s.renderSettings(w, r, http.StatusInternalServerError, "The password could not be changed.", "", "")
		return
	}
	s.opts.Auth.Invalidate(sess.Email)
	if err := s.opts.Sessions.endAccount(r.Context(), sess.AccountID, sess); err != nil {
		s.log.Error("end the other web sessions after a password change", "err", err)
		back(w, r, "/settings", "Password changed, but other browsers could not be logged out now: change it again shortly to log them out.")
		return
	}
	back(w, r, "/settings", "Password changed. Other browsers were logged out; mail programs need the new password.")
}

// appPassword makes or revokes an app password.
func (s *Server) appPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	switch r.PostFormValue("action") {
	case "add":
		name := strings.TrimSpace(r.PostFormValue("name"))
		pw := auth.GenerateAppPassword()
		cred, err := auth.HashPassword(pw, auth.DefaultParams)
		if err == nil {
			_, err = s.opts.Store.CreateAppPassword(ctx, sess.AccountID, name, cred)
		}
		if err != nil {
			var msg string
			switch {
			case errors.Is(err, store.ErrExists):
				msg = "You already have an app password with that name: choose another."
			case errors.Is(err, store.ErrInvalid) && len(apps(s, r)) >= store.MaxAppPasswords:
				msg = fmt.Sprintf("You have %d app passwords, the most an account may have: revoke one first.", store.MaxAppPasswords)
			case errors.Is(err, store.ErrInvalid):
				msg = fmt.Sprintf("Give the device a name of 1 to %d characters, such as “Phone”.", store.MaxAppPasswordName)
			default:
				s.log.Error("web: creating an app password failed", "account", sess.Email, "err", err)
				msg = "The app password could not be created now; try again shortly."
			}
			s.renderSettingsWith(w, r, storeStatus(err), "", func(d *settingsData) {
				d.AppName = name
				d.Errs = fieldErrors{"appname": msg}
			})
			return
		}
		s.renderSettings(w, r, http.StatusOK, "", name, pw)
	case "delete":
		id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
		if err := s.opts.Store.DeleteAppPassword(ctx, sess.AccountID, id); err != nil {
			s.renderSettings(w, r, storeStatus(err), revokeFailed(err), "", "")
			return
		}
		s.opts.Auth.Invalidate(sess.Email)
		back(w, r, "/settings", "App password revoked: the device using it can no longer log in.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

// apps is the account's app passwords (nil if they cannot be read).
func apps(s *Server, r *http.Request) []store.AppPassword {
	list, _ := s.opts.Store.AppPasswords(r.Context(), sessionOf(r).AccountID)
	return list
}

// revokeFailed says why revoking an app password or a token failed.
func revokeFailed(err error) string {
	if errors.Is(err, store.ErrNotFound) {
		return "It was revoked already (in another window, perhaps)."
	}
	return "Could not revoke it now; try again shortly."
}

// tokenRow is an access token as the settings page lists it.
type tokenRow struct {
	store.AccessToken
	Expired bool
}

// tokenForm is what was typed into the form that makes an access token,
// kept when it is shown again with its errors.
type tokenForm struct {
	Name, Days           string
	NameError, DaysError string
}

// maxTokenDays bounds the expiry the form takes: ten years is "never"
// for any app, and keeps the time far from overflowing.
const maxTokenDays = 3650

// accessToken makes or revokes an access token for apps (JMAP's Bearer
// authentication). A new token's secret is shown once, on the page this
// answers with: the store keeps only its hash.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := sessionOf(r)
	switch r.PostFormValue("action") {
	case "add":
		f := tokenForm{Name: strings.TrimSpace(r.PostFormValue("name")), Days: strings.TrimSpace(r.PostFormValue("days"))}
		var expires time.Time
		if f.Days != "" {
			days, err := strconv.Atoi(f.Days)
			if err != nil || days < 1 || days > maxTokenDays {
				f.DaysError = fmt.Sprintf("Enter a number of days from 1 to %d, or leave it empty for a token that does not expire.", maxTokenDays)
			} else {
				expires = time.Now().AddDate(0, 0, days)
			}
		}
		if _, err := store.AccessTokenName(f.Name); err != nil {
			f.NameError = fmt.Sprintf("Give the token a name of 1 to %d characters, without control characters, such as the app that will use it.", store.MaxAccessTokenName)
		}
		if f.NameError != "" || f.DaysError != "" {
			s.renderSettingsWith(w, r, http.StatusBadRequest, "", func(d *settingsData) { d.TokenForm = f })
			return
		}
		tok, secret, err := s.opts.Store.CreateAccessToken(ctx, sess.AccountID, f.Name, expires)
		switch {
		case errors.Is(err, store.ErrExists):
			f.NameError = "You already have an access token with that name."
		case errors.Is(err, store.ErrInvalid):
			// The name and expiry were checked above: what is left is the
			// number of tokens.
			f.NameError = fmt.Sprintf("You have %d access tokens, the most an account may have: revoke one first.", store.MaxAccessTokens)
		case err != nil:
			s.log.Error("web: creating an access token failed", "account", sess.Email, "err", err)
			s.renderSettingsWith(w, r, storeStatus(err), "The access token could not be created now; try again shortly.",
				func(d *settingsData) { d.TokenForm = f })
			return
		}
		if f.NameError != "" {
			s.renderSettingsWith(w, r, http.StatusBadRequest, "", func(d *settingsData) { d.TokenForm = f })
			return
		}
		s.renderSettingsWith(w, r, http.StatusOK, "", func(d *settingsData) { d.NewName, d.NewToken = tok.Name, secret })
	case "delete":
		id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
		if err := s.opts.Store.DeleteAccessToken(ctx, sess.AccountID, id); err != nil {
			s.renderSettings(w, r, storeStatus(err), revokeFailed(err), "", "")
			return
		}
		back(w, r, "/settings", "Access token revoked: the app using it can no longer connect.")
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

// mobileConfig downloads an Apple configuration profile for this account.
func (s *Server) mobileConfig(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	protocol := r.URL.Query().Get("protocol")
	if protocol != "pop3" {
		protocol = "imap"
	}
	data, err := s.setup.MobileConfig(sess.Email, sess.Email, protocol)
	if err != nil {
		s.log.Error("web: making a configuration profile failed", "account", sess.Email, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "The setup profile could not be made now; try again shortly, or enter the settings shown on the Settings page by hand.")
		return
	}
	w.Header().Set("Content-Type", autoconfig.MobileConfigContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="mail-`+protocol+`.mobileconfig"`)
	w.Write(data)
}
