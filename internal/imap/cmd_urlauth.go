package imap

import (
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"mailroom/internal/imap/imapurl"
	"mailroom/internal/imap/msgfmt"
	"mailroom/internal/store"
)

// URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524). The authorization is
// the URL's, not the session's: URLFETCH of a URL naming another user's
// mailbox works when the URL's verifier is right and its access
// identifier admits this session.

// cmdGenURLAuth answers GENURLAUTH: for each URL rump of the user's own
// mailboxes, the rump with its INTERNAL verifier.
func cmdGenURLAuth(s *session, tag string, _ bool) error {
	items, err := s.dec.ReadGenURLAuth()
	if err != nil {
		return err
	}
	out := make([]string, 0, len(items))
	var keys urlauthKeys
	for i, it := range items {
		if !strings.EqualFold(it.Mechanism, "INTERNAL") {
			return no("", "unknown URLAUTH mechanism %s (only INTERNAL)", truncate(it.Mechanism))
		}
		u, err := imapurl.Parse(it.Rump)
		if err != nil {
			return no("", "invalid URL rump: %v", err)
		}
		// RFC 4467 6.1: an absolute URL of the user's own mailbox, with
		// ";URLAUTH=access" and no verifier yet.
		switch {
		case !u.Server || u.User == "":
			return no("", "the URL rump must be an absolute imap:// URL with the user name")
		case u.Access == "" || u.Mechanism != "":
			return no("", "the URL rump must end with ;URLAUTH=<access> and no verifier")
		case !strings.EqualFold(urlAccount(u), s.principal.Email):
			return no("", "URLAUTH URLs can only be made for your own mailboxes")
		}
		mb, err := s.srv.opts.Store.Mailbox(s.ctx, s.principal.AccountID, u.Mailbox)
		if errors.Is(err, store.ErrNotFound) {
			return no("", "mailbox %s does not exist", u.Mailbox)
		} else if err != nil {
			return err
		}
		if u.UIDValidity != 0 && u.UIDValidity != mb.UIDValidity {
			return no("", "UIDVALIDITY of %s is not %d", u.Mailbox, u.UIDValidity)
		}
		if i == 0 {
			if keys, err = s.ensureURLAuthSecret(s.ctx, s.principal.AccountID); err != nil {
				return err
			}
		}
		out = append(out, u.Rump+":internal:"+urlauthToken(keys.key(mb.ID), u.Rump))
	}
	for _, url := range out {
		s.bw.WriteString("* GENURLAUTH ")
		s.enc.AString(url)
		s.bw.WriteString("\r\n")
	}
	return s.ok(tag, "", "GENURLAUTH completed")
}

// authorizeURL checks a URLAUTH-authorized URL for this session and
// returns the account whose mailbox it names; errBadURL when it does not
// authorize this session (wrong or stale verifier, expired, access
// identifier not matching).
func (s *session) authorizeURL(u *imapurl.URL) (int64, error) {
	if !u.Server || u.User == "" || u.Access == "" || u.Token == "" || u.Mechanism != "INTERNAL" || u.Mailbox == "" {
		return 0, errBadURL
	}
	if !u.Expire.IsZero() && !time.Now().Before(u.Expire) {
		return 0, errBadURL
	}
	switch kind, name := u.AccessUser(); kind {
	case "anonymous", "authuser":
		// Every session that reaches URLFETCH is authenticated, and
		// this server has no anonymous login.
	case "user":
		if !strings.EqualFold(name, s.principal.Email) {
			return 0, errBadURL
		}
	default:
		// submit+NAME is for a submission server fetching on NAME's
		// behalf (BURL, RFC 4468), which no IMAP session is.
		return 0, errBadURL
	}
	accountID := s.principal.AccountID
	if owner := urlAccount(u); !strings.EqualFold(owner, s.principal.Email) {
		acct, err := s.srv.opts.Store.Account(s.ctx, owner)
		if errors.Is(err, store.ErrNotFound) {
			return 0, errBadURL
		} else if err != nil {
			return 0, err
		}
		accountID = acct.ID
	}
	mb, err := s.srv.opts.Store.Mailbox(s.ctx, accountID, u.Mailbox)
	if errors.Is(err, store.ErrNotFound) {
		return 0, errBadURL
	} else if err != nil {
		return 0, err
	}
	keys, err := s.loadURLAuthKeys(s.ctx, accountID)
	if err != nil {
		return 0, err
	}
	key := keys.key(mb.ID)
	if key == nil {
		return 0, errBadURL
	}
	want := urlauthToken(key, u.Rump)
	if subtle.ConstantTimeCompare([]byte(want), []byte(u.Token)) != 1 {
		return 0, errBadURL
	}
	return accountID, nil
}

// cmdURLFetch answers URLFETCH: each URL's data, or NIL when the URL does
// not authorize this session or names nothing.
func cmdURLFetch(s *session, tag string, _ bool) error {
	items, err := s.dec.ReadURLFetch()
	if err != nil {
		return err
	}
	for _, it := range items {
		var ref *urlRef
		u, err := imapurl.Parse(it.URL)
		if err == nil {
			var acct int64
			if acct, err = s.authorizeURL(u); err == nil {
				ref, err = s.openURL(u, acct)
			}
		}
		if err != nil && !errors.Is(err, errBadURL) && !isURLSyntax(err) {
			return err
		}
		s.bw.WriteString("* URLFETCH ")
		s.enc.AString(it.URL)
		s.bw.WriteByte(' ')
		if ref == nil {
			s.bw.WriteString("NIL\r\n")
			continue
		}
		err = s.writeURLFetchData(ref, it.Extended, it.BodyPartStructure, it.Binary, it.Body)
		ref.close()
		if err != nil {
			// The response is begun, perhaps a literal announced and not
			// all sent: the stream is broken, as for FETCH.
			s.srv.log.Error("URLFETCH of a message body failed", s.logger("err", err)...)
			return errBye
		}
		s.bw.WriteString("\r\n")
	}
	return s.ok(tag, "", "URLFETCH completed")
}

func isURLSyntax(err error) bool {
	var ue *imapurl.Error
	return errors.As(err, &ue) || errors.Is(err, imapurl.ErrTooLong)
}

// writeURLFetchData writes the data of one URLFETCH response: the section
// as BODY.PEEK would send it, or for the RFC 5524 form a list with
// BODYPARTSTRUCTURE and BINARY or BODY as asked.
func (s *session) writeURLFetchData(ref *urlRef, extended, bps, binary, body bool) error {
	if !extended {
		return msgfmt.WriteSection(s.enc, ref.structure, ref.body, ref.sec, ref.partial)
	}
	s.bw.WriteByte('(')
	sp := false
	if bps {
		s.bw.WriteString("BODYPARTSTRUCTURE ")
		p, ok := ref.part()
		switch {
		case binary:
			// The structure of the data BINARY returns (RFC 5524).
			if err := msgfmt.URLBinaryStructure(s.enc, ref.structure, ref.body, ref.sec); err != nil {
				if !errors.Is(err, msgfmt.ErrUnknownCTE) {
					return err
				}
				s.bw.WriteString("NIL")
			}
		case ok:
			msgfmt.PartStructure(s.enc, p)
		default:
			s.bw.WriteString("NIL")
		}
		sp = true
	}
	if (binary || body) && sp {
		s.bw.WriteByte(' ')
	}
	switch {
	case binary:
		s.bw.WriteString("BINARY ")
		if err := msgfmt.WriteURLBinary(s.enc, ref.structure, ref.body, ref.sec, ref.partial); err != nil {
			if errors.Is(err, msgfmt.ErrUnknownCTE) {
				s.bw.WriteString("NIL")
			} else {
				return err
			}
		}
	case body:
		s.bw.WriteString("BODY ")
		if err := msgfmt.WriteSection(s.enc, ref.structure, ref.body, ref.sec, ref.partial); err != nil {
			return err
		}
	}
	s.bw.WriteByte(')')
	return nil
}

// cmdResetKey answers RESETKEY: a new access key for one mailbox, or for
// all of them, which revokes every URLAUTH URL made with the old ones.
func cmdResetKey(s *session, tag string, _ bool) error {
	args, err := s.dec.ReadResetKey()
	if err != nil {
		return err
	}
	for _, m := range args.Mechanisms {
		if !strings.EqualFold(m, "INTERNAL") {
			return no("", "unknown URLAUTH mechanism %s (only INTERNAL)", truncate(m))
		}
	}
	if !args.HasMailbox {
		if err := s.resetURLAuthKey(s.ctx, s.principal.AccountID, 0); err != nil {
			return err
		}
		return s.ok(tag, "", "all URLAUTH keys reset")
	}
	name, err := s.fromWire(args.Mailbox)
	if err != nil {
		return err
	}
	mb, err := s.srv.opts.Store.Mailbox(s.ctx, s.principal.AccountID, name)
	if errors.Is(err, store.ErrNotFound) {
		return no("NONEXISTENT", "%s does not exist", name)
	} else if err != nil {
		return err
	}
	if err := s.resetURLAuthKey(s.ctx, s.principal.AccountID, mb.ID); err != nil {
		return err
	}
	return s.ok(tag, "URLMECH INTERNAL", "URLAUTH key reset")
}

// urlAccount is the account an absolute URL's user names. Accounts are
// mail addresses: the user is either the whole address, percent-encoded
// ("imap://joe%40example.com@mail.example.com/"), or its local part with
// the domain as the URL's host ("imap://joe@example.com/"), the form
// Dovecot's imaptest and clients that split the address use.
func urlAccount(u *imapurl.URL) string {
	if strings.Contains(u.User, "@") {
		return u.User
	}
	return u.User + "@" + u.Host
}
