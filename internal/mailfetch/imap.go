package mailfetch

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/store"
)

// dialIMAP connects and logs in. ctx bounds the whole session: when it
// ends, the connection is closed.
func (f *Fetcher) dialIMAP(ctx context.Context, src store.FetchSource) (*imapclient.Client, error) {
	tlsCfg := f.tlsConfig(src.Host)
	security := src.Security
	if security == store.FetchSTARTTLS {
		security = "" // dial plain; NewStartTLS upgrades
	}
	conn, err := dial(ctx, addrOf(src), security, tlsCfg, f.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	opts := &imapclient.Options{TLSConfig: tlsCfg}
	var c *imapclient.Client
	if src.Security == store.FetchSTARTTLS {
		c, err = imapclient.NewStartTLS(conn, opts)
		if err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	} else {
		c = imapclient.New(conn, opts)
		if err := c.WaitGreeting(); err != nil {
			c.Close()
			return nil, fmt.Errorf("reading the greeting: %w", err)
		}
	}
	if err := c.Login(src.Username, src.Password).Wait(); err != nil {
		c.Close()
		return nil, loginError(err)
	}
	return c, nil
}

// imapText is what the server said in a refusal, or the error itself.
func imapText(err error) string {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return fmt.Sprintf("the server said %q", ie.Text)
	}
	return err.Error()
}

// fetchIMAP collects the messages above the cursor from src's folder.
func (f *Fetcher) fetchIMAP(ctx context.Context, acct store.Account, src store.FetchSource, res *Result) error {
	c, err := f.dialIMAP(ctx, src)
	if err != nil {
		return err
	}
	defer c.Close()
	// Read-only unless the user asked to change the remote: EXAMINE
	// cannot set \Seen or delete anything by mistake.
	sel, err := c.Select(src.Folder, &imap.SelectOptions{ReadOnly: !src.Delete && !src.MarkRead}).Wait()
	if err != nil {
		return fmt.Errorf("opening the folder %q: %s", src.Folder, imapText(err))
	}
	last := src.LastUID
	if sel.UIDValidity != src.UIDValidity {
		// A new UIDVALIDITY (or the first run): the old UIDs mean
		// nothing; everything in the folder is collected.
		if src.UIDValidity != 0 {
			f.log.Warn("remote folder's UIDVALIDITY changed: collecting it all again", "source", src.ID, "folder", src.Folder)
		}
		last = 0
		if err := f.st.SetFetchCursor(ctx, src.ID, sel.UIDValidity, 0, 0); err != nil {
			return err
		}
	}
	if sel.NumMessages == 0 {
		return nil
	}
	// "n:*" includes the highest UID even when it is below n (RFC 9051
	// 6.4.8), hence the filter.
	sd, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(last + 1), Stop: 0}}}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("listing the new messages: %s", imapText(err))
	}
	var uids []imap.UID
	for _, u := range sd.AllUIDs() {
		if uint32(u) > last {
			uids = append(uids, u)
		}
	}
	if len(uids) > maxListing {
		uids = uids[:maxListing] // the rest on the next run
	}
	slices.Sort(uids)
	if len(uids) == 0 {
		return nil
	}
	sizes, err := imapSizes(c, uids)
	if err != nil {
		return err
	}
	var done []imap.UID
	defer func() {
		// The changes the user asked for, of the messages now stored
		// here; a failure leaves the remote as it was, which is safe.
		if len(done) > 0 && (src.Delete || src.MarkRead) {
			if err := f.changeRemote(c, src, done); err != nil {
				res.Warnings = append(res.Warnings, err.Error())
			}
		}
		c.Logout().Wait()
	}()
	for _, uid := range uids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if size, ok := sizes[uid]; ok && size > f.cfg.MaxMessageSize {
			res.tooBig(size, f.cfg.MaxMessageSize)
			// Left on the remote; the cursor passes it.
			if err := f.st.SetFetchCursor(ctx, src.ID, sel.UIDValidity, uint32(uid), 0); err != nil {
				return err
			}
			continue
		}
		staged, err := f.fetchIMAPBody(ctx, c, uid)
		if err != nil {
			return err
		}
		if staged == nil {
			continue // expunged meanwhile
		}
		delivered, err := f.deliver(ctx, acct, src, staged)
		if err != nil {
			return err
		}
		// Durable here: move the cursor past it. A crash between the
		// two collects the message again on the next run (at least
		// once).
		n := 0
		if delivered {
			n = 1
		}
		if err := f.st.SetFetchCursor(ctx, src.ID, sel.UIDValidity, uint32(uid), n); err != nil {
			return err
		}
		res.Fetched += n
		done = append(done, uid)
	}
	return nil
}

// imapSizes asks the sizes of the messages.
func imapSizes(c *imapclient.Client, uids []imap.UID) (map[imap.UID]int64, error) {
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("reading the message sizes: %s", imapText(err))
	}
	sizes := make(map[imap.UID]int64, len(msgs))
	for _, m := range msgs {
		sizes[m.UID] = m.RFC822Size
	}
	return sizes, nil
}

// fetchIMAPBody stages one message, streamed from the server's literal
// (BODY.PEEK[]: the remote \Seen stays as it was). nil: the server sent
// no body (the message was expunged meanwhile).
func (f *Fetcher) fetchIMAPBody(ctx context.Context, c *imapclient.Client, uid imap.UID) (store.Staged, error) {
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	defer cmd.Close()
	var staged store.Staged
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			body, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || body.Literal == nil || staged != nil {
				continue
			}
			s, err := f.stage(ctx, body.Literal)
			if err != nil {
				return nil, err
			}
			staged = s
		}
	}
	if err := cmd.Close(); err != nil {
		if staged != nil {
			staged.Discard()
		}
		return nil, fmt.Errorf("reading message %d: %s", uid, imapText(err))
	}
	return staged, nil
}

// changeRemote marks the collected messages read, or deletes them, as the
// user asked.
func (f *Fetcher) changeRemote(c *imapclient.Client, src store.FetchSource, uids []imap.UID) error {
	set := imap.UIDSetNum(uids...)
	if src.MarkRead {
		if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
			return fmt.Errorf("marking the collected messages read on the server: %s", imapText(err))
		}
	}
	if !src.Delete {
		return nil
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("deleting the collected messages on the server: %s", imapText(err))
	}
	var err error
	if c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2) {
		err = c.UIDExpunge(set).Close()
	} else {
		// Without UIDPLUS, EXPUNGE also removes messages someone else
		// marked \Deleted in that folder: as any mail client would.
		err = c.Expunge().Close()
	}
	if err != nil {
		return fmt.Errorf("deleting the collected messages on the server: %s", imapText(err))
	}
	return nil
}

// testIMAP logs in and opens the folder.
func (f *Fetcher) testIMAP(ctx context.Context, src store.FetchSource) (string, error) {
	c, err := f.dialIMAP(ctx, src)
	if err != nil {
		return "", err
	}
	defer c.Close()
	sel, err := c.Select(src.Folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return "", fmt.Errorf("logged in, but opening the folder %q failed: %s", src.Folder, imapText(err))
	}
	c.Logout().Wait()
	return fmt.Sprintf("Logged in. The folder %s holds %d messages.", src.Folder, sel.NumMessages), nil
}
