package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	stdmime "mime"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/address"
	"mailroom/internal/dsn"
	"mailroom/internal/mime"
	"mailroom/internal/sieve"
)

// rfcDate is the date-time of RFC 5322 §3.3 with a numeric zone.
const rfcDate = "Mon, 02 Jan 2006 15:04:05 -0700"

// maxReplySubject bounds the original subject quoted in "Auto: …".
const maxReplySubject = 200

// sendVacationNotices sends the answer of every account the message
// reached whose Sieve script asked for one (vacation, RFC 5230), following
// RFC 3834. The message is already durable: nothing here can fail its
// delivery, so problems are logged.
func (a *Agent) sendVacationNotices(ctx context.Context, p *plan, env Envelope) {
	now := a.now()
	for _, r := range p.reached {
		v := r.vacation
		if v == nil || p.refused[r.acct.ID] {
			continue
		}
		why, err := a.noNoticeReason(p, env, r)
		if err != nil {
			a.log.Error("vacation notice not sent", "account", r.acct.Email, "to", env.From, "err", err)
			continue
		}
		if why != "" {
			a.log.Debug("vacation notice not sent", "account", r.acct.Email, "to", env.From, "reason", why)
			continue
		}
		// Claimed before it is sent: a notice that then fails is not
		// retried for this sender until the period is over, which is
		// better than two concurrent deliveries both sending one.
		claimed, err := a.st.ClaimVacationReply(ctx, r.acct.ID, vacationKey(env.From, v.Handle), now, v.Period)
		if err != nil {
			a.log.Error("vacation notice not sent", "account", r.acct.Email, "to", env.From, "err", err)
			continue
		}
		if !claimed {
			a.log.Debug("vacation notice not sent", "account", r.acct.Email, "to", env.From, "reason", "already sent within the interval")
			continue
		}
		notice := a.vacationNotice(r, v, env.From, p.header, p.msg.Structure(), now)
		if err := a.DeliverNotice(ctx, env.From, bytes.NewReader(notice)); err != nil {
			a.log.Error("vacation notice not sent", "account", r.acct.Email, "to", env.From, "err", err)
			continue
		}
		a.log.Info("vacation notice sent", "account", r.acct.Email, "to", env.From)
	}
}

// vacationKey is what the vacation log records an answer under: the
// sender, or, for a vacation with its own :handle (RFC 5230 4.2: tracked
// apart from the account's other answers), an address-shaped digest of
// sender and handle in the sender's domain, which the log accepts as it
// accepts any address.
func vacationKey(sender, handle string) string {
	if handle == "" {
		return sender
	}
	sum := sha256.Sum256([]byte(strings.ToLower(sender) + "\x00" + handle))
	domain := sender[strings.LastIndexByte(sender, '@')+1:]
	return "h" + hex.EncodeToString(sum[:8]) + "@" + domain
}

// noNoticeReason says why a message gets no vacation notice from r's
// account, "" if it gets one. The rules are RFC 3834 §2's.
func (a *Agent) noNoticeReason(p *plan, env Envelope, r reached) (string, error) {
	// "MUST NOT generate any response for which the destination of that
	// response would be a null address" (checked by the caller too).
	if env.From == "" {
		return "null sender", nil
	}
	sender, err := address.Parse(env.From)
	if err != nil {
		return "sender is not an address", nil
	}
	// "MAY refuse to generate responses for addresses commonly used as
	// return addresses by responders" — and by other programs that
	// nobody reads.
	if automatedSender(sender.Local) {
		return "automated sender", nil
	}
	if r.mine(sender, a.cfg.PlusSeparator) {
		return "sent by the account itself", nil
	}
	h, err := p.headerOf()
	if err != nil {
		return "", err
	}
	// "SHOULD NOT be issued in response to any message which contains an
	// Auto-Submitted header field ... other than "no"" (and bounces,
	// which dsn.IsAutomatic recognises too).
	if dsn.IsAutomatic(h) {
		return "automatic message", nil
	}
	// "MAY ignore any subject message with a List-* field"; Precedence is
	// not standard, but bulk, list and junk are what lists and bulk
	// senders set.
	for name := range h {
		if strings.HasPrefix(name, "List-") {
			return "mailing list (" + name + ")", nil
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "list", "junk":
		return "bulk mail (Precedence)", nil
	}
	// Microsoft's way of asking for no out-of-office replies.
	if s := strings.ToLower(h.Get("X-Auto-Response-Suppress")); strings.Contains(s, "oof") || strings.Contains(s, "all") {
		return "sender asked for no automatic replies", nil
	}
	// "SHOULD NOT be issued unless a valid address for the recipient is
	// explicitly included in a recipient (e.g., To, Cc, Bcc, Resent-To,
	// Resent-Cc, or Resent-Bcc) field": not for Bcc copies, lists and
	// mail forwarded from another account.
	if !r.addressedIn(p.msg.Structure(), h, a.cfg.PlusSeparator) {
		return "the account is not in To or Cc", nil
	}
	return "", nil
}

// automatedSender reports whether a sender's local part is one that
// programs send from.
func automatedSender(local string) bool {
	local = strings.ToLower(local)
	switch local {
	case "mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply", "listserv", "majordomo":
		return true
	}
	return strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") || strings.HasPrefix(local, "bounce")
}

// mine reports whether addr is one of the account's addresses: its own
// (with or without a plus tag), one the message came to it through, or
// one its vacation action names (:addresses).
func (r reached) mine(addr address.Address, plusSep string) bool {
	if plusSep != "" {
		if base, _, ok := strings.Cut(addr.Local, plusSep); ok && base != "" {
			addr.Local = base
		}
	}
	s := addr.String()
	if s == r.acct.Email || slices.Contains(r.via, s) {
		return true
	}
	if r.vacation != nil {
		for _, x := range r.vacation.Addresses {
			if strings.EqualFold(strings.TrimSpace(x), s) {
				return true
			}
		}
	}
	return false
}

// ownFrom reports whether from (a vacation's :from) is one of the
// account's own addresses, the only ones an answer may come from: a
// script must not make the server send mail in someone else's name.
func (r reached) ownFrom(from string) bool {
	ma, err := mail.ParseAddress(from)
	if err != nil {
		return false
	}
	addr, err := address.Parse(ma.Address)
	if err != nil {
		return false
	}
	s := addr.String()
	return s == r.acct.Email || slices.Contains(r.via, s)
}

// addressedIn reports whether one of the account's addresses is in a
// recipient field of the message.
func (r reached) addressedIn(m *mime.Message, h mail.Header, plusSep string) bool {
	var lists [][]mime.Address
	if m != nil && m.Root != nil && m.Root.Envelope != nil {
		e := m.Root.Envelope
		lists = append(lists, e.To, e.Cc, e.Bcc)
	}
	for _, f := range []string{"Resent-To", "Resent-Cc", "Resent-Bcc"} {
		for _, v := range h[f] {
			lists = append(lists, mime.ParseAddressList(v))
		}
	}
	for _, list := range lists {
		for _, ma := range list {
			if ma.GroupStart || ma.GroupEnd || ma.Host == "" {
				continue
			}
			if addr, err := address.Parse(ma.Mailbox + "@" + ma.Host); err == nil && r.mine(addr, plusSep) {
				return true
			}
		}
	}
	return false
}

// vacationNotice writes r's account's answer v to sender, in reply to the
// message with header h and structure m (RFC 3834 §3, RFC 5230 5).
func (a *Agent) vacationNotice(r reached, v *sieve.Vacation, to string, h mail.Header, m *mime.Message, now time.Time) []byte {
	acct := r.acct
	var env *mime.Envelope
	if m != nil && m.Root != nil {
		env = m.Root.Envelope
	}
	subject := strings.Join(strings.Fields(v.Subject), " ")
	if subject == "" {
		// §3.1.5: "Auto:" and the subject of the message answered.
		orig := ""
		if env != nil {
			orig = env.DecodedSubject
		}
		if r := []rune(orig); len(r) > maxReplySubject {
			orig = string(r[:maxReplySubject])
		}
		subject = strings.TrimSpace("Auto: " + orig)
	}
	host := a.cfg.Hostname
	if host == "" {
		host = acct.Email[strings.LastIndexByte(acct.Email, '@')+1:]
	}

	var b bytes.Buffer
	// §3.1.1: from the account the message was for, or the address of
	// its own the script names.
	if from := strings.Join(strings.Fields(v.From), " "); from != "" && r.ownFrom(from) {
		writeField(&b, "From", from)
	} else {
		writeField(&b, "From", acct.Email)
	}
	// §3.1.3: to the one address the notice is for (the envelope sender, §4).
	writeField(&b, "To", "<"+to+">")
	writeField(&b, "Subject", stdmime.QEncoding.Encode("utf-8", subject))
	writeField(&b, "Date", now.Format(rfcDate))
	writeField(&b, "Message-ID", "<"+rand.Text()+"."+strconv.FormatInt(now.Unix(), 10)+"@"+host+">")
	// §3.1.6: In-Reply-To and References as for any reply (RFC 5322 §3.6.4).
	if env != nil && validMsgID(env.MessageID) {
		refs := h.Get("References")
		if refs == "" && validMsgID(env.InReplyTo) {
			refs = env.InReplyTo
		}
		writeField(&b, "In-Reply-To", env.MessageID)
		writeField(&b, "References", strings.TrimSpace(refs+" "+env.MessageID))
	}
	// §3.1.7: so that other responders leave it alone.
	writeField(&b, "Auto-Submitted", "auto-replied")
	writeField(&b, "MIME-Version", "1.0")
	if v.Mime {
		// RFC 5230 4.5: the reason is a MIME entity, its header fields
		// and body as the script wrote them.
		entity := strings.ReplaceAll(strings.ReplaceAll(strings.TrimLeft(v.Reason, "\r\n"), "\r\n", "\n"), "\n", "\r\n")
		if !strings.Contains(entity, "\r\n\r\n") {
			entity += "\r\n"
		}
		b.WriteString(entity)
		return b.Bytes()
	}
	writeField(&b, "Content-Type", "text/plain; charset=utf-8")
	writeField(&b, "Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	// Quoted-printable keeps the notice 7-bit, whatever the text and
	// whatever the receiving server supports.
	qp := quotedprintable.NewWriter(&b)
	// Sieve's multi-line strings end lines with CRLF, quoted ones as
	// typed: one line end, CRLF, whatever the script used.
	body := strings.TrimRight(strings.ReplaceAll(v.Reason, "\r\n", "\n"), "\n")
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"))
	qp.Close()
	return b.Bytes()
}

// validMsgID reports whether s looks like one msg-id, safe to put in a
// header field.
func validMsgID(s string) bool {
	return len(s) > 2 && len(s) <= 998 && s[0] == '<' && s[len(s)-1] == '>' &&
		!strings.ContainsAny(s, " \t\r\n") && strings.Count(s, "<") == 1
}

// writeField writes a header field, folding it at spaces so that lines
// stay short (the encoded words of a long subject are separated by
// spaces). Values never contain CR or LF.
func writeField(b *bytes.Buffer, name, value string) {
	b.WriteString(name + ":")
	col := len(name) + 1
	for i, word := range strings.Fields(value) {
		if i > 0 && col+1+len(word) > 78 {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(" " + word)
		col += 1 + len(word)
	}
	b.WriteString("\r\n")
}
