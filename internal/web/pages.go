package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds every page template, each parsed together with the layout.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"date": func(unix int64) string {
		t := time.Unix(unix, 0)
		if time.Since(t) < 20*time.Hour && t.Day() == time.Now().Day() {
			return t.Format("15:04")
		}
		if t.Year() == time.Now().Year() {
			return t.Format("Jan 2")
		}
		return t.Format("2006-01-02")
	},
	"fulldate": func(unix int64) string { return time.Unix(unix, 0).Format("Mon, 2 Jan 2006 15:04") },
	"size": func(n int64) string {
		switch {
		case n < 1024:
			return fmt.Sprintf("%d B", n)
		case n < 1<<20:
			return fmt.Sprintf("%.0f KB", float64(n)/1024)
		default:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		}
	},
	"pathesc":     url.PathEscape,
	"queryesc":    url.QueryEscape,
	"mailboxpath": mailboxURL,
	"add":         func(a, b int) int { return a + b },
	"fieldattrs":  fieldAttrs,
	"fielderror":  fieldError,
}

// mailboxURL is the page of a mailbox: each level of its name escaped.
func mailboxURL(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/mail/" + strings.Join(parts, "/")
}

func loadPages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", base, err)
		}
		p.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title    string
	Session  *Session
	Hostname string
	Flash    string
	Error    string
	Data     any
}

// render writes a page. Rendering into a buffer first means a template
// error becomes a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := s.pages.byName[name]
	if !ok {
		s.log.Error("no such page template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Session == nil {
		v.Session = sessionOf(r)
	}
	v.Hostname = s.opts.Config.Hostname
	if v.Flash == "" && v.Session != nil {
		v.Flash = v.Session.takeFlash(r.URL.Query().Get("flash"))
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.log.Error("rendering a page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// back redirects after a POST to where the user was, with a message kept
// in the session: the URL names it by a random id only (see flashBox).
func back(w http.ResponseWriter, r *http.Request, to, flash string) {
	to = safeNext(to)
	if sess := sessionOf(r); flash != "" && sess != nil {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "flash=" + url.QueryEscape(sess.addFlash(flash))
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
