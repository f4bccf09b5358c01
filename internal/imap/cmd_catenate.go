package imap

import (
	"errors"
	"io"
	"strings"

	"mailroom/internal/imap/imapurl"
	"mailroom/internal/store"
)

// CATENATE (RFC 4469): an APPEND message built from TEXT literals and IMAP
// URLs of messages already on the server. The parts are streamed, in
// order, into the store's staging as the client sends them — a URL part
// straight from the stored body it names — so nothing is held in memory
// and, as for a plain APPEND, the message is acknowledged only once
// staged and delivered. The result is bounded by APPENDLIMIT.

// catReader is the io.Reader the store stages a CATENATE message from: it
// reads the parts from the connection one by one. Its first error sticks
// (the store may read again after an error).
type catReader struct {
	s     *session
	first bool // the next part is the first (no SP before it)
	done  bool // ")" was read
	cur   io.Reader
	ref   *urlRef // the open URL part, closed when read
	n     int64   // octets so far
	limit int64
	err   error
}

func (c *catReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.cur != nil {
			n, err := c.cur.Read(p)
			c.n += int64(n)
			if err == io.EOF {
				c.closePart()
				if n > 0 {
					return n, nil
				}
				continue
			}
			if err != nil {
				c.err = err
			}
			return n, err
		}
		if c.done {
			return 0, io.EOF
		}
		if c.err = c.next(); c.err != nil {
			return 0, c.err
		}
	}
}

func (c *catReader) closePart() {
	c.cur = nil
	if c.ref != nil {
		c.ref.close()
		c.ref = nil
	}
}

// next reads the next part's announcement and opens it.
func (c *catReader) next() error {
	part, ok, err := c.s.dec.ReadCatenatePart(c.first)
	c.first = false
	if err != nil {
		return err
	}
	if !ok {
		c.done = true
		return nil
	}
	if part.Text != nil {
		if c.n+part.Text.Size > c.limit {
			return no("TOOBIG", "the catenated message would exceed the APPENDLIMIT of %d octets", c.limit)
		}
		c.cur = part.Text
		return nil
	}
	ref, err := c.s.catenateURL(part.URL)
	if err != nil {
		return err
	}
	r, size := ref.reader()
	if c.n+size > c.limit {
		ref.close()
		return no("TOOBIG", "the catenated message would exceed the APPENDLIMIT of %d octets", c.limit)
	}
	c.ref, c.cur = ref, r
	return nil
}

// catenateURL opens a CATENATE URL part. RFC 4469 section 5 allows an
// absolute URL of this server, a URL relative to it ("/mailbox/;UID=n")
// or to the selected mailbox (";UID=n"); a URL carrying URLAUTH is
// checked as URLFETCH checks it and may name another user's mailbox.
func (s *session) catenateURL(raw string) (*urlRef, error) {
	u, err := imapurl.Parse(raw)
	if err != nil {
		return nil, badURL(raw)
	}
	accountID := s.principal.AccountID
	switch {
	case u.Token != "":
		if accountID, err = s.authorizeURL(u); err != nil {
			if errors.Is(err, errBadURL) {
				return nil, badURL(raw)
			}
			return nil, err
		}
	case u.Access != "":
		return nil, badURL(raw) // a rump authorizes nothing
	case u.Server && u.User != "" && !strings.EqualFold(urlAccount(u), s.principal.Email):
		return nil, badURL(raw)
	}
	ref, err := s.openURL(u, accountID)
	if errors.Is(err, errBadURL) {
		return nil, badURL(raw)
	} else if err != nil {
		return nil, err
	}
	if ref.sec != nil && ref.sec.Specifier == "HEADER.FIELDS" {
		// Filtered header lines are not a byte range of the stored
		// message; no client catenates them.
		ref.close()
		return nil, badURL(raw)
	}
	return ref, nil
}

// stageCatenate reads a CATENATE message's parts (ReadAppendMessage has
// returned msg with Catenate set) and stages the result.
func (s *session) stageCatenate() (store.Staged, error) {
	c := &catReader{s: s, first: true, limit: s.srv.opts.AppendLimit}
	if c.limit <= 0 {
		c.limit = 1<<63 - 1
	}
	defer c.closePart()
	m, err := s.srv.opts.Store.Stage(s.ctx, c)
	if c.err != nil && c.err != io.EOF {
		// The part's own error (BADURL, TOOBIG, a syntax error) rather
		// than however the store wrapped it.
		if m != nil {
			m.Discard()
		}
		return nil, s.failMidCommand(c.err)
	}
	if err != nil {
		return nil, err
	}
	if !c.done {
		m.Discard()
		return nil, errors.New("imap: CATENATE: the store stopped reading early")
	}
	return m, nil
}

// skipCatenate reads a CATENATE message's parts without using them (the
// target mailbox does not exist: the command fails with TRYCREATE once
// the client has sent it all).
func (s *session) skipCatenate() error {
	first := true
	for {
		part, ok, err := s.dec.ReadCatenatePart(first)
		first = false
		if err != nil || !ok {
			return err
		}
		if part.Text != nil {
			if _, err := io.Copy(io.Discard, part.Text); err != nil {
				return err
			}
		}
	}
}

// failMidCommand prepares a NO for a command whose rest (more parts and
// messages, their literals) the client is still sending: the session
// answers a *taggedError without skipping the rest, as commands normally
// fail once read, so it is skipped here (DiscardLine: a synchronizing
// literal is never asked for, a LITERAL+ one is read and dropped).
func (s *session) failMidCommand(err error) error {
	var te *taggedError
	if errors.As(err, &te) {
		if derr := s.discard(); derr != nil {
			return derr
		}
	}
	return err
}
