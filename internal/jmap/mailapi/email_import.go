package mailapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"os"
	"sort"
	"strings"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// registerImport adds the methods that make Emails from other data or
// look into them: Email/import, Email/parse, Email/copy and
// SearchSnippet/get.
func (a *API) registerImport(reg *jmap.Registry) {
	reg.Handle(CapabilityMail, "Email/import", a.emailImport)
	reg.Handle(CapabilityMail, "Email/parse", a.emailParse)
	reg.Handle(CapabilityMail, "Email/copy", a.emailCopy)
	reg.Handle(CapabilityMail, "SearchSnippet/get", a.searchSnippetGet)
}

type importArgs struct {
	AccountID string                     `json:"accountId"`
	IfInState *string                    `json:"ifInState"`
	Emails    map[string]json.RawMessage `json:"emails"`
}

// emailImportIn is RFC 8621 §4.8's EmailImport.
type emailImportIn struct {
	BlobID     string          `json:"blobId"`
	MailboxIDs map[string]bool `json:"mailboxIds"`
	Keywords   map[string]bool `json:"keywords"`
	ReceivedAt *string         `json:"receivedAt"`
}

// createResponse is what /import and /copy answer: created and
// notCreated are null when empty (RFC 8620 §5.4, RFC 8621 §4.8).
type createResponse struct {
	FromAccountID string                    `json:"fromAccountId,omitempty"`
	AccountID     string                    `json:"accountId"`
	OldState      string                    `json:"oldState"`
	NewState      string                    `json:"newState"`
	Created       map[string]*createdEmail  `json:"created"`
	NotCreated    map[string]*jmap.SetError `json:"notCreated"`
}

func (r *createResponse) add(cid string, e *createdEmail, serr *jmap.SetError) {
	if serr != nil {
		if r.NotCreated == nil {
			r.NotCreated = map[string]*jmap.SetError{}
		}
		r.NotCreated[cid] = serr
		return
	}
	if r.Created == nil {
		r.Created = map[string]*createdEmail{}
	}
	r.Created[cid] = e
}

// mailboxKeywordsDate reads the mailboxIds, keywords and receivedAt an
// import or copy gives a new Email.
func mailboxKeywordsDate(mailboxes, keywords map[string]bool, receivedAt *string) (string, []string, time.Time, *jmap.SetError) {
	if len(mailboxes) == 0 {
		return "", nil, time.Time{}, bad("mailboxIds", "mailboxIds names the one Mailbox of the Email")
	}
	if len(mailboxes) > 1 {
		return "", nil, time.Time{}, jmap.NewSetError(jmap.SetTooManyMailboxes, "an Email is in exactly one Mailbox here (maxMailboxesPerEmail 1)", "mailboxIds")
	}
	var mbox string
	for id, on := range mailboxes {
		if !on {
			return "", nil, time.Time{}, bad("mailboxIds", "mailboxIds values are true")
		}
		mbox = id
	}
	var kws []string
	for k, on := range keywords {
		if !on || !validKeyword(k) {
			return "", nil, time.Time{}, bad("keywords", "%q is not a keyword set to true", k)
		}
		kws = append(kws, strings.ToLower(k))
	}
	var t time.Time
	if receivedAt != nil {
		var err error
		if t, err = time.Parse(time.RFC3339, *receivedAt); err != nil || !strings.HasSuffix(*receivedAt, "Z") {
			return "", nil, time.Time{}, bad("receivedAt", "receivedAt is a UTCDate (2024-01-31T12:00:00Z)")
		}
	}
	return mbox, kws, t, nil
}

// emailImport is Email/import (RFC 8621 §4.8). Duplicates are allowed:
// each import is a new Email, as each IMAP APPEND is.
func (a *API) emailImport(ctx context.Context, c *jmap.Call) (any, error) {
	var args importArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if len(args.Emails) > c.Limits.MaxObjectsInSet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d Emails in one import", c.Limits.MaxObjectsInSet))
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	old, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	if args.IfInState != nil && *args.IfInState != old {
		return nil, jmap.Errorf(jmap.ErrStateMismatch, "the state is "+old)
	}
	resp := &createResponse{AccountID: ac.jid, OldState: old}
	cids := make([]string, 0, len(args.Emails))
	for cid := range args.Emails {
		cids = append(cids, cid)
	}
	sort.Strings(cids)
	for _, cid := range cids {
		e, serr := a.importOne(ctx, c, ac, args.Emails[cid])
		resp.add(cid, e, serr)
		if serr == nil {
			c.Created(cid, e.ID)
		}
	}
	if resp.NewState, err = a.state(ctx, ac); err != nil {
		return nil, err
	}
	return resp, nil
}

func (a *API) importOne(ctx context.Context, c *jmap.Call, ac *acct, raw json.RawMessage) (*createdEmail, *jmap.SetError) {
	var in emailImportIn
	if err := decodeStrict(raw, &in); err != nil {
		return nil, jmap.NewSetError(jmap.SetInvalidProperties, "an EmailImport has blobId, mailboxIds, keywords and receivedAt: "+err.Error())
	}
	mbox, kws, received, serr := mailboxKeywordsDate(in.MailboxIDs, in.Keywords, in.ReceivedAt)
	if serr != nil {
		return nil, serr
	}
	t, serr := a.target(c, ac, mbox, kws, received)
	if serr != nil {
		return nil, serr
	}
	b, err := a.openBlob(ctx, ac, in.BlobID)
	if err != nil {
		if errors.Is(err, jmap.ErrBlobNotFound) {
			return nil, bad("blobId", "no blob %q", in.BlobID)
		}
		a.log.Error("jmap: Email/import: open blob", "account", ac.email, "blob", in.BlobID, "err", err)
		return nil, jmap.NewSetError(jmap.SetForbidden, "the server could not read the blob; it is logged")
	}
	staged, err := a.st.Stage(ctx, b.Content)
	b.Content.Close()
	if err != nil {
		a.log.Error("jmap: Email/import: stage", "account", ac.email, "err", err)
		return nil, jmap.NewSetError(jmap.SetForbidden, "the server could not store the Email; it is logged")
	}
	if staged.Size() == 0 || staged.Structure() == nil || staged.Structure().Root == nil {
		staged.Discard()
		return nil, jmap.NewSetError(jmap.SetInvalidEmail, "the blob is not a message")
	}
	if in.ReceivedAt == nil {
		t.InternalDate = lastReceived(staged)
	}
	return a.appendStaged(ctx, ac, staged, t)
}

// lastReceived is the date of the newest Received field (the topmost),
// RFC 8621 §4.8's default receivedAt; zero (now) if there is none.
func lastReceived(staged store.Staged) time.Time {
	st := staged.Structure()
	r, err := staged.Open()
	if err != nil {
		return time.Time{}
	}
	defer r.Close()
	n := min(st.Root.BodyStart, 256<<10)
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return time.Time{}
	}
	hs, _ := emailprops.Headers(bytes.NewReader(buf), st.Root, 0)
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Received") {
			continue
		}
		i := strings.LastIndexByte(h.Value, ';')
		if i < 0 {
			return time.Time{}
		}
		t, err := netmail.ParseDate(strings.Join(strings.Fields(h.Value[i+1:]), " "))
		if err != nil {
			return time.Time{}
		}
		return t
	}
	return time.Time{}
}

type parseArgs struct {
	AccountID           string    `json:"accountId"`
	BlobIDs             []string  `json:"blobIds"`
	Properties          *[]string `json:"properties"`
	BodyProperties      *[]string `json:"bodyProperties"`
	FetchTextBodyValues bool      `json:"fetchTextBodyValues"`
	FetchHTMLBodyValues bool      `json:"fetchHTMLBodyValues"`
	FetchAllBodyValues  bool      `json:"fetchAllBodyValues"`
	MaxBodyValueBytes   int       `json:"maxBodyValueBytes"`
}

// parseDefaults is Email/parse's default property list (RFC 8621 §4.9).
var parseDefaults = []string{"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo",
	"subject", "sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments"}

// maxParseBytes bounds a blob Email/parse copies to a temporary file
// (a part, an upload: those that cannot be read at an offset).
const maxParseBytes = 50 << 20

type parseResponse struct {
	AccountID   string                    `json:"accountId"`
	Parsed      map[string]map[string]any `json:"parsed"`
	NotParsable []string                  `json:"notParsable"`
	NotFound    []string                  `json:"notFound"`
}

// emailParse is Email/parse (RFC 8621 §4.9): blobs scanned as messages
// and described by the same code as Email/get.
func (a *API) emailParse(ctx context.Context, c *jmap.Call) (any, error) {
	var args parseArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	if len(args.BlobIDs) > c.Limits.MaxObjectsInGet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d blobIds", c.Limits.MaxObjectsInGet))
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := emailProps(args.Properties, args.BodyProperties, args.MaxBodyValueBytes, parseDefaults)
	if err != nil {
		return nil, err
	}
	if args.Properties == nil {
		delete(props, "id")
	}
	getArgs := &emailGetArgs{BodyProperties: args.BodyProperties, FetchTextBodyValues: args.FetchTextBodyValues,
		FetchHTMLBodyValues: args.FetchHTMLBodyValues, FetchAllBodyValues: args.FetchAllBodyValues, MaxBodyValueBytes: args.MaxBodyValueBytes}
	resp := &parseResponse{AccountID: ac.jid}
	for _, id := range args.BlobIDs {
		o, found, err := a.parseBlob(ctx, ac, id, props, getArgs)
		switch {
		case err != nil:
			var me *jmap.MethodError
			if errors.As(err, &me) {
				return nil, err
			}
			a.log.Info("jmap: Email/parse: not parsable", "account", ac.email, "blob", id, "err", err)
			resp.NotParsable = append(resp.NotParsable, id)
		case !found:
			resp.NotFound = append(resp.NotFound, id)
		default:
			if resp.Parsed == nil {
				resp.Parsed = map[string]map[string]any{}
			}
			resp.Parsed[id] = o
		}
	}
	return resp, nil
}

// parseBlob describes one blob as an Email; found is false if there is
// no such blob.
func (a *API) parseBlob(ctx context.Context, ac *acct, id string, props map[string]bool, args *emailGetArgs) (map[string]any, bool, error) {
	b, err := a.openBlob(ctx, ac, id)
	if errors.Is(err, jmap.ErrBlobNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	defer b.Content.Close()
	ra, size, cleanup, err := readerAt(b)
	if err != nil {
		return nil, true, err
	}
	defer cleanup()
	if size == 0 {
		return nil, true, errors.New("empty blob")
	}
	st, err := mime.Scan(io.NewSectionReader(ra, 0, size), mime.Limits{})
	if err != nil {
		return nil, true, fmt.Errorf("scan blob %s: %w", id, err)
	}
	// A stored message's parts have blobs of their own; a part or an
	// upload parsed here has none to name.
	var blob func(string) string
	if n, ok := parseID('B', id); ok {
		blob = partBlobID(n)
	}
	o := map[string]any{}
	for p := range props {
		switch p {
		case "id", "mailboxIds", "keywords", "receivedAt", "threadId":
			o[p] = nil
		case "blobId":
			o[p] = id
		case "size":
			o[p] = size
		}
	}
	if err := a.contentProperties(o, blob, st, ra, props, args); err != nil {
		return nil, true, fmt.Errorf("blob %s: %w", id, err)
	}
	return o, true, nil
}

// readerAt gives random access to a blob: directly if it has it, else
// through a temporary file (removed by cleanup).
func readerAt(b jmap.Blob) (io.ReaderAt, int64, func(), error) {
	if ra, ok := b.Content.(io.ReaderAt); ok && b.Size >= 0 {
		return ra, b.Size, func() {}, nil
	}
	f, err := os.CreateTemp("", "mailroom-parse-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("temporary file for a blob: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(b.Content, maxParseBytes+1))
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("copy blob: %w", err)
	}
	if n > maxParseBytes {
		cleanup()
		return nil, 0, nil, fmt.Errorf("blob larger than %d bytes", maxParseBytes)
	}
	return f, n, cleanup, nil
}
