package mailapi

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/mime"
)

// partBlobID names one part's decoded content: "P<message id>_1_2" for
// IMAP section 1.2 (a partId's dots are not in JMAP's id alphabet).
func partBlobID(msgID int64) func(partID string) string {
	prefix := "P" + strconv.FormatInt(msgID, 10) + "_"
	return func(partID string) string { return prefix + strings.ReplaceAll(partID, ".", "_") }
}

// parsePartBlobID reads a part blob id: the message id and the partId.
func parsePartBlobID(id string) (int64, string, bool) {
	msg, part, ok := strings.Cut(id, "_")
	n, okID := parseID('P', msg)
	if !ok || !okID || part == "" {
		return 0, "", false
	}
	return n, strings.ReplaceAll(part, "_", "."), true
}

// contentProperties sets the properties read from the message itself
// (RFC 8621 §4.1.2 to §4.1.4), through internal/jmap/emailprops: for
// Email/get and Email/parse alike. blob names a part's blob (nil: parts
// have no blobId).
func (a *API) contentProperties(o map[string]any, blob func(partID string) string, st *mime.Message, body io.ReaderAt, props map[string]bool, args *emailGetArgs) error {
	if st.Root == nil {
		return errors.New("no structure")
	}
	var hs []emailprops.Header
	needHeaders := false
	for p := range props {
		if p == "headers" || strings.HasPrefix(p, "header:") || slices.Contains(emailHeaders, p) {
			needHeaders = true
		}
	}
	if needHeaders {
		var err error
		if hs, err = emailprops.Headers(body, st.Root, 0); err != nil && !errors.Is(err, emailprops.ErrHeaderTruncated) {
			return fmt.Errorf("read header: %w", err)
		}
		// Only what was asked: parsing a Date costs more than reading
		// the whole header.
		for p, h := range convenienceHeaders {
			if props[p] {
				o[p] = emailprops.HeaderValue(hs, h.name, h.form, false)
			}
		}
		if props["headers"] {
			if hs == nil {
				hs = []emailprops.Header{}
			}
			o["headers"] = hs
		}
		for p := range props {
			if !strings.HasPrefix(p, "header:") {
				continue
			}
			name, form, all, ok := emailprops.ParseHeaderProperty(p)
			if !ok || !emailprops.AllowedForm(name, form) {
				return jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("%q is not a header property", p))
			}
			o[p] = emailprops.HeaderValue(hs, name, form, all)
		}
	}
	bodyProps := emailprops.DefaultBodyProperties()
	if args.BodyProperties != nil {
		bodyProps = *args.BodyProperties
	}
	if props["bodyStructure"] {
		bs, err := emailprops.BodyStructure(body, st, blob, bodyProps)
		if err != nil {
			return fmt.Errorf("bodyStructure: %w", err)
		}
		o["bodyStructure"] = bs
	}
	if props["textBody"] || props["htmlBody"] || props["attachments"] || props["bodyValues"] {
		text, html, atts, err := emailprops.BodyLists(body, st, blob, bodyProps)
		if err != nil {
			return fmt.Errorf("body lists: %w", err)
		}
		for p, v := range map[string][]emailprops.EmailBodyPart{"textBody": text, "htmlBody": html, "attachments": atts} {
			if props[p] {
				if v == nil {
					v = []emailprops.EmailBodyPart{}
				}
				o[p] = v
			}
		}
		if props["bodyValues"] {
			values := map[string]emailprops.EmailBodyValue{}
			add := func(parts []emailprops.EmailBodyPart) error {
				for _, bp := range parts {
					if bp.Part == nil || bp.PartID == nil || bp.Part.Type != "text" {
						continue
					}
					if _, ok := values[*bp.PartID]; ok {
						continue
					}
					v, err := emailprops.BodyValue(body, bp.Part, args.MaxBodyValueBytes)
					if err != nil {
						return fmt.Errorf("body value %s: %w", *bp.PartID, err)
					}
					values[*bp.PartID] = v
				}
				return nil
			}
			if args.FetchTextBodyValues || args.FetchAllBodyValues {
				if err := add(text); err != nil {
					return err
				}
			}
			if args.FetchHTMLBodyValues || args.FetchAllBodyValues {
				if err := add(html); err != nil {
					return err
				}
			}
			o["bodyValues"] = values
		}
	}
	if props["preview"] {
		o["preview"] = emailprops.Preview(body, st)
	}
	if props["hasAttachment"] {
		o["hasAttachment"] = emailprops.HasAttachment(st)
	}
	return nil
}

// convenienceHeaders are the header fields and forms of the convenience
// properties (RFC 8621 §4.1.2.3 to §4.1.3).
var convenienceHeaders = map[string]struct {
	name string
	form emailprops.Form
}{
	"messageId": {"Message-ID", emailprops.FormMessageIds}, "inReplyTo": {"In-Reply-To", emailprops.FormMessageIds},
	"references": {"References", emailprops.FormMessageIds}, "sender": {"Sender", emailprops.FormAddresses},
	"from": {"From", emailprops.FormAddresses}, "to": {"To", emailprops.FormAddresses}, "cc": {"Cc", emailprops.FormAddresses},
	"bcc": {"Bcc", emailprops.FormAddresses}, "replyTo": {"Reply-To", emailprops.FormAddresses},
	"subject": {"Subject", emailprops.FormText}, "sentAt": {"Date", emailprops.FormDate},
}
