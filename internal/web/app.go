package web

import (
	"net/http"
	"strings"

	"mailroom/internal/webapp"
)

// appRoutes serves the webmail's browser application (internal/webapp):
// one shell page for every address under /app/ (the app routes in the
// browser, and talks JMAP to /jmap/), and its built assets. The
// server-rendered pages under /mail/ stay as the basic HTML version, for
// browsers where the app's script does not run.
func (s *Server) appRoutes(mux *http.ServeMux) {
	// The assets are the same for everyone and hold no mail: no login, so
	// that the login page's next step is already cached.
	mux.HandleFunc("GET "+webapp.AssetPrefix+"{name}", s.app.ServeAsset)
	mux.HandleFunc("GET /app/{$}", s.requireLogin(s.appShell))
	mux.HandleFunc("GET /app/{path...}", s.requireLogin(s.appShell))
}

func (s *Server) appShell(w http.ResponseWriter, r *http.Request) {
	// The app's own addresses only: a wrong path under the renderer, the
	// zip or the assets is a 404, not a page of the app.
	for _, p := range []string{"/app/render/", "/app/zip/", webapp.AssetPrefix} {
		if strings.HasPrefix(r.URL.Path, p) {
			http.NotFound(w, r)
			return
		}
	}
	sess := sessionOf(r)
	if err := s.app.ServeShell(w, webapp.ShellData{CSRF: sess.CSRF, Email: sess.Email, Admin: sess.Admin}); err != nil {
		s.log.Error("web: app shell", "err", err)
	}
}
