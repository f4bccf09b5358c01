package jmap

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serveUpload stores a blob (RFC 8620 §6.1), streamed to the Blobs and
// bounded by maxSizeUpload.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "blobs are uploaded with POST", http.StatusMethodNotAllowed)
		return
	}
	u, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	max := s.opts.Limits.MaxSizeUpload
	if r.ContentLength > max {
		writeProblem(w, &Problem{Type: ProblemLimit, Status: http.StatusRequestEntityTooLarge, Limit: "maxSizeUpload",
			Detail: fmt.Sprintf("the upload is %d octets; at most %d are allowed", r.ContentLength, max)})
		return
	}
	done, ok := s.admit(u.AccountID, true)
	if !ok {
		writeProblem(w, &Problem{Type: ProblemLimit, Status: http.StatusTooManyRequests, Limit: "maxConcurrentUpload",
			Detail: fmt.Sprintf("at most %d uploads at once", s.opts.Limits.MaxConcurrentUpload)})
		return
	}
	defer done()
	mediaType := r.Header.Get("Content-Type")
	if mt, params, err := mime.ParseMediaType(mediaType); err == nil {
		mediaType = mime.FormatMediaType(mt, params)
	} else {
		mediaType = "application/octet-stream"
	}
	res, err := s.opts.Blobs.Upload(r.Context(), u, r.PathValue("account"), mediaType, r.Body, max)
	switch {
	case err == nil:
		writeJSON(w, http.StatusCreated, res)
	case errors.Is(err, ErrUploadTooLarge):
		writeProblem(w, &Problem{Type: ProblemLimit, Status: http.StatusRequestEntityTooLarge, Limit: "maxSizeUpload",
			Detail: fmt.Sprintf("the upload is over %d octets", max)})
	case errors.Is(err, ErrUploadQuota):
		http.Error(w, "the account has no room for this upload", http.StatusRequestEntityTooLarge)
	case errors.Is(err, ErrBlobNotFound):
		http.Error(w, "no such account", http.StatusNotFound)
	case errors.Is(err, ErrAccountReadOnlyUpload):
		http.Error(w, "the account is read-only for you", http.StatusForbidden)
	default:
		if r.Context().Err() != nil {
			return
		}
		s.log.Error("jmap: upload", "account", u.Email, "err", err)
		http.Error(w, "the server could not store the upload", http.StatusInternalServerError)
	}
}

// ErrAccountReadOnlyUpload: the user may read the account but not upload to it.
var ErrAccountReadOnlyUpload = errors.New("jmap: account is read-only")

// serveDownload streams a blob (RFC 8620 §6.2) with the type and name the
// client asked for.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "blobs are downloaded with GET", http.StatusMethodNotAllowed)
		return
	}
	u, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	blob, err := s.opts.Blobs.Download(r.Context(), u, r.PathValue("account"), r.PathValue("blob"))
	if err != nil {
		if errors.Is(err, ErrBlobNotFound) {
			http.Error(w, "no such blob", http.StatusNotFound)
			return
		}
		s.log.Error("jmap: download", "account", u.Email, "err", err)
		http.Error(w, "the server could not read the blob", http.StatusInternalServerError)
		return
	}
	defer blob.Content.Close()
	name := r.PathValue("name")
	typ := r.URL.Query().Get("type")
	if mt, params, err := mime.ParseMediaType(typ); err == nil {
		typ = mime.FormatMediaType(mt, params)
	} else {
		typ = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Disposition", contentDisposition(name, r.URL.Query().Get("disposition") == "inline"))
	// A blob id names the same octets for good.
	h.Set("Cache-Control", "private, immutable, max-age=604800")
	h.Set("X-Content-Type-Options", "nosniff")
	// Downloaded content never runs as a page of ours.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	if rs, ok := blob.Content.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs)
		return
	}
	if blob.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(blob.Size, 10))
	}
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, blob.Content); err != nil && r.Context().Err() == nil {
		s.log.Warn("jmap: download interrupted", "account", u.Email, "err", err)
	}
}

// contentDisposition names the file as RFC 6266 does, with an ASCII
// fallback for old clients.
func contentDisposition(name string, inline bool) string {
	kind := "attachment"
	if inline {
		kind = "inline"
	}
	if name == "" {
		return kind
	}
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, kind, ascii, url.PathEscape(name))
}
