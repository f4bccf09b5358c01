package mailapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/jmap/emailprops"
	"mailroom/internal/store"
)

// Email properties (RFC 8621 §4.1).
var (
	emailMetadata = []string{"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt"}
	emailHeaders  = []string{"headers", "messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
		"replyTo", "subject", "sentAt"}
	emailBody = []string{"bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments", "hasAttachment", "preview"}
	// emailDefaults is Email/get's default property list (RFC 8621 §4.2).
	emailDefaults = []string{"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId",
		"inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt",
		"hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments"}
	emailProperties = append(append(append([]string{}, emailMetadata...), emailHeaders...), emailBody...)
)

// keywordsOf is the Email's keywords: IMAP's system flags under their
// JMAP names and the keywords in lower case (JMAP keywords are
// case-insensitive, RFC 8621 §4.1.1). \Deleted and \Recent are not
// keywords in JMAP.
func keywordsOf(m store.MessageMeta) map[string]bool {
	kw := make(map[string]bool, len(m.Keywords)+4)
	for _, f := range []struct {
		flag store.Flags
		name string
	}{{store.FlagSeen, "$seen"}, {store.FlagFlagged, "$flagged"}, {store.FlagAnswered, "$answered"}, {store.FlagDraft, "$draft"}} {
		if m.Flags&f.flag != 0 {
			kw[f.name] = true
		}
	}
	for _, k := range m.Keywords {
		kw[strings.ToLower(k)] = true
	}
	return kw
}

type emailGetArgs struct {
	getArgs
	BodyProperties      *[]string `json:"bodyProperties"`
	FetchTextBodyValues bool      `json:"fetchTextBodyValues"`
	FetchHTMLBodyValues bool      `json:"fetchHTMLBodyValues"`
	FetchAllBodyValues  bool      `json:"fetchAllBodyValues"`
	MaxBodyValueBytes   int       `json:"maxBodyValueBytes"`
}

func (a *API) emailGet(ctx context.Context, c *jmap.Call) (any, error) {
	var args emailGetArgs
	if err := c.Decode(&args); err != nil {
		return nil, err
	}
	ac, err := a.account(ctx, c, args.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := emailProps(args.Properties, args.BodyProperties, args.MaxBodyValueBytes, emailDefaults)
	if err != nil {
		return nil, err
	}
	state, err := a.state(ctx, ac)
	if err != nil {
		return nil, err
	}
	resp := getResponse{AccountID: ac.jid, State: state, List: []any{}, NotFound: []string{}}
	if args.IDs == nil {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, "Email/get needs ids: find them with Email/query")
	}
	if len(*args.IDs) > c.Limits.MaxObjectsInGet {
		return nil, jmap.Errorf(jmap.ErrRequestTooLarge, fmt.Sprintf("at most %d ids", c.Limits.MaxObjectsInGet))
	}
	want := map[int64]bool{}
	for _, id := range *args.IDs {
		id, _ = c.ResolveID(id)
		if n, ok := parseID('M', id); ok {
			want[n] = true
		}
	}
	found, err := a.locate(ctx, ac, want)
	if err != nil {
		return nil, err
	}
	for _, id := range *args.IDs {
		id, _ = c.ResolveID(id)
		n, _ := parseID('M', id)
		loc, ok := found[n]
		if !ok {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		o, err := a.emailObject(ctx, ac, loc, props, &args)
		if err != nil {
			return nil, err
		}
		resp.List = append(resp.List, o)
	}
	return resp, nil
}

// needsContent reports whether any asked property is read from the
// message itself rather than the in-memory state.
func needsContent(props map[string]bool) bool {
	for p := range props {
		switch p {
		case "id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt":
		default:
			return true
		}
	}
	return false
}

func utcDate(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

func (a *API) emailObject(ctx context.Context, ac *acct, loc located, props map[string]bool, args *emailGetArgs) (map[string]any, error) {
	m := loc.meta
	f := ac.folders[loc.folder]
	o := map[string]any{"id": emailID(m.ID)}
	for p := range props {
		switch p {
		case "blobId":
			o[p] = blobID(m.ID)
		case "threadId":
			o[p] = threadID(m.ThreadID)
		case "mailboxIds":
			o[p] = map[string]bool{mailboxID(f.ID()): true}
		case "keywords":
			o[p] = keywordsOf(m)
		case "size":
			o[p] = m.Size
		case "receivedAt":
			o[p] = utcDate(m.InternalDate)
		}
	}
	if !needsContent(props) {
		return o, nil
	}
	st, err := a.svc.Structure(ctx, f.ID(), m.UID)
	if err != nil {
		return nil, fmt.Errorf("structure of message %d: %w", m.ID, err)
	}
	body, err := a.svc.OpenBody(ctx, f.ID(), m.UID)
	if err != nil {
		return nil, fmt.Errorf("open message %d: %w", m.ID, err)
	}
	defer body.Close()
	if err := a.contentProperties(o, partBlobID(m.ID), st, body, props, args); err != nil {
		return nil, fmt.Errorf("message %d: %w", m.ID, err)
	}
	return o, nil
}

// emailProps checks the properties and bodyProperties of Email/get and
// Email/parse, their maxBodyValueBytes too: the properties asked for, or
// defaults. A header:… property is checked by its form, never added to a
// shared list (concurrent requests read emailProperties).
func emailProps(asked, bodyProps *[]string, maxBodyValueBytes int, defaults []string) (map[string]bool, error) {
	props := map[string]bool{"id": true}
	if asked == nil {
		for _, p := range defaults {
			props[p] = true
		}
	} else {
		for _, p := range *asked {
			if _, _, _, ok := emailprops.ParseHeaderProperty(p); !ok && !slices.Contains(emailProperties, p) {
				return nil, jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("unknown property %q", p))
			}
			props[p] = true
		}
	}
	if bodyProps != nil {
		for _, p := range *bodyProps {
			if !emailprops.ValidBodyProperty(p) {
				return nil, jmap.Errorf(jmap.ErrInvalidArguments, fmt.Sprintf("unknown body property %q", p))
			}
		}
	}
	if maxBodyValueBytes < 0 {
		return nil, jmap.Errorf(jmap.ErrInvalidArguments, "maxBodyValueBytes is a positive number")
	}
	return props, nil
}
