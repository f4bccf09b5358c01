package imapmigrate

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailroom/internal/mailimport"
	"mailroom/internal/store"
)

// conn is one logged-in connection to the source. It is closed when the
// context ends, which ends whatever command waits on it: the IMAP client
// takes no context of its own.
type conn struct {
	c        *imapclient.Client
	stop     func() bool
	selected string
	validity uint32
}

// idleTimeout ends a connection on which nothing moved for this long: a
// source that stops answering must not hold a run forever.
const idleTimeout = 5 * time.Minute

// idleConn moves its deadline forward on every read and write.
type idleConn struct{ net.Conn }

func (c idleConn) Read(b []byte) (int, error) {
	c.SetDeadline(time.Now().Add(idleTimeout))
	return c.Conn.Read(b)
}

func (c idleConn) Write(b []byte) (int, error) {
	c.SetDeadline(time.Now().Add(idleTimeout))
	return c.Conn.Write(b)
}

func dial(ctx context.Context, src Source, password string, insecureTLS bool) (*conn, error) {
	tlsConf := &tls.Config{ServerName: src.Host, InsecureSkipVerify: insecureTLS, MinVersion: tls.VersionTLS12}
	opts := &imapclient.Options{TLSConfig: tlsConf}
	nd := &net.Dialer{Timeout: 30 * time.Second}
	var (
		c   *imapclient.Client
		err error
	)
	if src.TLS {
		var nc net.Conn
		td := &tls.Dialer{NetDialer: nd, Config: tlsConf}
		if nc, err = td.DialContext(ctx, "tcp", src.Addr()); err == nil {
			c = imapclient.New(idleConn{nc}, opts)
		}
	} else {
		var nc net.Conn
		if nc, err = nd.DialContext(ctx, "tcp", src.Addr()); err == nil {
			stop := context.AfterFunc(ctx, func() { nc.Close() })
			c, err = imapclient.NewStartTLS(idleConn{nc}, opts)
			stop()
			if err != nil {
				nc.Close()
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("connect to %s: %w", src.Addr(), err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	cn := &conn{c: c, stop: stop}
	if err := c.Login(src.User, password).Wait(); err != nil {
		cn.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("log in to %s as %s: %w", src.Addr(), src.User, err)
	}
	return cn, nil
}

func (cn *conn) close() {
	cn.stop()
	cn.c.Close()
}

// logout ends the session politely, then closes.
func (cn *conn) logout() {
	cn.c.Logout().Wait()
	cn.close()
}

// examine selects a folder read-only (no \Seen is set by fetching) and
// returns its UIDVALIDITY.
func (cn *conn) examine(name string) (*imap.SelectData, error) {
	// CONDSTORE makes the server report HIGHESTMODSEQ (RFC 7162 3.1.8).
	d, err := cn.c.Select(name, &imap.SelectOptions{ReadOnly: true, CondStore: cn.c.Caps().Has(imap.CapCondStore)}).Wait()
	if err != nil {
		cn.selected = ""
		return nil, fmt.Errorf("examine %q: %w", name, err)
	}
	cn.selected, cn.validity = name, d.UIDValidity
	return d, nil
}

// folder is a source folder and where it goes.
type folder struct {
	Source string
	Ours   string
	Use    store.SpecialUse
}

// listFolders lists the source's selectable folders, with the names they
// get here: the personal namespace's prefix (INBOX. on Courier and
// Cyrus) dropped, levels joined with our delimiter, special-use folders
// (by attribute, else by their usual names) kept apart so that they go
// into ours.
func (cn *conn) listFolders() ([]folder, error) {
	prefix := ""
	if cn.c.Caps().Has(imap.CapNamespace) {
		ns, err := cn.c.Namespace().Wait()
		if err == nil && len(ns.Personal) > 0 {
			prefix = ns.Personal[0].Prefix
		}
	}
	var opts *imap.ListOptions
	if cn.c.Caps().Has(imap.CapSpecialUse) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := cn.c.List("", "*", opts).Collect()
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	var out []folder
	for _, l := range list {
		if hasAttr(l.Attrs, imap.MailboxAttrNoSelect) || hasAttr(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		f := folder{Source: l.Mailbox, Ours: ourName(l.Mailbox, l.Delim, prefix)}
		for _, use := range []store.SpecialUse{store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk, store.SpecialArchive} {
			if hasAttr(l.Attrs, imap.MailboxAttr(use)) {
				f.Use = use
			}
		}
		if f.Use == "" && !strings.Contains(f.Ours, store.Delimiter) {
			f.Use = mailimport.SpecialUseOf(f.Ours)
		}
		out = append(out, f)
	}
	return out, nil
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// ourName translates a source folder name: the namespace prefix goes,
// the source's delimiter becomes ours, and a character that is our
// delimiter inside a level becomes "_" (it would split the level).
func ourName(name string, delim rune, prefix string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if prefix != "" && len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
		name = name[len(prefix):]
	}
	var levels []string
	if delim == 0 {
		levels = []string{name}
	} else {
		levels = strings.Split(name, string(delim))
	}
	for i, l := range levels {
		l = strings.ReplaceAll(l, store.Delimiter, "_")
		if l == "" {
			l = "_"
		}
		levels[i] = l
	}
	return strings.Join(levels, store.Delimiter)
}

// flagsOf splits IMAP flags into our system flags and valid keywords;
// \Recent and unknown system flags are dropped.
func flagsOf(flags []imap.Flag) (store.Flags, []string) {
	var f store.Flags
	var kw []string
	for _, x := range flags {
		if sf, ok := store.ParseFlag(string(x)); ok {
			f |= sf
			continue
		}
		if store.ValidKeyword(string(x)) {
			kw = append(kw, string(x))
		}
	}
	kw, _ = store.NormalizeKeywords(kw)
	return f, kw
}
