package web

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// loginCookie holds the login form's token (double-submit): a page of
// another site can post to /login but can neither read nor set this
// cookie, so it cannot send a matching login_token field. Without this, a
// cross-site form could log the victim's browser into the attacker's
// account (login CSRF) and collect what the victim then writes there.
const loginCookie = "mailroom_login"

// loginData is what the login page needs.
type loginData struct {
	Next     string // where to go after logging in
	Token    string // the form's login_token
	Email    string // as typed before a failed login (never the password)
	Remember bool   // "Stay signed in" as it was ticked
	Error    string
	// ErrorField is the field Error is about ("password"), shown beside
	// it; "" for one about the whole form (throttled, server trouble).
	ErrorField string
}

// loginToken returns the browser's login token, setting a new cookie when
// it has none (several tabs share one).
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name:     loginCookie,
		Value:    tok,
		Path:     "/login",
		HttpOnly: true,
		Secure:   s.opts.Secure || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	return tok
}

// checkLoginForm refuses a login posted from another origin (Origin and
// Sec-Fetch-Site, as Go's CrossOriginProtection reads them), or without
// the token of a login page this browser loaded.
func checkLoginForm(r *http.Request) bool {
	if http.NewCrossOriginProtection().Check(r) != nil {
		return false
	}
	c, err := r.Cookie(loginCookie)
	got := r.PostFormValue("login_token")
	return err == nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1
}

// renderLogin shows the login page with a fresh form token.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	d.Token = s.loginToken(w, r)
	s.render(w, r, status, "login", view{Title: "Log in", Data: d})
}

// loginFailed shows the login form again after a failed login, with the
// address and the "Stay signed in" choice kept (the password never) and
// msg beside field ("" for the form as a whole).
func (s *Server) loginFailed(w http.ResponseWriter, r *http.Request, status int, msg, field string) {
	s.renderLogin(w, r, status, loginData{
		Next:       safeNext(r.PostFormValue("next")),
		Email:      strings.TrimSpace(r.PostFormValue("email")),
		Remember:   r.PostFormValue("remember") != "",
		Error:      msg,
		ErrorField: field,
	})
}
