// Package dsn writes delivery status notifications (DSNs): the bounces and
// delay warnings that the outbound queue returns to a message's sender when
// it cannot deliver the message, or cannot deliver it yet.
//
// A notification is a complete message in the format of RFC 3464 inside a
// multipart/report (RFC 6522): a text/plain part for people, a
// message/delivery-status part for programs, and the returned message, whole
// (message/rfc822) or its header section only (text/rfc822-headers), as the
// sender asked with RET (RFC 3461 §4.3). Mail that needs UTF-8 in addresses
// or header fields (SMTPUTF8, RFC 6531) gets the types of RFC 6533 instead:
// message/global-delivery-status, message/global, message/global-headers,
// and the "utf-8" address type.
//
// Everything that reaches a header field or a DSN field from outside, such
// as a remote server's reply or an address, is cleaned first: CR, LF and
// other control characters become spaces, so no input can start a field of
// its own, and long values are folded (RFC 5322 §2.2.3) so that no line
// Write produces is longer than 998 octets. The returned message is copied
// through, never held in memory.
//
// A notification must be sent with a null reverse-path, MAIL FROM:<> (RFC
// 5321 §4.5.5), so that it can never cause another one; for the same reason
// ShouldNotify never allows one about a message whose reverse-path was null.
package dsn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Action is what became of the message for one recipient (RFC 3464 §2.3.3).
type Action string

// The actions of RFC 3464 §2.3.3.
const (
	// ActionFailed: the message could not be delivered and no further
	// attempt will be made. This is a bounce.
	ActionFailed Action = "failed"
	// ActionDelayed: the message has not been delivered yet, and delivery
	// is still being attempted. This is a delay warning.
	ActionDelayed Action = "delayed"
	// ActionDelivered: the message was delivered to the recipient.
	ActionDelivered Action = "delivered"
	// ActionRelayed: the message was passed on to a system that will not
	// report its delivery.
	ActionRelayed Action = "relayed"
	// ActionExpanded: the message was delivered to an alias and passed on
	// to its several addresses.
	ActionExpanded Action = "expanded"
)

// Recipient is what happened to the message for one of its recipients.
type Recipient struct {
	// Original is the recipient's address as the sender gave it (the ORCPT
	// parameter, RFC 3461 §4.2), as "type;address" ("rfc822;bob@example.org",
	// "UTF-8;用户@例子.example"), or as a bare address; "" if the sender gave
	// none, in which case the report has no Original-Recipient field (RFC
	// 3461 §6.3). It is expected xtext-decoded, as the SMTP server passes it
	// on, and is not decoded again: "bob+2B@example.org" is kept as it is.
	Original string
	// Final is the address delivery was attempted to.
	Final string
	// Action is what became of the message for this recipient.
	Action Action
	// Status is the RFC 3463 enhanced status code, such as "5.1.1" or
	// "4.4.1". If it is "", it is taken from Diagnostic when that is a reply
	// with an enhanced code, else it is "5.0.0", "4.0.0" or "2.0.0" by
	// Action.
	Status string
	// RemoteMTA is the host that answered, "" if none did (a failed DNS
	// lookup, a refused connection).
	RemoteMTA string
	// Diagnostic is the remote server's reply, such as "550 5.1.1 <bob@x>:
	// no such user"; a reply of several lines may keep its line ends. It
	// becomes the Diagnostic-Code field, one folded line per line of the
	// reply, and is quoted in the text for people. The field's type is
	// "smtp" if the text starts with a reply code, as an SMTP reply does,
	// else "X-Mailroom", which does not claim that it is one.
	Diagnostic string
	// Explanation says in words what went wrong when Diagnostic cannot, for
	// example that the domain has no mail server. It is shown to people and,
	// if there is no Diagnostic, becomes a Diagnostic-Code field of type
	// "X-Mailroom" (without a Remote-MTA field, which tells programs that
	// the reporting MTA issued it, RFC 3464 §2.3.6).
	Explanation string
	// LastAttempt is when delivery was last attempted; zero if never.
	LastAttempt time.Time
	// WillRetryUntil is, for ActionDelayed, when the queue gives up. It is
	// ignored for the other actions (RFC 3464 §2.3.9).
	WillRetryUntil time.Time
}

// Report is one notification to one sender about one message. A message
// with several recipients gets one report about all of them that the
// notification is due for (see ShouldNotify).
type Report struct {
	// ReportingMTA is this server's host name.
	ReportingMTA string
	// From is the address the notification comes from, such as
	// "MAILER-DAEMON@mail.example.org"; "" means MAILER-DAEMON at
	// ReportingMTA.
	From string
	// To is the original message's reverse-path, to which the notification
	// is sent. It must not be empty: nothing is ever sent to the null
	// reverse-path.
	To string
	// EnvID is the sender's envelope identifier (ENVID, RFC 3461 §4.4),
	// xtext-decoded; "" if none was given. Like host names, which are cut
	// at 255 octets, it is cut at its limit of 100 characters.
	EnvID string
	// Arrival is when the message was received; zero if unknown.
	Arrival time.Time
	// Return is the sender's RET parameter: "FULL" to have the whole
	// message returned, "HDRS" or "" for its header section only. The whole
	// message is only ever returned with a failure: a report of delays
	// alone carries the header section (RFC 3461 §4.3).
	Return string
	// MaxFull is the size of the largest message returned whole. A larger
	// one is returned as its header section, and the text says so.
	MaxFull int64
	// EightBit says the message was received as 8-bit (BODY=8BITMIME, RFC
	// 6152, or SMTPUTF8), so that a returned message must be labelled 8bit.
	// A header section with 8-bit octets is noticed without it.
	EightBit bool
	// UTF8 says the message was received with SMTPUTF8 (RFC 6531): the
	// report then uses the RFC 6533 types even when the part of the header
	// section Write looks at is ASCII.
	UTF8 bool
	// Recipients are the recipients the report is about; at least one.
	Recipients []Recipient
	// Now is the time of the report, for its Date field; zero means now.
	Now time.Time
}

// ErrInvalid is wrapped by the errors Write returns for a Report it cannot
// turn into a notification, as opposed to failures to read or write.
var ErrInvalid = errors.New("dsn: invalid report")

// invalid returns an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

const (
	// maxAddress bounds an address in octets. RFC 3461 §4.2 bounds the
	// ORCPT parameter to 500 characters; SMTP bounds a path to 256 octets
	// (RFC 5321 §4.5.3.1.3). An address longer than this could only be put
	// on a line of its own by breaking it.
	maxAddress = 500
	// maxDiagnostic bounds the text kept of one diagnostic, so that a
	// server cannot make a notification as large as it likes.
	maxDiagnostic = 16 << 10
	// maxHost bounds a host name: a domain name has at most 255 octets
	// (RFC 1035 §2.3.4).
	maxHost = 255
	// maxEnvID bounds an envelope identifier: ENVID has at most 100
	// characters (RFC 3461 §4.4).
	maxEnvID = 100
	// maxHead bounds the octets of the original's header section held in
	// memory: the header section is read before anything is written, to
	// know whether it needs UTF-8. A header section of more is returned cut
	// (text/rfc822-headers) or copied through (message/rfc822).
	maxHead = 256 << 10
	// bufSize is the size of the buffers the original is copied through.
	bufSize = 32 << 10
)

// rfcDate is the date-time of RFC 5322 §3.3 with a numeric zone, which DSN
// fields require (RFC 3464 §2.3.7).
const rfcDate = "Mon, 02 Jan 2006 15:04:05 -0700"

// Write writes the notification r describes to w: a complete message with
// CRLF line ends, ready to be delivered or queued with a null reverse-path.
//
// The original message is read from original, of which originalSize is the
// size in octets; it is returned whole if r.Return asks for it and
// originalSize is at most r.MaxFull, else its header section is. The
// original is copied through in small pieces, whatever its size; only its
// header section is held in memory, and only up to 256 KiB of it. Its line
// ends are made CRLF on the way. original may be nil, and the notification
// then has no third part.
//
// Write returns an error wrapping ErrInvalid if r cannot be written: no
// recipients, an empty To, Final or ReportingMTA, an address longer than 500
// octets, or an Action, Status or Return that is not one of those RFC 3464
// and RFC 3461 define.
func Write(w io.Writer, r Report, original io.Reader, originalSize int64) error {
	var (
		orig *bufio.Reader
		head head
	)
	if original != nil {
		orig = bufio.NewReaderSize(original, bufSize)
		var err error
		if head, err = readHead(orig, maxHead); err != nil {
			return fmt.Errorf("dsn: reading the original's header: %w", err)
		}
	}
	rep, err := prepare(r, head, original != nil, originalSize)
	if err != nil {
		return err
	}

	bw := bufio.NewWriterSize(w, bufSize)
	rep.writeTo(bw)
	if orig != nil {
		if err := rep.writeOriginal(bw, head, orig); err != nil {
			return err
		}
	}
	bw.WriteString("\r\n--" + rep.boundary + "--\r\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dsn: writing the report: %w", err)
	}
	return nil
}

// returned is what the third part of a report carries.
type returned int

const (
	returnNothing returned = iota
	returnHeaders
	returnFull
)

// report is a Report checked and cleaned, with its decisions made.
type report struct {
	reportingMTA string
	from, to     string // addresses for the From and To fields
	envID        string
	arrival      time.Time
	now          time.Time
	recipients   []recipient

	global     bool     // use the RFC 6533 types
	globalOrig bool     // return the original as message/global(-headers)
	ret        returned // what the third part carries
	retWanted  bool     // the sender asked for the whole message (RET=FULL with a failure)
	size       int64    // the original's size
	maxFull    int64
	eightBit   bool // the returned message is labelled 8bit
	headCut    bool // the returned header section is cut short
	boundary   string
	messageID  string
}

// recipient is a Recipient checked and cleaned.
type recipient struct {
	original    string   // Original-Recipient value, "" if none
	final       string   // Final-Recipient value
	address     string   // the final address, for people
	action      Action   // lower case
	status      string   // a valid status code
	remoteMTA   string   // cleaned; "" if none
	diagType    string   // "smtp" or "X-Mailroom"; "" if no Diagnostic-Code
	diag        []string // Diagnostic-Code lines, for the DSN field
	diagText    []string // the same for people, in UTF-8
	explanation string   // for people
	lastAttempt time.Time
	retryUntil  time.Time
}

// prepare checks r and makes the decisions that the writing needs: whether
// UTF-8 is needed, what the third part carries, and how it is labelled.
func prepare(r Report, h head, haveOriginal bool, size int64) (*report, error) {
	if len(r.Recipients) == 0 {
		return nil, invalid("no recipients")
	}
	rep := &report{
		arrival: r.Arrival,
		now:     r.Now,
		size:    size,
		maxFull: r.MaxFull,
	}
	if rep.now.IsZero() {
		rep.now = time.Now()
	}

	// An address with anything but ASCII can only be written in the RFC
	// 6533 form, and so can a returned header section with 8-bit octets.
	// Decide that first: it says how every other value is cleaned.
	from := r.From
	if strings.TrimSpace(from) == "" {
		from = "MAILER-DAEMON@" + cleanCut(r.ReportingMTA, true, maxHost)
	}
	addrs := []string{from, r.To}
	for _, rc := range r.Recipients {
		addrs = append(addrs, rc.Original, rc.Final)
	}
	rep.globalOrig = haveOriginal && (h.eightBit || r.UTF8)
	rep.global = rep.globalOrig || r.UTF8
	for _, a := range addrs {
		if !isASCII(a) {
			rep.global = true
		}
	}

	var err error
	if rep.reportingMTA = cleanCut(r.ReportingMTA, rep.global, maxHost); rep.reportingMTA == "" {
		return nil, invalid("no reporting MTA")
	}
	if rep.from, err = cleanAddress("From", from); err != nil {
		return nil, invalid("%v", err)
	}
	if rep.to, err = cleanAddress("To", r.To); err != nil {
		return nil, invalid("%v", err)
	}
	if rep.to == "" {
		return nil, invalid("no To address: a notification is never sent to the null reverse-path")
	}
	rep.envID = cleanCut(r.EnvID, rep.global, maxEnvID)

	anyFailed := false
	for i, rc := range r.Recipients {
		c, err := prepareRecipient(rc, rep.global)
		if err != nil {
			return nil, invalid("recipient %d: %v", i+1, err)
		}
		if c.action == ActionFailed {
			anyFailed = true
		}
		rep.recipients = append(rep.recipients, c)
	}

	switch strings.ToUpper(strings.TrimSpace(r.Return)) {
	case "FULL":
		rep.retWanted = anyFailed
	case "HDRS", "":
	default:
		return nil, invalid("RET %q: want FULL or HDRS", r.Return)
	}
	switch {
	case !haveOriginal:
		rep.ret = returnNothing
	case rep.retWanted && size >= 0 && size <= r.MaxFull:
		rep.ret = returnFull
		rep.eightBit = r.EightBit || r.UTF8 || h.eightBit
	default:
		rep.ret = returnHeaders
		rep.eightBit = h.eightBit
		rep.headCut = !h.complete && !h.eof
	}

	rep.boundary = "=_" + rand.Text()
	rep.messageID = "<" + rand.Text() + "." + strconv.FormatInt(rep.now.Unix(), 10) + "@" + idHost(rep.reportingMTA) + ">"
	return rep, nil
}

func prepareRecipient(rc Recipient, global bool) (recipient, error) {
	c := recipient{
		action:      Action(strings.ToLower(strings.TrimSpace(string(rc.Action)))),
		remoteMTA:   cleanCut(rc.RemoteMTA, global, maxHost),
		explanation: cleanText(rc.Explanation, maxDiagnostic),
		lastAttempt: rc.LastAttempt,
	}
	switch c.action {
	case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
	default:
		return c, fmt.Errorf("action %q: want one of RFC 3464 §2.3.3", rc.Action)
	}
	if c.action == ActionDelayed {
		c.retryUntil = rc.WillRetryUntil
	}

	final, err := cleanAddress("Final", rc.Final)
	if err != nil {
		return c, err
	}
	if final == "" {
		return c, errors.New("no final recipient address")
	}
	c.address = final
	c.final = typedAddress("rfc822", final, global)
	if c.original, err = originalRecipient(rc.Original, global); err != nil {
		return c, err
	}

	// The diagnostic is kept line by line: a multi-line reply becomes one
	// folded line of the field per line of the reply.
	c.diagText = cleanLines(rc.Diagnostic, maxDiagnostic)
	switch {
	case len(c.diagText) > 0:
		c.diagType = "X-Mailroom"
		if isReply(c.diagText[0]) {
			c.diagType = "smtp"
		}
		for _, l := range c.diagText {
			c.diag = append(c.diag, clean(l, global))
		}
	case c.explanation != "":
		c.diagType = "X-Mailroom"
		c.diag = []string{clean(c.explanation, global)}
	}

	c.status = strings.TrimSpace(rc.Status)
	if c.status == "" {
		c.status = defaultStatus(c.action, c.diagText)
	} else if !validStatus(c.status) {
		return c, fmt.Errorf("status %q: want class.subject.detail (RFC 3463)", rc.Status)
	}
	return c, nil
}

// originalRecipient returns the Original-Recipient value for an ORCPT as
// the SMTP server passed it on: "type;address" or a bare address.
func originalRecipient(s string, global bool) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	typ, addr := "rfc822", s
	if t, a, ok := strings.Cut(s, ";"); ok && isAtom(strings.TrimSpace(t)) {
		typ, addr = strings.ToLower(strings.TrimSpace(t)), a
	}
	addr, err := cleanAddress("Original", addr)
	if err != nil || addr == "" {
		return "", err
	}
	return typedAddress(typ, addr, global), nil
}

// typedAddress returns "type; address" for a DSN field. An address with
// anything but ASCII is of type "utf-8", whatever it was said to be, as
// "rfc822" addresses are ASCII; a "utf-8" address is written in the
// utf-8-addr-xtext form of RFC 6533 §3 in a message/delivery-status and in
// the utf-8-addr-unitext form in a message/global-delivery-status.
func typedAddress(typ, addr string, global bool) string {
	if !isASCII(addr) {
		typ = "utf-8"
	}
	if typ == "utf-8" {
		addr = utf8AddrText(addr, !global)
	} else if !global {
		addr = clean(addr, false)
	}
	return typ + "; " + addr
}

// writeTo writes the report up to, not including, its third part.
func (rep *report) writeTo(b *bufio.Writer) {
	text, textCTE := rep.textPart()
	status := rep.statusPart()
	statusCTE := ""
	if !isASCII(string(status)) {
		// RFC 6533 §6.2: 8bit, unless a 7-bit path forces an encoding.
		statusCTE = "8bit"
	}

	b.Write(rep.header(textCTE == "8bit" || statusCTE == "8bit" || rep.eightBit))
	b.WriteString("This is a MIME-encapsulated message: a delivery status notification.\r\n")

	b.WriteString("\r\n--" + rep.boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Description: Notification\r\n")
	if textCTE != "" {
		b.WriteString("Content-Transfer-Encoding: " + textCTE + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(text)

	b.WriteString("\r\n--" + rep.boundary + "\r\n")
	if rep.global {
		b.WriteString("Content-Type: message/global-delivery-status\r\n")
	} else {
		b.WriteString("Content-Type: message/delivery-status\r\n")
	}
	b.WriteString("Content-Description: Delivery report\r\n")
	if statusCTE != "" {
		b.WriteString("Content-Transfer-Encoding: " + statusCTE + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(status)
}

// header returns the header section of the notification. eightBit says
// that a part is labelled 8bit.
func (rep *report) header(eightBit bool) []byte {
	var b bytes.Buffer
	writeField(&b, "From", "Mail Delivery System <"+rep.from+">")
	writeField(&b, "To", "<"+rep.to+">")
	writeField(&b, "Subject", rep.subject())
	writeField(&b, "Date", rep.now.Format(rfcDate))
	writeField(&b, "Message-ID", rep.messageID)
	// RFC 3834 §5: a notification is a reply made by a program, so that
	// automatic responders leave it alone.
	writeField(&b, "Auto-Submitted", "auto-replied")
	writeField(&b, "MIME-Version", "1.0")
	reportType := "delivery-status"
	if rep.global {
		reportType = "global-delivery-status"
	}
	// RFC 6522 §3: report-type names the subtype of the second part.
	b.WriteString("Content-Type: multipart/report; report-type=" + reportType + ";\r\n")
	b.WriteString("\tboundary=\"" + rep.boundary + "\"\r\n")
	if eightBit {
		// A multipart is labelled with the widest encoding of its parts
		// (RFC 2045 §6.4).
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// subject returns the Subject: what the report is about, at a glance.
func (rep *report) subject() string {
	var failed, delayed, other bool
	for _, c := range rep.recipients {
		switch c.action {
		case ActionFailed:
			failed = true
		case ActionDelayed:
			delayed = true
		default:
			other = true
		}
	}
	switch {
	case failed && !delayed && !other:
		return "Undelivered Mail Returned to Sender"
	case delayed && !failed && !other:
		return "Delayed Mail (still being retried)"
	case failed && delayed && !other:
		return "Undelivered and Delayed Mail"
	case other && !failed && !delayed:
		return "Successful Mail Delivery Report"
	}
	return "Delivery Status Notification"
}

// statusPart returns the body of the message/delivery-status part: the
// per-message fields, then one group of per-recipient fields for each
// recipient, each group after an empty line (RFC 3464 §2.1), in the order
// of the grammar of RFC 3464 §2.2 and §2.3.
func (rep *report) statusPart() []byte {
	var b bytes.Buffer
	if rep.envID != "" {
		writeField(&b, "Original-Envelope-Id", rep.envID)
	}
	writeField(&b, "Reporting-MTA", "dns; "+rep.reportingMTA)
	if !rep.arrival.IsZero() {
		writeField(&b, "Arrival-Date", rep.arrival.Format(rfcDate))
	}
	for _, c := range rep.recipients {
		b.WriteString("\r\n")
		if c.original != "" {
			writeField(&b, "Original-Recipient", c.original)
		}
		writeField(&b, "Final-Recipient", c.final)
		writeField(&b, "Action", string(c.action))
		writeField(&b, "Status", c.status)
		if c.remoteMTA != "" {
			writeField(&b, "Remote-MTA", "dns; "+c.remoteMTA)
		}
		if len(c.diag) > 0 {
			lines := append([]string{c.diagType + "; " + c.diag[0]}, c.diag[1:]...)
			writeField(&b, "Diagnostic-Code", lines...)
		}
		if !c.lastAttempt.IsZero() {
			writeField(&b, "Last-Attempt-Date", c.lastAttempt.Format(rfcDate))
		}
		if !c.retryUntil.IsZero() {
			writeField(&b, "Will-Retry-Until", c.retryUntil.Format(rfcDate))
		}
	}
	return b.Bytes()
}

// writeOriginal writes the third part: the original whole or its header
// section, which head holds the start of, followed by the rest in orig.
func (rep *report) writeOriginal(b *bufio.Writer, h head, orig *bufio.Reader) error {
	if rep.ret == returnNothing {
		return nil
	}
	b.WriteString("\r\n--" + rep.boundary + "\r\n")
	switch {
	case rep.ret == returnFull && rep.globalOrig:
		b.WriteString("Content-Type: message/global\r\n")
	case rep.ret == returnFull:
		b.WriteString("Content-Type: message/rfc822\r\n")
	case rep.globalOrig:
		b.WriteString("Content-Type: message/global-headers\r\n")
	default:
		b.WriteString("Content-Type: text/rfc822-headers\r\n")
	}
	if rep.ret == returnFull {
		b.WriteString("Content-Description: Undelivered message\r\n")
	} else {
		b.WriteString("Content-Description: Undelivered message header\r\n")
	}
	if rep.eightBit {
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	}
	b.WriteString("\r\n")

	cw := &crlfWriter{w: b}
	if rep.ret == returnHeaders {
		cw.Write(h.section())
	} else {
		cw.Write(h.raw)
		if _, err := io.Copy(cw, orig); err != nil && cw.err == nil {
			return fmt.Errorf("dsn: reading the original: %w", err)
		}
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("dsn: writing the report: %w", err)
	}
	return nil
}
