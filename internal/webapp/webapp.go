// Package webapp is the webmail's browser application: a JMAP client
// written in TypeScript (src/, built by build.mjs with esbuild into dist/)
// and the shell page that loads it. dist/ is committed and embedded here,
// so `go build` needs no Node.js; `make test` checks that dist/ is what
// the sources and package-lock.json build, type-checks and lints them.
//
// The package serves two things, both for internal/web, which decides
// who may see them: the shell (one HTML page for every /app/ address;
// the app routes in the browser) and the built assets, named by content
// hash so browsers keep them until they change.
package webapp

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed dist shell.html
var files embed.FS

// AssetPrefix is where the assets are served.
const AssetPrefix = "/app/assets/"

type asset struct {
	body, gzipped []byte
	contentType   string
	version       string // the first 16 hex digits of the SHA-256
}

// App serves the shell and the assets.
type App struct {
	assets map[string]*asset
	shell  *template.Template
}

// ShellData is what the shell page carries for the app: the CSRF token its
// JMAP requests send, and who is logged in.
type ShellData struct {
	CSRF  string
	Email string
	Admin bool
	// Session is the user's JMAP session resource (JSON), and Inbox the
	// JMAP id of their Inbox: with both, the script's first request is
	// the Inbox's list. Either may be empty.
	Session string
	Inbox   string
}

// New reads the embedded build and compresses it once.
func New() (*App, error) {
	a := &App{assets: map[string]*asset{}}
	entries, err := fs.ReadDir(files, "dist")
	if err != nil {
		return nil, fmt.Errorf("webapp: reading the build: %w", err)
	}
	for _, e := range entries {
		body, err := fs.ReadFile(files, "dist/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("webapp: reading %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("webapp: compressing %s: %w", e.Name(), err)
		}
		a.assets[e.Name()] = &asset{body: body, gzipped: gz.Bytes(), contentType: contentType(e.Name()), version: hex.EncodeToString(sum[:8])}
	}
	for _, need := range []string{"app.js", "style.css"} {
		if a.assets[need] == nil {
			return nil, fmt.Errorf("webapp: the build has no %s (run make webapp)", need)
		}
	}
	a.shell, err = template.ParseFS(files, "shell.html")
	if err != nil {
		return nil, fmt.Errorf("webapp: parsing the shell: %w", err)
	}
	return a, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".map":
		return "application/json"
	}
	return "application/octet-stream"
}

// URL is an asset's address, versioned by its content.
func (a *App) URL(name string) string {
	as := a.assets[name]
	if as == nil {
		return AssetPrefix + name
	}
	return AssetPrefix + name + "?v=" + as.version
}

// CompressedSize is the size of an asset as browsers download it
// (gzip), for the size budget.
func (a *App) CompressedSize(name string) int {
	if as := a.assets[name]; as != nil {
		return len(as.gzipped)
	}
	return -1
}

// ServeShell writes the page every /app/ address loads.
func (a *App) ServeShell(w http.ResponseWriter, d ShellData) error {
	var buf bytes.Buffer
	err := a.shell.Execute(&buf, struct {
		ShellData
		Script, Style string
	}{d, a.URL("app.js"), a.URL("style.css")})
	if err != nil {
		return fmt.Errorf("webapp: rendering the shell: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The shell carries the session's CSRF token: never cached.
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
}

// ServeAsset serves GET /app/assets/{name}. A request with the current
// version may be kept for a year; any other for a minute, so a stale
// page's request still works and a new build is picked up.
func (a *App) ServeAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, AssetPrefix)
	as := a.assets[name]
	if as == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", as.contentType)
	h.Set("ETag", `"`+as.version+`"`)
	h.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == as.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=60")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+as.version+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.body
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = as.gzipped
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
