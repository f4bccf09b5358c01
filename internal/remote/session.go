package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// tlsMode is how a session uses TLS.
type tlsMode int

const (
	// tlsOpportunistic uses STARTTLS when offered and accepts any
	// certificate (RFC 7435): encryption against passive eavesdropping,
	// where refusing unverified peers would only push mail to plaintext.
	tlsOpportunistic tlsMode = iota
	// tlsNone is plaintext, after an opportunistic handshake failed.
	tlsNone
	// tlsRequired requires STARTTLS and a verified certificate.
	tlsRequired
	// tlsImplicit speaks TLS from the start, verified (RFC 8314).
	tlsImplicit
	// tlsDANE requires STARTTLS and a certificate that matches the
	// host's TLSA records (RFC 7672), or any certificate if none of them
	// is usable.
	tlsDANE
)

// hop is one server to try.
type hop struct {
	name string // host name: for TLS, logs and Result.RemoteMTA
	addr netip.AddrPort
	mode tlsMode
	// creds, if set, authenticate before MAIL.
	creds *Smarthost
	// pol is the MX host's TLS policy (nil for a smarthost); note
	// collects the session's TLS outcome for TLS-RPT.
	pol  *hopPolicy
	note *tlsNote
}

// hostFailure is a failure of one server rather than of the message: the
// next server may do better.
type hostFailure struct {
	*failure
	tls bool
	// retryPlain asks to try the same address again without TLS, as the
	// STARTTLS handshake failed (common practice for opportunistic TLS:
	// many servers announce STARTTLS with a broken configuration).
	retryPlain bool
	// bySTS: an enforced MTA-STS policy refused the host.
	bySTS bool
}

func hostFail(f *failure, c *conn) *hostFailure {
	hf := &hostFailure{failure: f}
	if c != nil {
		hf.tls = c.tls
	}
	return hf
}

// connFailure describes an I/O error during a session.
func connFailure(h hop, err error) *failure {
	return localFailure(false, "4.4.2", "connection with %s [%s] failed: %v", h.name, h.addr.Addr(), err)
}

// session delivers to the pending recipients of d through one server. It
// returns nil once the server has given a definitive answer for all of
// them, with their Results settled; a hostFailure means the server could
// not take the message and the recipients it did not answer for are
// still pending.
func (c *Client) session(ctx context.Context, d *delivery, h hop, log *slog.Logger) *hostFailure {
	log = log.With("mx", h.name, "addr", h.addr.String())
	if h.pol != nil && h.mode != tlsNone && !h.pol.unlisted {
		h.note = &tlsNote{}
		defer c.recordSession(h)
	}
	cn, err := dial(ctx, h.addr, c.t, log)
	if err != nil {
		log.Info("connect failed", "err", err)
		return hostFail(localFailure(false, "4.4.1", "connecting to %s [%s]: %v", h.name, h.addr.Addr(), err), nil)
	}
	defer cn.close()

	if h.mode == tlsImplicit {
		if err := cn.startTLS(c.tlsConfig(h.name, true)); err != nil {
			log.Warn("TLS handshake failed", "err", err)
			return hostFail(localFailure(false, "4.7.0", "TLS with %s [%s] failed: %v", h.name, h.addr.Addr(), err), cn)
		}
	}
	r, err := cn.read(c.t.Greeting)
	if err != nil {
		return hostFail(connFailure(h, err), cn)
	}
	if r.code != 220 {
		log.Info("refused at greeting", "reply", r.Error())
		return hostFail(replyFailure(r), cn)
	}
	if hf := c.hello(cn, h); hf != nil {
		return hf
	}
	if hf := c.negotiateTLS(cn, h, log); hf != nil {
		return hf
	}
	if h.creds != nil && h.creds.Username != "" {
		if hf := c.authenticate(cn, d, h, log); hf != nil || len(d.pending()) == 0 {
			return hf
		}
	}

	env := newEnvelope(d.m)
	if f := capabilityFailure(cn, h, d.m, env); f != nil {
		log.Info("server cannot take the message", "reason", f.text)
		d.settleAll(f, h.name, cn.tls)
		return nil
	}
	return c.transactions(cn, d, env, h, log)
}

// hello says EHLO (or HELO).
func (c *Client) hello(cn *conn, h hop) *hostFailure {
	r, err := cn.hello(c.hostname)
	if err != nil {
		return hostFail(connFailure(h, err), cn)
	}
	if !r.positive() {
		return hostFail(replyFailure(r), cn)
	}
	return nil
}

// negotiateTLS runs STARTTLS as h.mode asks, noting the outcome in
// h.note for TLS-RPT.
func (c *Client) negotiateTLS(cn *conn, h hop, log *slog.Logger) *hostFailure {
	if cn.tls || h.mode == tlsNone {
		return nil
	}
	note := h.note
	if note == nil {
		note = &tlsNote{}
	}
	note.sendingIP = localIP(cn.nc)
	required := h.mode == tlsRequired || h.mode == tlsDANE
	if !cn.has("STARTTLS") {
		note.fail(tlsResultNoSTARTTLS, h.name+" does not offer STARTTLS")
		if required {
			return hostFail(localFailure(false, "4.7.0", "%s does not offer STARTTLS, which is required", h.name), cn)
		}
		log.Info("STARTTLS not offered: sending in plaintext")
		return nil
	}
	r, err := cn.cmd(c.t.Mail, "STARTTLS")
	if err != nil {
		return hostFail(connFailure(h, err), cn)
	}
	if r.code != 220 {
		note.fail(tlsResultNoSTARTTLS, "STARTTLS refused: "+r.Error())
		if required {
			return hostFail(replyFailure(r).temporary(), cn)
		}
		// RFC 3207 section 4 leaves it to us whether to go on: for
		// opportunistic TLS, plaintext is what we would do anyway.
		log.Info("STARTTLS refused: sending in plaintext", "reply", r.Error())
		return nil
	}
	cfg := c.tlsConfig(h.name, h.mode == tlsRequired)
	if h.mode == tlsDANE {
		// The TLSA records, not a CA, vouch for the server; SNI
		// names the TLSA base domain (RFC 7672 section 8.1).
		cfg.ServerName = h.pol.base
		cfg.VerifyConnection = daneVerify(h.pol.tlsa, h.pol.names)
	}
	if err := cn.startTLS(cfg); err != nil {
		log.Warn("TLS handshake failed", "err", err, "required", required)
		note.fail(certResult(err), err.Error())
		status := "4.7.0"
		if required && h.pol != nil {
			status = "4.7.5" // a policy's TLS failed: cryptographic failure (RFC 3463)
		}
		f := localFailure(false, status, "TLS handshake with %s [%s] failed: %v", h.name, h.addr.Addr(), err)
		return &hostFailure{failure: f, tls: false, retryPlain: !required}
	}
	cs, _ := cn.tlsState()
	switch {
	case required:
		log.Info("TLS established", "version", tls.VersionName(cs.Version), "verified", true, "dane", h.mode == tlsDANE)
		note.ok()
	default:
		verr := verifyPeer(cs, c.roots(), h.name)
		log.Info("TLS established", "version", tls.VersionName(cs.Version), "verified", verr == nil, "verify_err", verr)
		switch {
		case h.pol != nil && h.pol.testing && verr != nil:
			// MTA-STS testing mode: deliver, but report what
			// enforce would have refused.
			note.fail(certResult(verr), verr.Error())
		default:
			note.ok()
		}
	}
	return c.hello(cn, h)
}

// tlsConfig is the TLS configuration for a server named name: the base
// configuration, verifying or not.
func (c *Client) tlsConfig(name string, verify bool) *tls.Config {
	cfg := &tls.Config{}
	if c.tls != nil {
		cfg = c.tls.Clone()
	}
	if verify {
		// The base configuration may name the certificate a smarthost
		// presents, if that is not the name we dial.
		if cfg.ServerName == "" {
			cfg.ServerName = name
		}
		return cfg
	}
	cfg.InsecureSkipVerify = true
	cfg.ServerName = name
	if strings.HasPrefix(name, "[") {
		cfg.ServerName = "" // an address literal: no SNI
	}
	return cfg
}

// roots are the CAs opportunistic TLS verifies against, for the logs.
func (c *Client) roots() *x509.CertPool {
	if c.tls == nil {
		return nil
	}
	return c.tls.RootCAs
}

// authenticate logs in with h.creds. Credentials are only ever sent over
// TLS. A 5xx reply settles every recipient as a permanent failure: the
// relay will not take mail from us until the configuration is fixed.
func (c *Client) authenticate(cn *conn, d *delivery, h hop, log *slog.Logger) *hostFailure {
	if !cn.tls {
		return hostFail(localFailure(false, "4.7.0", "refusing to authenticate to %s without TLS", h.name), cn)
	}
	var cl sasl.Client
	switch mechs := cn.authMechs(); {
	case slices.Contains(mechs, "PLAIN"):
		cl = sasl.NewPlainClient("", h.creds.Username, h.creds.Password)
	case slices.Contains(mechs, "LOGIN"):
		cl = &loginClient{user: h.creds.Username, pass: h.creds.Password}
	default:
		return hostFail(localFailure(false, "4.7.0", "%s offers no AUTH PLAIN or LOGIN over TLS (AUTH %q)", h.name, cn.ext["AUTH"]), cn)
	}
	r, err := cn.auth(cl)
	if err != nil {
		if cn.broken {
			return hostFail(connFailure(h, err), cn)
		}
		return hostFail(localFailure(false, "4.7.0", "authenticating to %s: %v", h.name, err), cn)
	}
	switch {
	case r.code == 235:
		log.Info("authenticated", "user", h.creds.Username)
		return nil
	case r.code/100 == 5:
		log.Warn("authentication rejected", "reply", r.Error())
		d.settleAll(replyFailure(r), h.name, cn.tls)
		return nil
	}
	return hostFail(replyFailure(r).temporary(), cn)
}

// capabilityFailure checks that the server can take the message as it is,
// before any of it is sent.
func capabilityFailure(cn *conn, h hop, m Message, env envelope) *failure {
	if env.utf8 && !cn.has("SMTPUTF8") {
		// RFC 6531 section 3.2: no downgrade; the message must bounce.
		return localFailure(true, "5.6.7", "%s does not support SMTPUTF8, which the message needs", h.name)
	}
	if m.EightBit && !cn.has("8BITMIME") {
		// Converting to 7 bit would break signatures; we do not.
		return localFailure(true, "5.6.3", "%s does not support 8BITMIME and the message has 8-bit content", h.name)
	}
	if limit := cn.maxSize(); limit > 0 && m.Size > limit {
		return localFailure(true, "5.3.4", "message of %d octets exceeds the %d octet limit of %s", m.Size, limit, h.name)
	}
	return nil
}
