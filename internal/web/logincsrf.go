package web

import (
	"crypto/subtle"
	"net/http"
)

// loginCookie holds the login form's token (double-submit): a page of
// another site can post to /login but can neither read nor set this
// cookie, so it cannot send a matching login_token field. Without this, a
// cross-site form could log the victim's browser into the attacker's
// account (login CSRF) and collect what the victim then writes there.
const loginCookie = "mailroom_login"

// loginData is what the login page needs.
type loginData struct {
	Next  string // where to go after logging in
	Token string // the form's login_token
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

// renderLogin shows the login page with a fresh form.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, errMsg, next string) {
	s.render(w, r, status, "login", view{Title: "Log in", Error: errMsg, Data: loginData{Next: next, Token: s.loginToken(w, r)}})
}
