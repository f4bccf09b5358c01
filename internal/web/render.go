package web

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"

	"mailroom/internal/htmlmail"
	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/jmap/mailapi"
)

// The single-page app shows a message's body in a sandboxed frame and
// downloads its attachments in one go; both need the server. The Email is
// named by its JMAP ids, found and rights-checked by mailapi exactly as
// Email/get does, so the app never needs another kind of id.
//
//	GET /app/render/{account}/{email}[?remote=1]  the body as a document
//	GET /app/zip/{account}/{email}                the attachments as a zip

// renderBodyProps are the EmailBodyPart properties the endpoints read.
var renderBodyProps = []string{"partId", "blobId", "name", "type", "charset", "disposition", "cid"}

// renderCSP is the render document's policy: a sandbox without scripts
// (allow-same-origin so the app can measure the document, allow-popups so
// links open in a new tab), inline styles only, images from here.
const renderCSP = "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox; default-src 'none'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; style-src 'unsafe-inline'; img-src 'self' data:"

// renderBase is the render document around the body: no margins or
// scrollbars of its own, so the frame sized to the document's height
// shows it all (a layout wider than the frame scrolls sideways in the
// wrapper instead); plain text keeps its line breaks but wraps.
const renderBase = `html,body{margin:0;padding:0;overflow:hidden}` +
	`body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:15px;line-height:1.4;color:#222;background:#fff}` +
	`#` + htmlmail.ScopeID + `{display:flow-root;padding:8px;overflow-wrap:anywhere;overflow-x:auto}` +
	`.plaintext{white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.95em}` +
	`.plaintext blockquote{margin:0 0 0 .5em;padding-left:.6em;border-left:3px solid #ccc;color:#555}` +
	`img{max-width:100%;height:auto}`

// maxRenderText bounds the text/plain shown (the app offers the part
// itself for more).
const maxRenderText = 1 << 20

func (s *Server) renderRoutes(mux *http.ServeMux) {
	// Its own mailapi: the API keeps no state between requests.
	api := mailapi.New(mailapi.Options{Store: s.opts.Store, Mailboxes: s.opts.Mailboxes, Logger: s.log})
	mux.HandleFunc("GET /app/render/{account}/{email}", s.requireLogin(func(w http.ResponseWriter, r *http.Request) {
		s.renderEmail(w, r, api)
	}))
	mux.HandleFunc("GET /app/zip/{account}/{email}", s.requireLogin(func(w http.ResponseWriter, r *http.Request) {
		s.zipAttachments(w, r, api)
	}))
}

// openEmail opens the Email of the request's path for the session's user,
// or answers 400 (not ids at all), 404 (nothing the user can read) or 500.
func (s *Server) openEmail(w http.ResponseWriter, r *http.Request, api *mailapi.API) (*mailapi.OpenedEmail, bool) {
	sess := sessionOf(r)
	u := jmap.User{AccountID: sess.AccountID, Email: strings.ToLower(sess.Email)}
	em, err := api.OpenEmail(r.Context(), u, r.PathValue("account"), r.PathValue("email"))
	switch {
	case errors.Is(err, mailapi.ErrBadID):
		http.Error(w, "not an account and email id", http.StatusBadRequest)
		return nil, false
	case errors.Is(err, mailapi.ErrNoEmail):
		http.Error(w, "no such message", http.StatusNotFound)
		return nil, false
	case err != nil:
		s.log.Error("app: open email", "account", sess.Email, "err", err)
		http.Error(w, "the server could not read the message", http.StatusInternalServerError)
		return nil, false
	}
	return em, true
}

// renderEmail answers a complete HTML document of the body to show: the
// htmlBody of RFC 8621 (its HTML sanitised with the message's own styles,
// text parts as escaped text, inline images), which falls back to the
// text parts for a message without HTML.
func (s *Server) renderEmail(w http.ResponseWriter, r *http.Request, api *mailapi.API) {
	em, ok := s.openEmail(w, r, api)
	if !ok {
		return
	}
	defer em.Body.Close()
	_, htmlBody, atts, err := emailprops.BodyLists(em.Body, em.Structure, em.PartBlobID, renderBodyProps)
	if err != nil {
		s.log.Error("app: render", "email", em.EmailID, "err", err)
		http.Error(w, "the server could not read the message", http.StatusInternalServerError)
		return
	}
	remote := r.URL.Query().Get("remote") == "1"
	// Inline images by Content-ID, among all the parts listed: a
	// multipart/related's images are in attachments.
	images := map[string]string{}
	for _, bp := range append(append([]emailprops.EmailBodyPart(nil), htmlBody...), atts...) {
		if bp.CID != nil && bp.BlobID != nil && rasterImage(bp.Type) {
			if _, dup := images[*bp.CID]; !dup {
				images[*bp.CID] = downloadURL(em.AccountID, *bp.BlobID, partName(bp, "image"), bp.Type)
			}
		}
	}
	used := map[string]bool{}
	opts := htmlmail.Options{AllowRemoteImages: remote, Styles: true, CIDURL: func(cid string) string {
		used[cid] = true
		return images[cid]
	}}

	var body, css strings.Builder
	blocked := 0
	for _, bp := range htmlBody {
		if bp.Part == nil {
			continue
		}
		switch {
		case bp.Type == "text/html":
			// The declared charset only: RFC 8621's charset property
			// defaults to us-ascii, where htmlmail sniffs a <meta>.
			cs, _ := bp.Part.Param("charset")
			res, err := s.html.Sanitize(emailprops.PartReader(em.Body, bp.Part), cs, opts)
			if err != nil {
				// Unparseable or too large: say so rather than show
				// something unchecked; the part can be downloaded.
				s.log.Info("app: HTML part not shown", "email", em.EmailID, "err", err)
				body.WriteString(`<p><em>This part of the message cannot be shown.</em></p>`)
				continue
			}
			body.WriteString(res.HTML)
			css.WriteString(res.CSS)
			blocked += res.RemoteBlocked
		case strings.HasPrefix(bp.Type, "text/"):
			v, err := emailprops.BodyValue(em.Body, bp.Part, maxRenderText)
			if err != nil {
				s.log.Error("app: render text", "email", em.EmailID, "err", err)
				http.Error(w, "the server could not read the message", http.StatusInternalServerError)
				return
			}
			format, _ := bp.Part.Param("format")
			body.WriteString(htmlmail.PlainToHTML(v.Value, strings.EqualFold(format, "flowed")))
		case rasterImage(bp.Type) && bp.BlobID != nil:
			// An inline image in the body's place (RFC 8621 §4.1.4
			// puts them in htmlBody), shown unless the HTML used it.
			if bp.CID == nil || !used[*bp.CID] {
				u := downloadURL(em.AccountID, *bp.BlobID, partName(bp, "image"), bp.Type)
				fmt.Fprintf(&body, `<p><img src="%s" alt=""></p>`, html.EscapeString(u))
			}
		}
	}

	h := w.Header()
	csp := renderCSP
	if remote {
		csp += " https: http:; font-src https: http:"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
	var doc strings.Builder
	doc.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n")
	fmt.Fprintf(&doc, "<meta name=\"mailroom-remote-blocked\" content=\"%d\">\n", blocked)
	doc.WriteString("<meta name=\"referrer\" content=\"no-referrer\">\n")
	doc.WriteString("<style>" + renderBase + "</style>\n")
	if css.Len() > 0 {
		// htmlmail guarantees no '<' in it: it cannot end the element.
		doc.WriteString("<style>\n" + css.String() + "</style>\n")
	}
	fmt.Fprintf(&doc, "</head><body><div id=\"%s\" dir=\"auto\">", htmlmail.ScopeID)
	doc.WriteString(body.String())
	doc.WriteString("</div></body></html>\n")
	w.Write([]byte(doc.String()))
}

// rasterImage: the image types shown inline (as <img src="cid:…">
// elsewhere in the webmail); anything else would be a download.
func rasterImage(typ string) bool {
	switch typ {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// downloadURL is the JMAP download URL of a part (RFC 8620 §6.2), which
// the session cookie opens, as the app's own downloads do.
func downloadURL(account, blob, name, typ string) string {
	return jmap.PathDownload + url.PathEscape(account) + "/" + url.PathEscape(blob) + "/" +
		url.PathEscape(name) + "?type=" + url.QueryEscape(typ)
}

// partName is a part's file name, or fallback.
func partName(bp emailprops.EmailBodyPart, fallback string) string {
	if bp.Name != nil && *bp.Name != "" {
		return *bp.Name
	}
	if bp.PartID != nil {
		return fallback + "-" + strings.ReplaceAll(*bp.PartID, ".", "-")
	}
	return fallback
}
