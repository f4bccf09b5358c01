package imap

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"mailroom/internal/store"
)

// URLAUTH mailbox access keys (RFC 4467 section 7: the INTERNAL mechanism
// is the server's business; HMAC-SHA1 of the URL rump under a per-mailbox
// key is the RFC's suggestion, and what Dovecot does).
//
// Rather than a stored key per mailbox, an account has one random secret
// (setting imap.urlauth_secret) and a generation per mailbox that RESETKEY
// was used on (imap.urlauth_generations); a mailbox's key is
// HMAC-SHA256(secret, "urlauth-key <mailbox id> <generation>"). Mailbox IDs
// are never reused, so a deleted and recreated mailbox has a new key. Only
// the mailboxes RESETKEY touched cost a line of settings, and RESETKEY
// without a mailbox (every key) just replaces the secret.

const (
	settingURLAuthSecret = "imap.urlauth_secret"
	settingURLAuthGens   = "imap.urlauth_generations"
)

// urlauthKeys reads an account's URLAUTH settings.
type urlauthKeys struct {
	secret string
	gens   map[int64]uint64
}

func (s *session) loadURLAuthKeys(ctx context.Context, accountID int64) (urlauthKeys, error) {
	set, err := s.srv.opts.Store.Settings(ctx, accountID)
	if err != nil {
		return urlauthKeys{}, fmt.Errorf("imap: read URLAUTH keys: %w", err)
	}
	k := urlauthKeys{secret: set.String(settingURLAuthSecret), gens: map[int64]uint64{}}
	for _, line := range strings.Split(set.String(settingURLAuthGens), "\n") {
		id, gen, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		i, err1 := strconv.ParseInt(id, 10, 64)
		g, err2 := strconv.ParseUint(gen, 10, 64)
		if err1 == nil && err2 == nil {
			k.gens[i] = g
		}
	}
	return k, nil
}

// key returns the access key of a mailbox; nil when the account has no
// secret yet (no URL of it can be valid).
func (k urlauthKeys) key(mailboxID int64) []byte {
	if k.secret == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(k.secret))
	fmt.Fprintf(m, "urlauth-key %d %d", mailboxID, k.gens[mailboxID])
	return m.Sum(nil)[:sha1.Size]
}

// urlauthToken is the INTERNAL verifier of a URL rump: lower-case hex.
func urlauthToken(key []byte, rump string) string {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(rump))
	return hex.EncodeToString(m.Sum(nil))
}

func newURLAuthSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ensureURLAuthSecret returns the account's keys, creating the secret on
// first use. Two sessions creating it at once both write; each then
// rereads, so both use the one that was stored last (the loser's URLs,
// minted in the same instant, would not verify: the re-read keeps that
// window to the two writes).
func (s *session) ensureURLAuthSecret(ctx context.Context, accountID int64) (urlauthKeys, error) {
	k, err := s.loadURLAuthKeys(ctx, accountID)
	if err != nil || k.secret != "" {
		return k, err
	}
	if err := s.srv.opts.Store.SetSettings(ctx, accountID, map[string]string{settingURLAuthSecret: newURLAuthSecret()}); err != nil {
		return urlauthKeys{}, fmt.Errorf("imap: create URLAUTH secret: %w", err)
	}
	return s.loadURLAuthKeys(ctx, accountID)
}

// resetURLAuthKey gives one mailbox a new key (mailboxID > 0), or every
// mailbox (mailboxID 0: a new secret).
func (s *session) resetURLAuthKey(ctx context.Context, accountID, mailboxID int64) error {
	if mailboxID == 0 {
		err := s.srv.opts.Store.SetSettings(ctx, accountID, map[string]string{
			settingURLAuthSecret: newURLAuthSecret(),
			settingURLAuthGens:   "",
		})
		if err != nil {
			return fmt.Errorf("imap: RESETKEY: %w", err)
		}
		return nil
	}
	k, err := s.loadURLAuthKeys(ctx, accountID)
	if err != nil {
		return err
	}
	if k.secret == "" {
		return nil // no key yet: nothing to revoke
	}
	k.gens[mailboxID]++
	var b strings.Builder
	for id, g := range k.gens {
		fmt.Fprintf(&b, "%d %d\n", id, g)
	}
	vals := map[string]string{settingURLAuthGens: b.String()}
	if b.Len() > store.MaxTextSetting {
		// Too many mailboxes reset one by one to list: a new secret
		// revokes every key, which includes this one.
		vals = map[string]string{settingURLAuthSecret: newURLAuthSecret(), settingURLAuthGens: ""}
	}
	if err := s.srv.opts.Store.SetSettings(ctx, accountID, vals); err != nil {
		return fmt.Errorf("imap: RESETKEY: %w", err)
	}
	return nil
}
