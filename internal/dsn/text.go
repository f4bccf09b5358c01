package dsn

import (
	"bytes"
	"fmt"
	"mime/quotedprintable"
	"strings"
)

// textWidth is the width the prose for people is wrapped to. Quoted
// replies get up to softLine, as servers write lines of about that.
const textWidth = 72

// textPart returns the body of the text/plain part, and the transfer
// encoding it needs: "" (7bit) for ASCII; for UTF-8, "8bit" if the report
// is 8-bit anyway, else quoted-printable, so that a report about 7-bit
// mail stays 7-bit.
func (rep *report) textPart() ([]byte, string) {
	var t textWriter
	t.para("This is the mail system at " + rep.reportingMTA + ".")

	var failed, delayed, done []recipient
	for _, c := range rep.recipients {
		switch c.action {
		case ActionFailed:
			failed = append(failed, c)
		case ActionDelayed:
			delayed = append(delayed, c)
		default:
			done = append(done, c)
		}
	}
	if len(failed) > 0 {
		t.para("Your message could not be delivered to the recipients below. " +
			"The mail system has given up on them and will not try again.")
		for _, c := range failed {
			rep.describe(&t, c)
		}
	}
	if len(delayed) > 0 {
		t.para("Your message has not been delivered yet to the recipients below. " +
			"The mail system is still trying and will tell you if it gives up; " +
			"there is no need to send the message again.")
		for _, c := range delayed {
			rep.describe(&t, c)
		}
	}
	if len(done) > 0 {
		t.para("Your message was delivered, as you asked to be told, to the recipients below.")
		for _, c := range done {
			rep.describe(&t, c)
		}
	}

	switch rep.ret {
	case returnFull:
		t.para("Your message is attached.")
	case returnHeaders:
		switch {
		case rep.retWanted && rep.maxFull <= 0:
			t.para("This system does not return whole messages, so only the header of yours is attached.")
		case rep.retWanted && rep.size > rep.maxFull:
			t.para(fmt.Sprintf("Your message was %d octets, more than the %d octets "+
				"this system returns whole, so only its header is attached.", rep.size, rep.maxFull))
		default:
			t.para("The header of your message is attached.")
		}
		if rep.headCut {
			t.para("The header was too long to return whole: only its start is attached.")
		}
	}

	// The line end before the boundary belongs to the boundary (RFC 2046
	// §5.1.1): the text ends with its last line, not an empty one.
	body := bytes.TrimSuffix(t.b.Bytes(), []byte("\r\n"))
	switch {
	case isASCII(string(body)):
		return body, ""
	case rep.global || rep.eightBit:
		return body, "8bit"
	}
	var q bytes.Buffer
	qw := quotedprintable.NewWriter(&q)
	qw.Write(body) // writes to a bytes.Buffer do not fail
	qw.Close()
	return q.Bytes(), "quoted-printable"
}

// describe writes what became of the message for one recipient.
func (rep *report) describe(t *textWriter, c recipient) {
	what := c.status
	if d := statusText(c.status); d != "" {
		what += " (" + d + ")"
	}
	switch c.action {
	case ActionDelivered:
		what = "delivered"
	case ActionRelayed:
		what = "passed on to a system that does not report delivery"
	case ActionExpanded:
		what = "delivered to an alias and passed on to its addresses"
	}
	t.line("", "<"+c.address+">: "+what)
	if !c.lastAttempt.IsZero() {
		t.line("    ", "Last attempt: "+c.lastAttempt.Format(rfcDate))
	}
	if !c.retryUntil.IsZero() {
		t.line("    ", "Trying until: "+c.retryUntil.Format(rfcDate))
	}
	if c.explanation != "" && !strings.Contains(strings.Join(c.diagText, " "), c.explanation) {
		t.line("    ", c.explanation)
	}
	switch {
	case c.remoteMTA != "" && len(c.diagText) > 0:
		t.line("    ", "The mail server "+c.remoteMTA+" answered:")
	case c.remoteMTA != "":
		t.line("    ", "Mail server: "+c.remoteMTA)
	case len(c.diagText) > 0:
		t.line("    ", "The reason given:")
	}
	for _, l := range c.diagText {
		t.wrap("        ", l, softLine)
	}
	t.b.WriteString("\r\n")
}

// textWriter writes text for people, wrapped, with CRLF line ends.
type textWriter struct {
	b bytes.Buffer
}

// para writes s as a paragraph, followed by an empty line.
func (t *textWriter) para(s string) {
	t.line("", s)
	t.b.WriteString("\r\n")
}

// line writes s wrapped to textWidth, each line starting with indent.
func (t *textWriter) line(indent, s string) { t.wrap(indent, s, textWidth) }

// wrap writes s wrapped to width, each line starting with indent. A word
// too long for a line is given one of its own, and broken if it would
// exceed maxToken octets.
func (t *textWriter) wrap(indent, s string, width int) {
	col := 0
	for _, word := range strings.Fields(s) {
		for word != "" {
			tok := cutUTF8(word, maxToken)
			word = word[len(tok):]
			if col > 0 && col+1+len(tok) > width {
				t.b.WriteString("\r\n")
				col = 0
			}
			if col == 0 {
				t.b.WriteString(indent)
				col = len(indent)
			} else {
				t.b.WriteByte(' ')
				col++
			}
			t.b.WriteString(tok)
			col += len(tok)
		}
	}
	if col > 0 {
		t.b.WriteString("\r\n")
	}
}

// statusText returns what an enhanced status code means (RFC 3463 §3), or
// "" for a code it does not know.
func statusText(code string) string {
	_, sd, _ := strings.Cut(code, ".")
	switch sd {
	case "0.0":
		return "other or undefined status"
	case "1.0":
		return "other address status"
	case "1.1":
		return "bad destination mailbox address"
	case "1.2":
		return "bad destination system address"
	case "1.3":
		return "bad destination mailbox address syntax"
	case "1.4":
		return "destination mailbox address ambiguous"
	case "1.5":
		return "destination address valid"
	case "1.6":
		return "destination mailbox has moved, no forwarding address"
	case "1.7":
		return "bad sender's mailbox address syntax"
	case "1.8":
		return "bad sender's system address"
	case "2.0":
		return "other or undefined mailbox status"
	case "2.1":
		return "mailbox disabled, not accepting messages"
	case "2.2":
		return "mailbox full"
	case "2.3":
		return "message length exceeds administrative limit"
	case "2.4":
		return "mailing list expansion problem"
	case "3.0":
		return "other or undefined mail system status"
	case "3.1":
		return "mail system full"
	case "3.2":
		return "system not accepting network messages"
	case "3.3":
		return "system not capable of selected features"
	case "3.4":
		return "message too big for system"
	case "3.5":
		return "system incorrectly configured"
	case "4.0":
		return "other or undefined network or routing status"
	case "4.1":
		return "no answer from host"
	case "4.2":
		return "bad connection"
	case "4.3":
		return "directory server failure"
	case "4.4":
		return "unable to route"
	case "4.5":
		return "mail system congestion"
	case "4.6":
		return "routing loop detected"
	case "4.7":
		return "delivery time expired"
	case "5.0":
		return "other or undefined protocol status"
	case "5.1":
		return "invalid command"
	case "5.2":
		return "syntax error"
	case "5.3":
		return "too many recipients"
	case "5.4":
		return "invalid command arguments"
	case "5.5":
		return "wrong protocol version"
	case "6.0":
		return "other or undefined media error"
	case "6.1":
		return "media not supported"
	case "6.2":
		return "conversion required and prohibited"
	case "6.3":
		return "conversion required but not supported"
	case "6.4":
		return "conversion with loss performed"
	case "6.5":
		return "conversion failed"
	case "7.0":
		return "other or undefined security status"
	case "7.1":
		return "delivery not authorized, message refused"
	case "7.2":
		return "mailing list expansion prohibited"
	case "7.3":
		return "security conversion required but not possible"
	case "7.4":
		return "security features not supported"
	case "7.5":
		return "cryptographic failure"
	case "7.6":
		return "cryptographic algorithm not supported"
	case "7.7":
		return "message integrity failure"
	}
	return ""
}
