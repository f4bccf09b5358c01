package web

import (
	"bytes"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errorPage is what the error template shows: a heading (the page's
// title) and a sentence a person can act on.
type errorPage struct {
	Message string
}

// statusTitles are the headings of the error pages, by status.
var statusTitles = map[int]string{
	http.StatusBadRequest:            "That did not work",
	http.StatusUnauthorized:          "Please log in again",
	http.StatusForbidden:             "Not allowed",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "That did not work",
	http.StatusRequestEntityTooLarge: "Too large",
	http.StatusTooManyRequests:       "Too many requests",
	http.StatusInternalServerError:   "Something went wrong",
	http.StatusServiceUnavailable:    "Try again shortly",
	http.StatusInsufficientStorage:   "The server is full",
}

func statusTitle(status int) string {
	if t, ok := statusTitles[status]; ok {
		return t
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return "That did not work"
}

// standardMessages replace what http.ServeMux, http.Error's callers and
// Go itself say for these statuses ("404 page not found", "Method Not
// Allowed", "unknown action"): texts for developers, not for the person
// in front of the page.
var standardMessages = map[int]string{
	http.StatusBadRequest: "The server did not understand what this page sent. Go back, reload the page and try again.",
	http.StatusNotFound:   "There is nothing at this address. The link may be mistyped, or what it pointed to was moved or deleted.",
	http.StatusMethodNotAllowed: "This address cannot be used that way: it is not a form to send, or only a form sends to it. " +
		"Go back and use the page's links and buttons.",
	http.StatusInternalServerError: "The server ran into a problem it did not expect, and what you asked for was not done. " +
		"Try again; if it keeps happening, tell your administrator the time it happened.",
}

// fail shows an error page for a problem the user can act on.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", view{Title: statusTitle(status), Data: errorPage{Message: msg}})
}

// plainPaths are answered by clients, not people, or in a format of
// their own (JMAP's JSON, autoconfig's XML, the MTA-STS policy, the load
// balancer's probe, and what the single-page app loads into a frame or
// downloads, /app/render/ and /app/zip/, where the site's whole layout
// would be out of place): their errors are never turned into pages.
func plainPath(p string) bool {
	p = strings.ToLower(p)
	return p == "/jmap" || strings.HasPrefix(p, "/jmap/") || strings.HasPrefix(p, "/.well-known/") ||
		strings.HasPrefix(p, "/autodiscover/") || p == "/mail/config-v1.1.xml" || p == "/healthz" ||
		strings.HasPrefix(p, "/app/render/") || strings.HasPrefix(p, "/app/zip/")
}

// errorPages turns every plain-text error of the web listener (those
// http.ServeMux answers itself for an unknown path or a wrong method,
// and http.Error's everywhere else) into a page in the site's layout with
// the same status and headers (a 405 keeps its Allow), and a panic into a
// 500 page when nothing was sent yet. A panic after the response began
// goes on to listener.RecoverHTTP, which aborts the connection: a page
// half sent cannot be replaced.
func (s *Server) errorPages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if plainPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ew := &errorWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				if ew.status != 0 {
					s.errorPage(w, r, ew.status, ew.text.String())
				}
				return
			}
			if v == http.ErrAbortHandler || ew.wrote {
				panic(v)
			}
			s.opts.Panics.Report(s.log, "http request", v, "proto", "http", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			// The connection ends with the page, as it would without
			// one: whatever the panic left half done stays with it.
			w.Header().Set("Connection", "close")
			s.errorPage(w, r, http.StatusInternalServerError, "")
		}()
		next.ServeHTTP(ew, r)
	})
}

// errorPage writes the page for an error a handler answered with text.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, text string) {
	msg, ok := standardMessages[status]
	if !ok {
		msg = sentence(text)
	}
	if msg == "" {
		msg = standardMessages[http.StatusInternalServerError]
	}
	// What the handler set for its text goes; what it set for the
	// response (Allow, Retry-After, the security headers) stays.
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Type")
	if sess, err := s.currentSession(r); err == nil && sess != nil && sessionOf(r) == nil {
		r = withSession(r, sess) // the page shows the menu of a logged-in user
	}
	s.fail(w, r, status, msg)
}

// sentence makes an http.Error text ("the form expired: reload the page
// and try again") a sentence: a capital first letter, a full stop.
func sentence(text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	c, n := utf8.DecodeRuneInString(text)
	text = string(unicode.ToUpper(c)) + text[n:]
	if !strings.HasSuffix(text, ".") && !strings.HasSuffix(text, "!") && !strings.HasSuffix(text, "?") {
		text += "."
	}
	return text
}

// errorWriter holds back a plain-text error response (http.Error's, which
// sets exactly this Content-Type) so that errorPages can answer with a
// page instead; everything else passes through untouched.
type errorWriter struct {
	http.ResponseWriter
	status int          // an error held back, 0: none
	text   bytes.Buffer // its text, up to a few KiB
	wrote  bool         // the response began: too late for a page
}

func (ew *errorWriter) WriteHeader(code int) {
	if ew.wrote || ew.status != 0 {
		return
	}
	if code >= 400 && ew.Header().Get("Content-Type") == "text/plain; charset=utf-8" {
		ew.status = code
		return
	}
	ew.wrote = true
	ew.ResponseWriter.WriteHeader(code)
}

func (ew *errorWriter) Write(p []byte) (int, error) {
	if ew.status != 0 {
		if ew.text.Len() < 4096 {
			ew.text.Write(p[:min(len(p), 4096-ew.text.Len())])
		}
		return len(p), nil
	}
	ew.wrote = true
	return ew.ResponseWriter.Write(p)
}

// Flush lets live-update streams through (events.go asserts a Flusher).
func (ew *errorWriter) Flush() {
	if ew.status != 0 {
		return
	}
	ew.wrote = true
	if f, ok := ew.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the connection's writer.
func (ew *errorWriter) Unwrap() http.ResponseWriter { return ew.ResponseWriter }
