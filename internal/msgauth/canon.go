package msgauth

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"mailroom/internal/resolver"
)

// tempError marks a failure that may pass on retry (DNS).
type tempError struct{ err error }

func (e *tempError) Error() string { return e.err.Error() }
func (e *tempError) Unwrap() error { return e.err }

// This file has the DKIM primitives ARC is built on (RFC 6376 sections
// 3.4 to 3.7, used by RFC 8617 section 5): canonicalization, header
// selection, key records, signature checks. go-msgauth keeps its own
// unexported, so ARC needs these.

// relaxedHeader canonicalizes a raw field the "relaxed" way (RFC 6376
// 3.4.2): name in lower case, unfolded, whitespace runs made one space,
// none around the colon or at the end.
func relaxedHeader(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	value = strings.NewReplacer("\r\n", "", "\n", "").Replace(value)
	var b strings.Builder
	ws := false
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == ' ' || c == '\t' {
			ws = true
			continue
		}
		if ws && b.Len() > 0 {
			b.WriteByte(' ')
		}
		ws = false
		b.WriteByte(c)
	}
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + b.String() + "\r\n"
}

// canonHeader canonicalizes one raw field with the given algorithm.
func canonHeader(raw, alg string) string {
	if alg == "simple" {
		if !strings.HasSuffix(raw, "\r\n") {
			raw = strings.TrimSuffix(raw, "\n") + "\r\n"
		}
		return raw
	}
	return relaxedHeader(raw)
}

// withoutB returns a raw signature field with the b= tag's value removed
// (RFC 6376 3.7: the signature is computed with b= empty), and no final
// CRLF, as the field is hashed last and unterminated.
func withoutB(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	parts := strings.Split(value, ";")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if ok && strings.TrimSpace(k) == "b" {
			parts[i] = p[:strings.Index(p, "=")+1]
		}
	}
	return name + ":" + strings.Join(parts, ";")
}

// bodyCanon writes a canonical body (RFC 6376 3.4.3, 3.4.4) to w as the
// message body streams in, holding only a count of empty lines: trailing
// empty lines are dropped, which needs to know what follows them.
type bodyCanon struct {
	w        io.Writer
	relaxed  bool
	empties  int  // empty lines not written yet
	inLine   bool // the current line has content
	wsp      bool // relaxed: whitespace pending in the current line
	cr       bool // a CR pending (written if not followed by LF)
	any      bool // anything written
	line     []byte
	writeErr error
}

func (c *bodyCanon) emit(b []byte) {
	if c.writeErr == nil && len(b) > 0 {
		_, c.writeErr = c.w.Write(b)
		c.any = true
	}
}

func (c *bodyCanon) char(ch byte) {
	if !c.inLine {
		for ; c.empties > 0; c.empties-- {
			c.line = append(c.line, '\r', '\n')
		}
		c.inLine = true
	}
	if c.wsp {
		c.line = append(c.line, ' ')
		c.wsp = false
	}
	c.line = append(c.line, ch)
}

func (c *bodyCanon) endLine() {
	c.wsp = false
	if c.inLine {
		c.line = append(c.line, '\r', '\n')
		c.inLine = false
	} else {
		c.empties++
	}
}

func (c *bodyCanon) Write(p []byte) (int, error) {
	for _, ch := range p {
		if c.cr {
			c.cr = false
			if ch == '\n' {
				c.endLine()
				continue
			}
			c.char('\r')
		}
		switch {
		case ch == '\r':
			c.cr = true
		case ch == '\n':
			c.endLine()
		case c.relaxed && (ch == ' ' || ch == '\t'):
			c.wsp = true
		default:
			c.char(ch)
		}
		if len(c.line) >= 4096 {
			c.emit(c.line)
			c.line = c.line[:0]
		}
	}
	c.emit(c.line)
	c.line = c.line[:0]
	return len(p), c.writeErr
}

// Close ends the body: an unterminated last line gets its CRLF; an empty
// body is CRLF in simple canonicalization, nothing in relaxed.
func (c *bodyCanon) Close() error {
	if c.cr {
		c.cr = false
		c.char('\r')
	}
	if c.inLine {
		c.endLine()
	}
	c.emit(c.line)
	c.line = c.line[:0]
	if !c.any && !c.relaxed {
		c.emit([]byte("\r\n"))
	}
	return c.writeErr
}

// limitWriter passes at most n bytes (the l= tag), silently dropping the rest.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n < 0 {
		return l.w.Write(p)
	}
	k := min(int64(len(p)), l.n)
	l.n -= k
	if _, err := l.w.Write(p[:k]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// bodyHash streams the body of the message r (skipping its header) through
// canonicalization into SHA-256; limit < 0 is no l= tag.
func bodyHash(r io.Reader, alg string, limit int64) ([]byte, error) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			if err == io.EOF {
				break // no body at all
			}
			return nil, err
		}
		if len(line) <= 2 && strings.TrimRight(string(line), "\r\n") == "" {
			break
		}
	}
	h := sha256.New()
	c := &bodyCanon{w: &limitWriter{w: h, n: limit}, relaxed: alg == "relaxed"}
	if _, err := io.Copy(c, br); err != nil {
		return nil, err
	}
	if err := c.Close(); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// selectHeaders picks the fields named in an h= list, each name taking the
// last instance not yet used (RFC 6376 5.4.2), and writes them canonical.
// A name with no instance left contributes nothing.
func selectHeaders(w hash.Hash, hdr []Field, names []string, alg string) {
	used := map[int]bool{}
	for _, name := range names {
		name = strings.TrimSpace(name)
		for i := len(hdr) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(hdr[i].Name, name) {
				used[i] = true
				io.WriteString(w, canonHeader(hdr[i].Raw, alg))
				break
			}
		}
	}
}

// publicKey is a key from a selector's TXT record (RFC 6376 3.6.1).
type publicKey struct {
	rsa     *rsa.PublicKey
	ed25519 ed25519.PublicKey
}

var errNoKey = errors.New("no key record")

// lookupKey fetches <selector>._domainkey.<domain>. A temporary DNS failure
// is returned as is, so callers can tell it from a bad or missing key.
func (c *Checker) lookupKey(ctx context.Context, selector, domain string) (*publicKey, error) {
	txts, err := c.res.LookupTXT(ctx, selector+"._domainkey."+domain)
	if resolver.IsNotFound(err) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, &tempError{err}
	}
	if len(txts) == 0 {
		return nil, errNoKey
	}
	tags, err := ParseTags(txts[0])
	if err != nil {
		return nil, fmt.Errorf("key record: %w", err)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, errors.New("key record: unknown version")
	}
	der, err := base64.StdEncoding.DecodeString(stripWS(tags["p"]))
	if err != nil || len(der) == 0 {
		return nil, errors.New("key record: no usable key (revoked?)")
	}
	switch k := tags["k"]; k {
	case "", "rsa":
		if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
			if rk, ok := pub.(*rsa.PublicKey); ok {
				return &publicKey{rsa: rk}, nil
			}
		}
		rk, err := x509.ParsePKCS1PublicKey(der)
		if err != nil {
			return nil, errors.New("key record: bad RSA key")
		}
		return &publicKey{rsa: rk}, nil
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, errors.New("key record: bad ed25519 key")
		}
		return &publicKey{ed25519: ed25519.PublicKey(der)}, nil
	default:
		return nil, fmt.Errorf("key record: unknown key type %q", k)
	}
}

// verifySig checks sig over the SHA-256 digest with the key, for the
// algorithms rsa-sha256 and ed25519-sha256 (RFC 8463).
func verifySig(key *publicKey, alg string, digest, sig []byte) error {
	switch alg {
	case "rsa-sha256":
		if key.rsa == nil {
			return errors.New("key type does not match a=")
		}
		if key.rsa.N.BitLen() < 1024 {
			return errors.New("RSA key too short")
		}
		return rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, digest, sig)
	case "ed25519-sha256":
		if key.ed25519 == nil {
			return errors.New("key type does not match a=")
		}
		if !ed25519.Verify(key.ed25519, digest, sig) {
			return errors.New("bad signature")
		}
		return nil
	}
	return fmt.Errorf("unsupported algorithm %q", alg)
}

func stripWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}
