package listener

import (
	"log/slog"
	"net/http"

	"mailroom/internal/panics"
)

// RecoverHTTP contains a panic in a handler to its request. net/http would
// recover it too, but report it on the server's log.Logger, unstructured
// and uncounted; here it is logged at ERROR with its stack and counted in
// p, then the response is aborted (http.ErrAbortHandler): the client's
// connection is closed (HTTP/2: the stream is reset) rather than left
// with half a page that looks complete. A handler that aborts on purpose
// with http.ErrAbortHandler is not a panic to report.
func RecoverHTTP(proto string, log *slog.Logger, p *panics.Counter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v != http.ErrAbortHandler {
				p.Report(log, proto+" request", v, "proto", proto, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			}
			panic(http.ErrAbortHandler)
		}()
		next.ServeHTTP(w, r)
	})
}

// Hooked calls h.BeforeCommand for each request, then next; with no hooks
// (production) it is next itself.
func Hooked(proto string, h *TestHooks, next http.Handler) http.Handler {
	if h == nil || h.Command == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.BeforeCommand(proto, r.RemoteAddr, r.Method+" "+r.URL.Path)
		next.ServeHTTP(w, r)
	})
}
