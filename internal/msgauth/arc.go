package msgauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxARCInstances is RFC 8617 section 4.2.1's limit on a chain's length.
const maxARCInstances = 50

// ARCResult is the validation of the message's ARC chain (RFC 8617 5.2).
type ARCResult struct {
	Result    string // none, pass, fail
	Instances int    // the chain's length
	Sealer    string // d= of the newest ARC-Seal: who vouches for the chain
	Reason    string
}

// arcSet is one instance's three fields.
type arcSet struct {
	seal, sig, aar *Field
	sealTags       map[string]string
	sigTags        map[string]string
}

// ARCInstance returns the i= of an ARC-Authentication-Results value
// ("i=1; authserv-id; ...": the instance tag comes first, RFC 8617
// 4.1.1), or of an ARC-Seal/ARC-Message-Signature tag list.
func ARCInstance(value string, aar bool) (int, error) {
	var tag string
	if aar {
		tag, _, _ = strings.Cut(value, ";")
	} else {
		tags, err := ParseTags(value)
		if err != nil {
			return 0, err
		}
		tag = "i=" + tags["i"]
	}
	k, v, ok := strings.Cut(strings.TrimSpace(tag), "=")
	if !ok || strings.TrimSpace(k) != "i" {
		return 0, errors.New("no instance tag")
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > maxARCInstances {
		return 0, fmt.Errorf("bad instance %q", strings.TrimSpace(v))
	}
	return n, nil
}

// arc validates the chain. Only the newest ARC-Message-Signature is
// verified (RFC 8617 5.2 step 3; older ones may legitimately have broken
// as the message travelled), and every ARC-Seal.
func (c *Checker) arc(ctx context.Context, hdr []Field, open func() (io.ReadCloser, error)) ARCResult {
	sets := map[int]*arcSet{}
	n := 0
	fail := func(format string, a ...any) ARCResult {
		return ARCResult{Result: "fail", Instances: n, Reason: fmt.Sprintf(format, a...)}
	}
	for i := range hdr {
		f := &hdr[i]
		var kind int
		switch {
		case strings.EqualFold(f.Name, "ARC-Seal"):
			kind = 0
		case strings.EqualFold(f.Name, "ARC-Message-Signature"):
			kind = 1
		case strings.EqualFold(f.Name, "ARC-Authentication-Results"):
			kind = 2
		default:
			continue
		}
		inst, err := ARCInstance(f.Value, kind == 2)
		if err != nil {
			return fail("%s: %v", f.Name, err)
		}
		s := sets[inst]
		if s == nil {
			s = &arcSet{}
			sets[inst] = s
		}
		slot := []**Field{&s.seal, &s.sig, &s.aar}[kind]
		if *slot != nil {
			return fail("two %s fields with i=%d", f.Name, inst)
		}
		*slot = f
		n = max(n, inst)
	}
	if len(sets) == 0 {
		return ARCResult{Result: "none"}
	}
	// Step 1 and 2: a complete run of sets 1..N, the newest not already
	// failed, cv=none on the first and pass on the others.
	for i := 1; i <= n; i++ {
		s := sets[i]
		if s == nil || s.seal == nil || s.sig == nil || s.aar == nil {
			return fail("ARC set %d is incomplete", i)
		}
		var err error
		if s.sealTags, err = ParseTags(s.seal.Value); err != nil {
			return fail("ARC-Seal i=%d: %v", i, err)
		}
		if s.sigTags, err = ParseTags(s.sig.Value); err != nil {
			return fail("ARC-Message-Signature i=%d: %v", i, err)
		}
		if _, ok := s.sealTags["h"]; ok {
			return fail("ARC-Seal i=%d has an h= tag", i) // 4.1.3
		}
		cv := strings.ToLower(s.sealTags["cv"])
		switch {
		case i == n && cv == "fail":
			return fail("the chain failed at instance %d before us", i)
		case i == 1 && cv != "none", i > 1 && cv != "pass":
			return fail("ARC-Seal i=%d has cv=%s", i, cv)
		}
	}
	res := ARCResult{Result: "pass", Instances: n, Sealer: strings.ToLower(sets[n].sealTags["d"])}
	// A chain of 50 seals by one sealer asks for its key once.
	keys := keyCache{}
	if err := c.verifyAMS(ctx, hdr, sets[n], open, keys); err != nil {
		return fail("ARC-Message-Signature i=%d: %v", n, err)
	}
	for i := n; i >= 1; i-- {
		if err := c.verifySeal(ctx, sets, i, keys); err != nil {
			return fail("ARC-Seal i=%d: %v", i, err)
		}
	}
	return res
}

// verifyAMS checks an ARC-Message-Signature the way DKIM checks a
// signature (RFC 8617 5.1.2: same tags but i= instead of the AUID).
func (c *Checker) verifyAMS(ctx context.Context, hdr []Field, s *arcSet, open func() (io.ReadCloser, error), keys keyCache) error {
	t := s.sigTags
	for _, k := range []string{"a", "b", "bh", "d", "h", "s"} {
		if t[k] == "" {
			return fmt.Errorf("missing %s= tag", k)
		}
	}
	hc, bc, _ := strings.Cut(t["c"], "/")
	if hc == "" {
		hc = "simple"
	}
	if bc == "" {
		bc = "simple"
	}
	if (hc != "simple" && hc != "relaxed") || (bc != "simple" && bc != "relaxed") {
		return fmt.Errorf("unknown canonicalization %q", t["c"])
	}
	limit := int64(-1)
	if l, ok := t["l"]; ok {
		v, err := strconv.ParseInt(l, 10, 64)
		if err != nil || v < 0 {
			return errors.New("bad l= tag")
		}
		limit = v
	}
	rc, err := open()
	if err != nil {
		return &tempError{err}
	}
	bh, err := bodyHash(rc, bc, limit)
	rc.Close()
	if err != nil {
		return &tempError{err}
	}
	want, err := base64.StdEncoding.DecodeString(stripWS(t["bh"]))
	if err != nil || string(want) != string(bh) {
		return errors.New("body hash does not match")
	}
	h := sha256.New()
	selectHeaders(h, hdr, strings.Split(t["h"], ":"), hc)
	sigField := withoutB(s.sig.Raw)
	io.WriteString(h, strings.TrimSuffix(canonHeader(sigField, hc), "\r\n"))
	return c.checkSignature(ctx, t, h.Sum(nil), keys)
}

// verifySeal checks ARC-Seal i=inst: it signs, in relaxed form, every
// set's ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal
// from 1 to inst, the last seal with b= empty (RFC 8617 5.1.1).
func (c *Checker) verifySeal(ctx context.Context, sets map[int]*arcSet, inst int, keys keyCache) error {
	t := sets[inst].sealTags
	for _, k := range []string{"a", "b", "d", "s", "cv"} {
		if t[k] == "" {
			return fmt.Errorf("missing %s= tag", k)
		}
	}
	h := sha256.New()
	for i := 1; i <= inst; i++ {
		s := sets[i]
		io.WriteString(h, relaxedHeader(s.aar.Raw))
		io.WriteString(h, relaxedHeader(s.sig.Raw))
		if i < inst {
			io.WriteString(h, relaxedHeader(s.seal.Raw))
		}
	}
	io.WriteString(h, strings.TrimSuffix(relaxedHeader(withoutB(sets[inst].seal.Raw)), "\r\n"))
	return c.checkSignature(ctx, t, h.Sum(nil), keys)
}

// keyCache holds the keys (or lookup failures) of one chain's validation.
type keyCache map[string]struct {
	key *publicKey
	err error
}

// checkSignature fetches the key named by d= and s= and verifies b= over
// the digest.
func (c *Checker) checkSignature(ctx context.Context, t map[string]string, digest []byte, keys keyCache) error {
	sig, err := base64.StdEncoding.DecodeString(stripWS(t["b"]))
	if err != nil {
		return errors.New("b= is not base64")
	}
	name := t["s"] + "._domainkey." + strings.ToLower(t["d"])
	k, seen := keys[name]
	if !seen {
		k.key, k.err = c.lookupKey(ctx, t["s"], strings.ToLower(t["d"]))
		keys[name] = k
	}
	key, err := k.key, k.err
	if err != nil {
		return err
	}
	if err := verifySig(key, strings.ToLower(t["a"]), digest, sig); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}
