package msgauth

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// maxSignatures bounds the DKIM signatures verified per message: each
// costs a key lookup and a pass over the body, and a sender gains nothing
// from more than a few.
const maxSignatures = 5

// DKIMResult is the verdict on one DKIM-Signature field.
type DKIMResult struct {
	Result   string // pass, fail, neutral, temperror, permerror
	Domain   string // d=
	Selector string // s=
	// B is the start of the signature (b=), to tell signatures of one
	// domain apart in Authentication-Results (RFC 6008).
	B      string
	Reason string
}

// dkim verifies the message's DKIM signatures, streaming the message
// through the verifier once (the library hashes the body for every
// signature in parallel).
func (c *Checker) dkim(ctx context.Context, hdr []Field, open func() (io.ReadCloser, error)) []DKIMResult {
	sigs := fields(hdr, "DKIM-Signature")
	if len(sigs) == 0 {
		return nil
	}
	if len(sigs) > maxSignatures {
		sigs = sigs[:maxSignatures]
	}
	out := make([]DKIMResult, len(sigs))
	for i, f := range sigs {
		tags, _ := ParseTags(f.Value)
		out[i] = DKIMResult{Domain: strings.ToLower(tags["d"]), Selector: tags["s"], B: shortB(tags["b"])}
	}
	fail := func(result, reason string) []DKIMResult {
		for i := range out {
			out[i].Result, out[i].Reason = result, reason
		}
		return out
	}
	rc, err := open()
	if err != nil {
		return fail("temperror", "reading the message: "+err.Error())
	}
	defer rc.Close()
	verifs, err := dkim.VerifyWithOptions(rc, &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			txt, err := c.res.LookupTXT(ctx, name)
			return txt, netDNSError(name, err) // the library tells temporary failures by net.DNSError
		},
		MaxVerifications: maxSignatures,
	})
	if err != nil && err != dkim.ErrTooManySignatures {
		// Not a verdict on one signature: the header could not be read
		// as one (our staged copy reads fine, so the message is at fault).
		return fail("permerror", "verifying: "+err.Error())
	}
	for i := range out {
		if i >= len(verifs) {
			out[i].Result, out[i].Reason = "neutral", "not verified"
			continue
		}
		v := verifs[i]
		switch {
		case v.Err == nil:
			out[i].Result = "pass"
			if !v.Expiration.IsZero() && c.opts.Now().After(v.Expiration) {
				out[i].Result, out[i].Reason = "fail", "signature expired"
			}
		case dkim.IsTempFail(v.Err):
			out[i].Result, out[i].Reason = "temperror", v.Err.Error()
		case dkim.IsPermFail(v.Err):
			out[i].Result, out[i].Reason = "permerror", v.Err.Error()
		default:
			out[i].Result, out[i].Reason = "fail", v.Err.Error()
		}
		if v.Domain != "" {
			out[i].Domain = strings.ToLower(v.Domain)
		}
	}
	return out
}

// shortB is the first characters of a b= value: enough to be unique among
// a message's signatures (RFC 6008 asks for at least 8).
func shortB(b string) string {
	b = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, b)
	if len(b) > 12 {
		b = b[:12]
	}
	return b
}

// ParseTags parses a DKIM-style tag list (RFC 6376 section 3.2: "t=v;
// t=v", whitespace around tags and values ignored). Duplicate tags are an
// error, as the RFC says; so is a tag without "=".
func ParseTags(s string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return out, fmt.Errorf("malformed tag %q", strings.TrimSpace(part))
		}
		if _, dup := out[k]; dup {
			return out, fmt.Errorf("duplicate tag %q", k)
		}
		out[k] = strings.Trim(v, " \t\r\n")
	}
	return out, nil
}
