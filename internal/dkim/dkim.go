// Package dkim keeps the DKIM keys of Mailroom's mail domains and signs
// outgoing messages with them (RFC 6376).
//
// Each domain has two keys, each under its own selector: an Ed25519 key
// (RFC 8463) and an RSA-2048 key. Every message is signed with both,
// because many receivers still verify only RSA signatures while Ed25519
// signatures are short and cheap; a receiver that knows both may accept
// either.
//
// Signatures use relaxed/relaxed canonicalization, which survives the
// header refolding and whitespace changes common in transit, and
// SHA-256.
package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// Keys are the signing keys of one domain.
type Keys struct {
	Domain string // the signing domain (d=), a lower-case A-label name

	Ed25519Selector string
	Ed25519         ed25519.PrivateKey

	RSASelector string
	RSA         *rsa.PrivateKey
}

// A TXTRecord is a DNS TXT record that publishes a public key.
type TXTRecord struct {
	Name  string // "<selector>._domainkey.<domain>", without a trailing dot
	Value string // the record's text, unquoted and unsplit
}

// Records returns the DNS TXT records that publish k's public keys, the
// Ed25519 one first. A key that is nil is left out.
func (k *Keys) Records() []TXTRecord {
	var recs []TXTRecord
	if k.Ed25519 != nil {
		// RFC 8463 §4.2: p= is the bare 32-octet public key.
		pub := k.Ed25519.Public().(ed25519.PublicKey)
		recs = append(recs, TXTRecord{
			Name:  k.Ed25519Selector + "._domainkey." + k.Domain,
			Value: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub),
		})
	}
	if k.RSA != nil {
		// RFC 6376 §3.6.1 reads as if p= were a PKCS #1 RSAPublicKey, but
		// its Appendix C and every common verifier (OpenDKIM among them)
		// use a SubjectPublicKeyInfo; see RFC 6376 erratum 3017.
		der, err := x509.MarshalPKIXPublicKey(&k.RSA.PublicKey)
		if err != nil {
			// Only a malformed key (nil modulus) gets here, and that
			// could not have signed anything either.
			panic(fmt.Sprintf("dkim: encoding RSA public key: %v", err))
		}
		recs = append(recs, TXTRecord{
			Name:  k.RSASelector + "._domainkey." + k.Domain,
			Value: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der),
		})
	}
	return recs
}

// maxHeader bounds the header section Sign keeps in memory, the same
// limit the SMTP server applies on submission.
const maxHeader = 1 << 20

// signedFields are the header fields signed when present: RFC 6376
// §5.4.1's list, the other originator and identification fields of RFC
// 5322, the MIME fields (which decide how the body is read), and
// List-Unsubscribe-Post, which RFC 8058 §4 requires to be signed.
// Trace fields (Received, Return-Path) are left out: they change in
// transit by design.
var signedFields = []string{
	"From", "Sender", "Reply-To", "Subject", "Date", "To", "Cc",
	"Message-ID", "In-Reply-To", "References",
	"Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post",
	"List-Subscribe", "List-Post", "List-Owner", "List-Archive",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Content-ID", "Content-Description", "Content-Disposition", "Content-Language",
}

// Sign reads a whole message from r and returns the DKIM-Signature header
// fields to prepend to it: the Ed25519 signature, then the RSA-SHA256 one,
// each CRLF-terminated. A key that is nil is skipped.
//
// Sign reads r once and keeps only the header section in memory (at most
// 1 MiB), so messages of any size can be signed.
//
// Each header field from a fixed list is signed as often as it occurs,
// and From once more than that, so that no From field can be added to the
// message without breaking the signatures (RFC 6376 §8.15). Fields that
// are absent stay unsigned so that, for example, a mailing list may add
// its List-* fields.
func (k *Keys) Sign(r io.Reader) (header string, err error) {
	br := bufio.NewReaderSize(r, 32<<10)
	hdr, complete, err := readHeader(br)
	if err != nil {
		return "", fmt.Errorf("dkim: signing for %s: %w", k.Domain, err)
	}
	fields := fieldsToSign(hdr)

	var signers []*dkim.Signer
	// Close stops a signer's goroutine. On an early return the signers
	// are abandoned this way; closing one a second time is harmless.
	defer func() {
		for _, s := range signers {
			s.Close()
		}
	}()
	add := func(sel string, key crypto.Signer) error {
		s, err := dkim.NewSigner(&dkim.SignOptions{
			Domain:                 k.Domain,
			Selector:               sel,
			Signer:                 key,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             fields,
		})
		if err != nil {
			return fmt.Errorf("dkim: signing for %s with selector %s: %w", k.Domain, sel, err)
		}
		signers = append(signers, s)
		return nil
	}
	// Typed nil keys would be non-nil crypto.Signers: test each first.
	if k.Ed25519 != nil {
		if err := add(k.Ed25519Selector, k.Ed25519); err != nil {
			return "", err
		}
	}
	if k.RSA != nil {
		if err := add(k.RSASelector, k.RSA); err != nil {
			return "", err
		}
	}
	if len(signers) == 0 {
		return "", fmt.Errorf("dkim: signing for %s: no key", k.Domain)
	}

	// All signers hash the same stream, so the message is read only once.
	ws := make([]io.Writer, len(signers))
	for i, s := range signers {
		ws[i] = s
	}
	w := io.MultiWriter(ws...)
	if !complete {
		// A message that is all header has an empty body, which is what
		// a verifier hashes; the signers, though, need the empty line
		// that ends the header section to see where the body would start.
		if len(hdr) > 0 && hdr[len(hdr)-1] != '\n' {
			hdr = append(hdr, "\r\n"...)
		}
		hdr = append(hdr, "\r\n"...)
	}
	if _, err := w.Write(hdr); err != nil {
		return "", fmt.Errorf("dkim: signing for %s: %w", k.Domain, err)
	}
	if _, err := io.Copy(w, br); err != nil {
		return "", fmt.Errorf("dkim: signing for %s: %w", k.Domain, err)
	}

	var sb strings.Builder
	for _, s := range signers {
		if err := s.Close(); err != nil {
			return "", fmt.Errorf("dkim: signing for %s: %w", k.Domain, err)
		}
		sb.WriteString(s.Signature())
	}
	return sb.String(), nil
}

var errHeaderTooLarge = errors.New("header section larger than 1 MiB")

// readHeader returns the header section of the message in br, through the
// empty line that ends it, leaving br at the start of the body. complete
// is false for a message that ends before an empty line.
func readHeader(br *bufio.Reader) (hdr []byte, complete bool, err error) {
	lineStart := true
	for {
		frag, err := br.ReadSlice('\n')
		if len(hdr)+len(frag) > maxHeader {
			return nil, false, errHeaderTooLarge
		}
		hdr = append(hdr, frag...)
		if lineStart && (string(frag) == "\r\n" || string(frag) == "\n") {
			return hdr, true, nil
		}
		switch err {
		case nil:
			lineStart = true
		case bufio.ErrBufferFull: // a line longer than br's buffer
			lineStart = false
		case io.EOF:
			return hdr, false, nil
		default:
			return nil, false, err
		}
	}
}

// fieldsToSign returns the h= list for a header section: each field of
// signedFields once per occurrence, and From once more.
func fieldsToSign(hdr []byte) []string {
	count := make(map[string]int)
	for line := range bytes.Lines(hdr) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		count[strings.ToLower(string(bytes.TrimSpace(name)))]++
	}
	var fields []string
	for _, f := range signedFields {
		n := count[strings.ToLower(f)]
		if f == "From" {
			n++
		}
		for range n {
			fields = append(fields, f)
		}
	}
	return fields
}
