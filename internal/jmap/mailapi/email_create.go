package mailapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"mailroom/internal/jmap"
	"mailroom/internal/mailbox"
	"mailroom/internal/store"
)

// createEmails is Email/set's create (RFC 8621 §4.6): each Email is
// built as a MIME message, staged durably, and appended to its Mailbox
// through the mailbox service, so IMAP sees it at once. It is reported
// created only once the store has committed it.
func (a *API) createEmails(ctx context.Context, c *jmap.Call, ac *acct, create map[string]json.RawMessage, resp *setResponse) {
	cids := make([]string, 0, len(create))
	for cid := range create {
		cids = append(cids, cid)
	}
	sort.Strings(cids)
	host := domainOf(c.User.Email)
	for _, cid := range cids {
		d, serr := parseDraft(create[cid], time.Now(), host, randomID)
		if serr != nil {
			resp.NotCreated[cid] = serr
			continue
		}
		created, serr := a.createEmail(ctx, c, ac, d)
		if serr != nil {
			resp.NotCreated[cid] = serr
			continue
		}
		resp.Created[cid] = created
		c.Created(cid, created.ID)
	}
}

// createdEmail is what /set, /import and /copy answer for a new Email.
type createdEmail struct {
	ID       string `json:"id"`
	BlobID   string `json:"blobId"`
	ThreadID string `json:"threadId"`
	Size     int64  `json:"size"`
}

func (a *API) createEmail(ctx context.Context, c *jmap.Call, ac *acct, d *draft) (*createdEmail, *jmap.SetError) {
	target, serr := a.target(c, ac, d.mailbox, d.keywords, d.receivedAt)
	if serr != nil {
		return nil, serr
	}
	// Every blob is opened before anything is written, so the client
	// hears of all the missing ones at once; each is then read where the
	// writer comes to it (a blob used twice is opened again).
	opened := map[string]io.ReadCloser{}
	defer func() {
		for _, r := range opened {
			r.Close()
		}
	}()
	var missing []string
	for _, id := range d.blobs {
		b, err := a.openBlob(ctx, ac, id)
		if err != nil {
			if !errors.Is(err, jmap.ErrBlobNotFound) {
				a.log.Error("jmap: Email/set create: open blob", "account", ac.email, "blob", id, "err", err)
				return nil, jmap.NewSetError(jmap.SetForbidden, "the server could not read a blob; it is logged")
			}
			missing = append(missing, id)
			continue
		}
		opened[id] = b.Content
	}
	if len(missing) > 0 {
		return nil, &jmap.SetError{Type: jmap.SetBlobNotFound, Description: "blobs not found", NotFound: missing}
	}
	var mu sync.Mutex // the writer runs in its own goroutine
	open := func(id string) (io.ReadCloser, error) {
		mu.Lock()
		r, ok := opened[id]
		delete(opened, id)
		mu.Unlock()
		if ok {
			return r, nil
		}
		b, err := a.openBlob(ctx, ac, id)
		if err != nil {
			return nil, err
		}
		return b.Content, nil
	}
	staged, err := a.stageFrom(ctx, func(w io.Writer) error { return d.write(w, open, nil) })
	if err != nil {
		if errors.Is(err, errAttachmentsTooLarge) {
			return nil, jmap.NewSetError(jmap.SetTooLarge, err.Error())
		}
		a.log.Error("jmap: Email/set create: stage", "account", ac.email, "err", err)
		return nil, jmap.NewSetError(jmap.SetForbidden, "the server could not store the Email; it is logged")
	}
	return a.appendStaged(ctx, ac, staged, target)
}

// target checks the one Mailbox, the keywords and the date of a new
// Email. mailboxID may be a creation reference ("#cid") to a Mailbox
// made earlier in the request.
func (a *API) target(c *jmap.Call, ac *acct, mailboxID string, keywords []string, receivedAt time.Time) (mailbox.Target, *jmap.SetError) {
	id, _ := c.ResolveID(mailboxID)
	f, ok := ac.folder(id)
	if !ok {
		return mailbox.Target{}, bad("mailboxIds", "no Mailbox %q", mailboxID)
	}
	flags, kws := flagsOf(keywords)
	return mailbox.Target{Folder: f, Flags: flags, Keywords: kws, InternalDate: receivedAt}, nil
}

// stageFrom stages what write writes, streamed through a pipe: the
// message is never whole in memory.
func (a *API) stageFrom(ctx context.Context, write func(io.Writer) error) (store.Staged, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic writing the message: %v", p)
			}
			pw.CloseWithError(err)
			done <- err
		}()
		err = write(pw)
	}()
	staged, err := a.st.Stage(ctx, pr)
	// Stops the writer if Stage gave up early.
	pr.CloseWithError(errors.New("staging ended"))
	werr := <-done
	if err != nil {
		if werr != nil && !errors.Is(werr, io.ErrClosedPipe) && !strings.Contains(werr.Error(), "staging ended") {
			// The writer's failure (a blob, a limit) is why Stage failed.
			return nil, fmt.Errorf("write message: %w", werr)
		}
		return nil, fmt.Errorf("stage message: %w", err)
	}
	if werr != nil {
		staged.Discard()
		return nil, fmt.Errorf("write message: %w", werr)
	}
	return staged, nil
}

// appendStaged appends a staged message to the target and reports the
// new Email; the staged body is discarded if the append fails.
func (a *API) appendStaged(ctx context.Context, ac *acct, staged store.Staged, t mailbox.Target) (*createdEmail, *jmap.SetError) {
	defer staged.Discard()
	d, err := ac.user.Append(ctx, staged, t)
	if err != nil || len(d) != 1 {
		serr, ok := setErrorOf(err)
		if !ok {
			a.log.Error("jmap: append", "account", ac.email, "err", err)
			serr = jmap.NewSetError(jmap.SetForbidden, "the server could not store the Email; it is logged")
		}
		return nil, serr
	}
	return a.createdOf(ctx, ac, t.Folder, d[0].UID, d[0].ID, staged.Size())
}

// createdOf reads a new message's thread from the mailbox's shared state:
// from the service, not a view of the user's, since a folder may take
// new messages from a user who cannot read it (the "i" right alone).
func (a *API) createdOf(ctx context.Context, ac *acct, f mailbox.Folder, uid uint32, id, size int64) (*createdEmail, *jmap.SetError) {
	out := &createdEmail{ID: emailID(id), BlobID: blobID(id), Size: size}
	m, err := a.svc.Open(ctx, f.ID())
	if err != nil {
		a.log.Error("jmap: read new message", "account", ac.email, "err", err)
		return out, nil
	}
	defer a.svc.Release(m)
	if meta, ok := m.Message(uid); ok {
		out.ThreadID = threadID(meta.ThreadID)
		out.Size = meta.Size
		out.ID, out.BlobID = emailID(meta.ID), blobID(meta.ID)
	}
	return out, nil
}

// domainOf is the domain of an address, for the Message-IDs of the
// user's new Emails.
func domainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok && d != "" {
		return d
	}
	return "localhost"
}

// randomID is the local part of a new Message-ID.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
