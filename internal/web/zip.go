package web

import (
	"archive/zip"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/jmap/mailapi"
)

// maxZipName bounds a file name in the zip, in bytes: file systems stop at
// 255.
const maxZipName = 200

// zipAttachments streams the Email's attachments (RFC 8621's attachments,
// less the inline images its HTML shows) as a zip, one part at a time:
// nothing but the part being copied is held in memory.
func (s *Server) zipAttachments(w http.ResponseWriter, r *http.Request, api *mailapi.API) {
	em, ok := s.openEmail(w, r, api)
	if !ok {
		return
	}
	defer em.Body.Close()
	_, _, atts, err := emailprops.BodyLists(em.Body, em.Structure, em.PartBlobID, renderBodyProps)
	if err != nil {
		s.log.Error("app: zip", "email", em.EmailID, "err", err)
		http.Error(w, "the server could not read the message", http.StatusInternalServerError)
		return
	}
	subject := ""
	if env := em.Structure.Root.Envelope; env != nil {
		subject = env.DecodedSubject
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", attachmentDisposition(safeFileName(subject, "attachments")+".zip"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")

	zw := zip.NewWriter(w)
	names := zipNames{}
	n := 0
	for _, bp := range atts {
		if bp.Part == nil || inlineImage(bp) {
			continue
		}
		n++
		fallback := "attachment-" + strconv.Itoa(n)
		if bp.Type == "message/rfc822" {
			fallback = "message-" + strconv.Itoa(n) + ".eml"
		}
		name := ""
		if bp.Name != nil {
			name = *bp.Name
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{
			Name: names.unique(safeFileName(name, fallback)), Method: zip.Deflate, Modified: time.Unix(em.Meta.InternalDate, 0),
		})
		if err == nil {
			_, err = io.Copy(fw, emailprops.PartReader(em.Body, bp.Part))
		}
		if err != nil {
			s.abortZip(r, em.EmailID, err)
		}
	}
	if err := zw.Close(); err != nil {
		s.abortZip(r, em.EmailID, err)
	}
}

// abortZip ends a zip that failed half way: the status is long sent, so
// the connection is cut and the client sees a broken download, not a
// short zip that looks whole.
func (s *Server) abortZip(r *http.Request, email string, err error) {
	if r.Context().Err() == nil {
		s.log.Warn("app: zip interrupted", "email", email, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// inlineImage: a part with a Content-ID that is not marked as an
// attachment, i.e. an image the HTML shows (multipart/related), not
// something to download.
func inlineImage(bp emailprops.EmailBodyPart) bool {
	return bp.CID != nil && (bp.Disposition == nil || *bp.Disposition != "attachment")
}

// safeFileName makes name safe as one path element on any system that
// unpacks the zip: no separators, no control characters or characters
// Windows refuses, no leading or trailing dots or spaces (so no "..", no
// hidden files), at most maxZipName bytes with the extension kept.
func safeFileName(name, fallback string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			return '_'
		case unicode.IsControl(r) || r == utf8.RuneError:
			return '_'
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	if len(name) > maxZipName {
		ext := path.Ext(name)
		if len(ext) > 20 {
			ext = ""
		}
		stem := name[:maxZipName-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		name = strings.TrimRight(stem, ". ") + ext
	}
	if name == "" || strings.Trim(name, "_") == "" {
		return fallback
	}
	return name
}

// zipNames numbers duplicate names, "a.pdf", "a (2).pdf", compared
// without case as Windows and macOS do.
type zipNames map[string]bool

func (z zipNames) unique(name string) string {
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	out := name
	for n := 2; z[strings.ToLower(out)]; n++ {
		out = fmt.Sprintf("%s (%d)%s", stem, n, ext)
	}
	z[strings.ToLower(out)] = true
	return out
}

// attachmentDisposition is Content-Disposition for a download (RFC 6266):
// an ASCII fallback filename and the real one as filename* (RFC 8187).
func attachmentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	var enc strings.Builder
	for _, b := range []byte(name) {
		// attr-char of RFC 8187 §3.2.1; everything else percent-encoded.
		if b < 0x80 && (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$&+-.^_`|~", b) >= 0) {
			enc.WriteByte(b)
		} else {
			fmt.Fprintf(&enc, "%%%02X", b)
		}
	}
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + enc.String()
}
