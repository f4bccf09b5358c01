package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoKeys is wrapped by Load when a domain has no keys, or only one of
// the two.
var ErrNoKeys = errors.New("no keys")

// rsaBits follows RFC 8301 §3.2: signers SHOULD use at least 2048 bits.
const rsaBits = 2048

// keyKind is one of the two key types kept per domain. The file suffix
// and the selector suffix differ per kind so that both keys can live in
// the same directory and the same _domainkey DNS namespace.
type keyKind struct {
	name      string // for error messages and DNS k=
	fileExt   string // <selector><fileExt> inside the domain directory
	selSuffix string // appended to the selector stem
}

var (
	kindEd25519 = keyKind{name: "ed25519", fileExt: ".ed25519.pem", selSuffix: "e"}
	kindRSA     = keyKind{name: "rsa", fileExt: ".rsa.pem", selSuffix: "r"}
)

// Generate returns the keys of domain kept in dir, creating whichever of
// the two keys does not exist yet. The new selectors name the year and
// month of now ("mr202607e", "mr202607r"), so that a later rotation can
// add keys beside these without reusing a selector that receivers may
// have cached.
//
// Generate is idempotent: keys that exist are returned as they are. Keys
// are written as PKCS#8 PEM files of mode 0600 in directories of mode
// 0700, each durably and without replacing a file that appeared
// meanwhile, so two concurrent calls agree on the keys.
func Generate(dir, domain string, now time.Time) (*Keys, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	ddir := filepath.Join(dir, domain)
	// A directory MkdirAll creates is durable only once its parent is
	// synced; note which ones are new.
	var newDirs []string
	for _, d := range []string{ddir, dir} {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			newDirs = append(newDirs, d)
		}
	}
	if err := os.MkdirAll(ddir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	for _, d := range newDirs {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return nil, fmt.Errorf("dkim: %s: %w", domain, err)
		}
	}
	stem := "mr" + now.UTC().Format("200601")

	k := &Keys{Domain: domain}
	var err error
	var key crypto.Signer
	if k.Ed25519Selector, key, err = loadOrCreate(ddir, stem, kindEd25519); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.Ed25519 = key.(ed25519.PrivateKey)
	if k.RSASelector, key, err = loadOrCreate(ddir, stem, kindRSA); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.RSA = key.(*rsa.PrivateKey)
	return k, nil
}

// Load reads the keys of domain kept in dir. When several keys of a kind
// exist, as after a rotation, it returns the one with the greatest
// selector, which is the newest for selectors made by Generate. The error
// wraps ErrNoKeys when either key is missing.
func Load(dir, domain string) (*Keys, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	ddir := filepath.Join(dir, domain)
	k := &Keys{Domain: domain}
	var key crypto.Signer
	var err error
	if k.Ed25519Selector, key, err = loadNewest(ddir, kindEd25519); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.Ed25519 = key.(ed25519.PrivateKey)
	if k.RSASelector, key, err = loadNewest(ddir, kindRSA); err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", domain, err)
	}
	k.RSA = key.(*rsa.PrivateKey)
	return k, nil
}

// loadOrCreate returns the newest key of kind in ddir, or makes one with
// selector stem+kind.selSuffix.
func loadOrCreate(ddir, stem string, kind keyKind) (string, crypto.Signer, error) {
	sel, key, err := loadNewest(ddir, kind)
	if !errors.Is(err, ErrNoKeys) {
		return sel, key, err
	}
	sel = stem + kind.selSuffix
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
	path := filepath.Join(ddir, sel+kind.fileExt)
	err = writeNewFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if errors.Is(err, fs.ErrExist) {
		// Another Generate won the race: use its key, since that is the
		// one the DNS records will be made from.
		key, err = readKey(path, kind)
		return sel, key, err
	}
	if err != nil {
		return "", nil, err
	}
	return sel, key, nil
}

// loadNewest reads the key of kind with the greatest selector in ddir.
func loadNewest(ddir string, kind keyKind) (string, crypto.Signer, error) {
	entries, err := os.ReadDir(ddir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("%w: no directory %s", ErrNoKeys, ddir)
	}
	if err != nil {
		return "", nil, err
	}
	var newest string
	for _, e := range entries {
		sel, ok := strings.CutSuffix(e.Name(), kind.fileExt)
		// Skips temporary files, which start with a dot.
		if !ok || !e.Type().IsRegular() || checkSelector(sel) != nil {
			continue
		}
		newest = max(newest, sel)
	}
	if newest == "" {
		return "", nil, fmt.Errorf("%w: no %s key in %s", ErrNoKeys, kind.name, ddir)
	}
	key, err := readKey(filepath.Join(ddir, newest+kind.fileExt), kind)
	return newest, key, err
}

// readKey reads a PKCS#8 PEM private key file and checks it is of kind.
func readKey(path string, kind keyKind) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PRIVATE KEY PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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
	return nil, fmt.Errorf("%s: holds a %T, want an %s key", path, key, kind.name)
}

// writeNewFile writes data to path durably, failing with an error that
// wraps fs.ErrExist if path exists. The data goes to a temporary file
// that is synced and then hard-linked into place: unlike a rename, a link
// never replaces an existing file, and like a rename it never exposes a
// partly written one.
func writeNewFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
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
