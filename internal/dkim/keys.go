package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNoKeys is wrapped by Load when a domain has no keys, or only one of
// the two.
var ErrNoKeys = errors.New("no keys")

// rsaBits follows RFC 8301 §3.2: signers SHOULD use at least 2048 bits.
const rsaBits = 2048

// keyKind is one of the two key types kept per domain. The file suffix
// and the selector suffix differ per kind so that both keys can live
// beside each other and in the same _domainkey DNS namespace.
type keyKind struct {
	name      string // for error messages and DNS k=
	fileExt   string // <selector><fileExt> among the domain's files
	selSuffix string // appended to the selector stem
}

var (
	kindEd25519 = keyKind{name: "ed25519", fileExt: ".ed25519.pem", selSuffix: "e"}
	kindRSA     = keyKind{name: "rsa", fileExt: ".rsa.pem", selSuffix: "r"}
)

// Files is where the keys are kept so that every node signs with the same
// ones: the store's shared files (store.SharedFiles), declared here by
// their consumer.
type Files interface {
	ReadFile(ctx context.Context, name string) ([]byte, error)
	ListFiles(ctx context.Context, prefix string) ([]string, error)
	// UpdateFile is an atomic read-modify-write of one file across every
	// node (see store.SharedFiles).
	UpdateFile(ctx context.Context, name string, fn func(old []byte, exists bool) (data []byte, write bool, err error)) error
}

// FilePrefix is where the shared files hold the keys:
// "dkim/<domain>/<selector>.ed25519.pem" and "….rsa.pem", PKCS#8 PEM.
const FilePrefix = "dkim/"

func domainPrefix(domain string) string { return FilePrefix + domain + "/" }

// Generate returns the keys of domain, creating whichever of the two keys
// does not exist yet. The new selectors name the year and month of now
// ("mr202607e", "mr202607r"), so that a later rotation can add keys
// beside these without reusing a selector that receivers may have cached.
//
// Generate is idempotent: keys that exist are returned as they are. A key
// is stored only if there is none under its name, atomically across
// nodes, so that concurrent calls on any nodes agree on the keys.
func Generate(ctx context.Context, files Files, domain string, now time.Time) (*Keys, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	stem := "mr" + now.UTC().Format("200601")
	k := &Keys{Domain: domain}
	var err error
	var key crypto.Signer
	if k.Ed25519Selector, key, err = loadOrCreate(ctx, files, domain, stem, kindEd25519); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.Ed25519 = key.(ed25519.PrivateKey)
	if k.RSASelector, key, err = loadOrCreate(ctx, files, domain, stem, kindRSA); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.RSA = key.(*rsa.PrivateKey)
	return k, nil
}

// Load reads the keys of domain. When several keys of a kind exist, as
// after a rotation, it returns the one with the greatest selector, which
// is the newest for selectors made by Generate. The error wraps ErrNoKeys
// when either key is missing.
func Load(ctx context.Context, files Files, domain string) (*Keys, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	names, err := files.ListFiles(ctx, domainPrefix(domain))
	if err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k := &Keys{Domain: domain}
	var key crypto.Signer
	if k.Ed25519Selector, key, err = loadNewest(ctx, files, domain, names, kindEd25519); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.Ed25519 = key.(ed25519.PrivateKey)
	if k.RSASelector, key, err = loadNewest(ctx, files, domain, names, kindRSA); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.RSA = key.(*rsa.PrivateKey)
	return k, nil
}

// loadOrCreate returns the newest key of kind, or makes one with selector
// stem+kind.selSuffix.
func loadOrCreate(ctx context.Context, files Files, domain, stem string, kind keyKind) (string, crypto.Signer, error) {
	names, err := files.ListFiles(ctx, domainPrefix(domain))
	if err != nil {
		return "", nil, err
	}
	sel, key, err := loadNewest(ctx, files, domain, names, kind)
	if !errors.Is(err, ErrNoKeys) {
		return sel, key, err
	}
	sel = stem + kind.selSuffix
	// The key is made before the update, which must be quick (an RSA key
	// takes a while), and thrown away if another node stored one first.
	switch kind {
	case kindEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case kindRSA:
		key, err = rsa.GenerateKey(rand.Reader, rsaBits)
	}
	if err != nil {
		return "", nil, fmt.Errorf("generating %s key: %w", kind.name, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, fmt.Errorf("encoding %s key: %w", kind.name, err)
	}
	name := domainPrefix(domain) + sel + kind.fileExt
	var stored []byte // another node's key, stored first
	err = files.UpdateFile(ctx, name, func(old []byte, exists bool) ([]byte, bool, error) {
		stored = nil
		if exists {
			// Another Generate won the race: use its key, since that
			// is the one the DNS records will be made from.
			stored = old
			return nil, false, nil
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), true, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("storing %s: %w", name, err)
	}
	if stored != nil {
		key, err = parseKey(name, stored, kind)
		return sel, key, err
	}
	return sel, key, nil
}

// loadNewest reads the key of kind with the greatest selector among names
// (the domain's files).
func loadNewest(ctx context.Context, files Files, domain string, names []string, kind keyKind) (string, crypto.Signer, error) {
	var newest string
	for _, name := range names {
		sel, ok := strings.CutSuffix(strings.TrimPrefix(name, domainPrefix(domain)), kind.fileExt)
		if !ok || checkSelector(sel) != nil {
			continue
		}
		newest = max(newest, sel)
	}
	if newest == "" {
		return "", nil, fmt.Errorf("%w: no %s key", ErrNoKeys, kind.name)
	}
	name := domainPrefix(domain) + newest + kind.fileExt
	data, err := files.ReadFile(ctx, name)
	if err != nil {
		return "", nil, err
	}
	key, err := parseKey(name, data, kind)
	return newest, key, err
}

// parseKey parses a PKCS#8 PEM private key and checks it is of kind.
func parseKey(name string, data []byte, kind keyKind) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PRIVATE KEY PEM block", name)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch key := key.(type) {
	case ed25519.PrivateKey:
		if kind == kindEd25519 {
			return key, nil
		}
	case *rsa.PrivateKey:
		if kind == kindRSA {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%s: holds a %T, want an %s key", name, key, kind.name)
}

// checkDomain accepts lower-case ASCII host names (A-labels). Beyond DNS
// syntax this keeps the name safe as a directory name: no "/", no "..".
func checkDomain(domain string) error {
	if len(domain) == 0 || len(domain) > 253 {
		return fmt.Errorf("dkim: invalid domain %q: want 1 to 253 octets", domain)
	}
	for _, label := range strings.Split(domain, ".") {
		if err := checkLabel(label); err != nil {
			return fmt.Errorf("dkim: invalid domain %q: %v", domain, err)
		}
	}
	return nil
}

// checkSelector accepts the selectors Generate makes and any other
// single lower-case LDH label.
func checkSelector(sel string) error {
	return checkLabel(sel)
}

func checkLabel(label string) error {
	if label == "" {
		return errors.New("empty label")
	}
	if len(label) > 63 {
		return fmt.Errorf("label %q longer than 63 octets", label)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("label %q: want lower-case letters, digits and '-'", label)
		}
	}
	return nil
}
