package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SMTPOptions are the settings of an SMTP run.
type SMTPOptions struct {
	Options
	// Size is the body size of generated messages in bytes (default 10
	// KB). Not used with Mbox.
	Size int
	// Mbox, if set, is an mbox file whose messages are sent, in turn,
	// instead of generated ones.
	Mbox string
	// Reuse sends message after message over one connection, as an MTA
	// with a queue for the destination does; otherwise every message has
	// a connection of its own, as mail clients and most MTAs do.
	Reuse bool
	// Auth logs in with AUTH PLAIN as the sending user and Password, as a
	// client of a submission server does. Only over TLS.
	Auth bool
	// From is the envelope sender of every message (default: the
	// sending user).
	From string
	// VerifyIMAP, if set, is the host:port of the recipients' IMAP server
	// (implicit TLS): after the run, RunSMTP logs in as every recipient
	// with Password and counts the run's messages in INBOX (see
	// SMTPVerification).
	VerifyIMAP string
}

const defaultMessageSize = 10 << 10

func (o SMTPOptions) normalized() (SMTPOptions, error) {
	// AUTH PLAIN sends the password as it is: only over TLS.
	if o.Auth && !o.TLS && !o.StartTLS {
		return o, errors.New("loadgen: SMTP AUTH sends the password in the clear: set TLS or StartTLS")
	}
	if !strings.Contains(o.Users, "@") {
		return o, fmt.Errorf("loadgen: SMTP needs addresses: user pattern %q has no @", o.Users)
	}
	if o.Size < 0 {
		return o, fmt.Errorf("loadgen: negative message size %d", o.Size)
	}
	if o.Size == 0 {
		o.Size = defaultMessageSize
	}
	if strings.ContainsAny(o.From, "<> \t\r\n\x00") {
		return o, fmt.Errorf("loadgen: sender %q", o.From)
	}
	if o.VerifyIMAP != "" && o.Password == "" {
		return o, errors.New("loadgen: verifying over IMAP needs the recipients' Password")
	}
	return o, nil
}

// SMTPReport is the Report of an SMTP run, with what the verification
// found if it was asked for. Each cycle is one message, so Cycles counts
// the messages sent without any error.
type SMTPReport struct {
	*Report
	Verify *SMTPVerification `json:"verify,omitempty"`
}

// SMTPVerification is what RunSMTP found in the recipients' INBOXes after
// the run (SMTPOptions.VerifyIMAP), by the run's mark in the Subject of
// every message it sent.
type SMTPVerification struct {
	Recipients int `json:"recipients"` // INBOXes checked: every recipient the run sent to
	Accepted   int `json:"accepted"`   // messages the server accepted (250 after the dot)
	Verified   int `json:"verified"`   // accepted messages found
	Missing    int `json:"missing"`    // accepted messages not found: lost
	// Extra counts messages found beyond those accepted: sent, but the
	// 250 never came (a timeout, a dropped connection), or duplicates.
	Extra int `json:"extra"`
	// Unchecked counts accepted messages of recipients whose INBOX could
	// not be searched; Errors says why.
	Unchecked int      `json:"unchecked"`
	Errors    []string `json:"errors,omitempty"`
}

// WriteText writes the report as Report.WriteText does, then the
// verification.
func (r *SMTPReport) WriteText(w io.Writer) error {
	if err := r.Report.WriteText(w); err != nil {
		return err
	}
	v := r.Verify
	if v == nil {
		return nil
	}
	_, err := fmt.Fprintf(w, "verify: %d accepted messages to %d recipients: %d verified, %d missing, %d extra, %d unchecked\n",
		v.Accepted, v.Recipients, v.Verified, v.Missing, v.Extra, v.Unchecked)
	for _, s := range v.Errors {
		if err == nil {
			_, err = fmt.Fprintf(w, "  %s\n", s)
		}
	}
	return err
}

// WriteJSON writes the report as Report.WriteJSON does, with the
// verification under "verify".
func (r *SMTPReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RunSMTP sends messages, one per cycle: connect, EHLO, [STARTTLS, EHLO,]
// [AUTH PLAIN,] MAIL, RCPT, DATA, the message, [QUIT] — with a new
// connection per message, or with Reuse the next MAIL on the same one
// (RSET after a refused transaction; a new connection after a broken
// one). MAIL, RCPT and DATA go out in one write when the server offers
// PIPELINING, as smtp-source and MTAs send them. The sender is the
// cycle's user (see Options.UserCount) — with Reuse, the user the
// connection began with — or From; the one recipient is the next of all
// UserCount users in turn, so each gets its share.
//
// Messages are generated (From, To, Subject, Date, Message-ID and a body
// of Size octets of text) or taken in turn from Mbox; each carries the
// run's mark and its number in the Subject and a Message-ID of its own,
// so that it can be found again (VerifyIMAP). Every reply code is
// checked: 220 for the greeting and STARTTLS, 250 for EHLO, MAIL, RSET
// and the final dot, 250 or 251 for RCPT, 235 for AUTH, 354 for DATA, 221
// for QUIT; any other is an error of the command concerned.
//
// Commands are reported as CONNECT (with the greeting), EHLO, STARTTLS,
// AUTH, MAIL, RCPT, DATA (to its 354), DOT (from the first octet of the
// message to the final reply, the server's durable acceptance), RSET and
// QUIT.
func RunSMTP(ctx context.Context, o SMTPOptions) (*SMTPReport, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	base, err := o.Options.normalized()
	if err != nil {
		return nil, err
	}
	sr := &smtpRun{
		id:       fmt.Sprintf("lg%012x", rand.Uint64()>>16),
		rcpts:    make([]string, base.UserCount),
		sent:     make([]atomic.Int64, base.UserCount),
		accepted: make([]atomic.Int64, base.UserCount),
	}
	for i := range sr.rcpts {
		sr.rcpts[i] = fmt.Sprintf(base.Users, base.UserFirst+i)
	}
	if o.Mbox != "" {
		if sr.mbox, err = readMbox(o.Mbox); err != nil {
			return nil, err
		}
	}
	rep, err := run(ctx, "smtp", o.Options, func() driver { return newSMTPClient(&o, sr) })
	if rep == nil {
		return nil, err
	}
	sre := &SMTPReport{Report: rep}
	if o.VerifyIMAP != "" && err == nil {
		o.Options = base
		sre.Verify = verifySMTP(ctx, &o, sr)
	}
	return sre, err
}

// smtpRun is what the clients of a run share.
type smtpRun struct {
	// id marks the run's messages, to find them again (as a word of its
	// own in the Subject, so that word-based search indexes find it too).
	id    string
	rcpts []string
	mbox  []mboxMessage
	next  atomic.Uint64 // messages begun: the next one's number
	// Per recipient: messages sent to the final dot, and accepted.
	sent, accepted []atomic.Int64
}

// smtpClient is one simulated SMTP client. Its buffers live across cycles.
type smtpClient struct {
	o   *SMTPOptions
	run *smtpRun
	cn  conn
	rng *rand.Rand

	// The session.
	open       bool
	pipelining bool   // the server offers PIPELINING
	sender     string // MAIL FROM
	ctx        context.Context
	c          *client // for close's QUIT

	last    []byte // the last line of the last reply, for errors
	msg     []byte // the message as it goes after 354: dot-stuffed, up to the final "." (send adds its CRLF)
	scratch []byte
}

func newSMTPClient(o *SMTPOptions, sr *smtpRun) *smtpClient {
	return &smtpClient{o: o, run: sr, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (p *smtpClient) cycle(ctx context.Context, c *client, user string) {
	p.ctx, p.c = ctx, c
	if !p.open && !p.connect(ctx, c, user) {
		return
	}
	ok := p.transaction(ctx, c)
	// One refused message is no reason to hang up (an MTA would not): a
	// reused connection goes on after RSET.
	if !p.o.Reuse || p.cn.broken || !ok && !p.reset(ctx, c) {
		p.quit(ctx, c)
	}
}

func (p *smtpClient) close() {
	if p.open && p.c != nil {
		p.quit(p.ctx, p.c)
	}
	p.cn.close()
}

// connect connects, greets, upgrades with STARTTLS and logs in, as asked
// to, reporting whether the session is ready for MAIL.
func (p *smtpClient) connect(ctx context.Context, c *client, user string) bool {
	cn := &p.cn
	start := time.Now()
	err := cn.dial(ctx, c)
	if err == nil {
		err = p.expect(nil, 220)
	}
	c.record(ctx, "CONNECT", start, err)
	p.open = err == nil
	if err != nil || !p.hello(ctx, c) {
		p.quit(ctx, c) // RFC 5321 3.1: after a 554 greeting, QUIT
		return false
	}
	if c.o.StartTLS {
		start = time.Now()
		cn.put("STARTTLS")
		err = cn.send()
		if err == nil {
			err = p.expect(nil, 220)
		}
		if err == nil {
			err = cn.startTLS(c.tls)
		}
		c.record(ctx, "STARTTLS", start, err)
		// RFC 3207 4.2: forget what the server said before, EHLO again.
		if err != nil || !p.hello(ctx, c) {
			p.quit(ctx, c) // not a word more in the clear, least of all the password
			return false
		}
	}
	p.sender = user
	if p.o.From != "" {
		p.sender = p.o.From
	}
	if !p.o.Auth {
		return true
	}
	// RFC 4616: authzid NUL authcid NUL password, as the initial response
	// (RFC 4954), saving a round trip.
	p.scratch = append(append(append(append(p.scratch[:0], 0), user...), 0), c.o.Password...)
	n := len(p.scratch)
	p.scratch = base64.StdEncoding.AppendEncode(p.scratch, p.scratch)
	cn.put("AUTH PLAIN ")
	cn.w.Write(p.scratch[n:])
	if !p.step(ctx, c, "AUTH", 235) {
		p.quit(ctx, c)
		return false
	}
	return true
}

// hello sends EHLO and notes whether the server offers PIPELINING. The
// client names itself by the address literal of its end of the connection
// (RFC 5321 4.1.4, for a client without a meaningful domain name): true
// whatever the machine, and nothing to configure.
func (p *smtpClient) hello(ctx context.Context, c *client) bool {
	cn := &p.cn
	start := time.Now()
	ip := netip.IPv4Unspecified()
	if a, ok := cn.raw.LocalAddr().(*net.TCPAddr); ok {
		ip = a.AddrPort().Addr().Unmap()
	}
	cn.put("EHLO [")
	if ip.Is6() {
		cn.put("IPv6:")
	}
	p.scratch = ip.AppendTo(p.scratch[:0])
	cn.w.Write(p.scratch)
	cn.put("]")
	p.pipelining = false
	lines := 0
	err := cn.send()
	if err == nil {
		err = p.expect(func(text []byte) {
			// The first line is the server's name, the others keywords.
			if lines > 0 && isStatus(text, "PIPELINING") {
				p.pipelining = true
			}
			lines++
		}, 250)
	}
	c.record(ctx, "EHLO", start, err)
	return err == nil
}

// transaction sends the run's next message, reporting whether the server
// accepted it.
func (p *smtpClient) transaction(ctx context.Context, c *client) bool {
	n := p.run.next.Add(1) - 1
	ri := int(n % uint64(len(p.run.rcpts)))
	rcpt := p.run.rcpts[ri]
	p.makeMessage(n, rcpt)
	var ok bool
	if p.pipelining {
		ok = p.pipelined(ctx, c, rcpt)
	} else {
		ok = p.stepwise(ctx, c, rcpt)
	}
	return ok && p.data(ctx, c, ri)
}

// stepwise sends MAIL, RCPT and DATA one by one, each after the reply to
// the one before, for a server without PIPELINING.
func (p *smtpClient) stepwise(ctx context.Context, c *client, rcpt string) bool {
	p.putMail()
	if !p.step(ctx, c, "MAIL", 250) {
		return false
	}
	p.putRcpt(rcpt)
	// 251: "user not local; will forward" (RFC 5321 4.2.2), accepted all
	// the same.
	if !p.step(ctx, c, "RCPT", 250, 251) {
		return false
	}
	p.cn.put("DATA")
	return p.step(ctx, c, "DATA", 354)
}

// pipelined sends MAIL, RCPT and DATA in one write (RFC 2920). The replies
// come back in order; each command's latency runs from the reply before
// it (MAIL's from the write), so the three add up to the group's round
// trip. After a refusal the rest of the group is meant to fail too (RFC
// 2920 3.1): those replies are read, to stay in step, but not counted
// (stepwise, the commands would not have been sent) — unless DATA gets 354
// all the same, an error, after which the client ends the empty message.
func (p *smtpClient) pipelined(ctx context.Context, c *client, rcpt string) bool {
	cn := &p.cn
	start := time.Now()
	p.putMail()
	cn.put("\r\n")
	p.putRcpt(rcpt)
	cn.put("\r\nDATA")
	err := cn.send()
	if err == nil {
		err = p.expect(nil, 250)
	}
	c.record(ctx, "MAIL", start, err)
	refused := err != nil
	if cn.broken {
		return false
	}
	start = time.Now()
	err = p.expect(nil, 250, 251)
	if !refused || isConnError(err) {
		c.record(ctx, "RCPT", start, err)
	}
	refused = refused || err != nil
	if cn.broken {
		return false
	}
	start = time.Now()
	code, err := p.reply(nil)
	switch {
	case err != nil:
	case !refused && code != 354:
		err = p.refusal(code, 354)
	case refused && code == 354:
		err = fmt.Errorf("%s after MAIL or RCPT was refused", capText(p.last))
		cn.put(".")
		if cn.send() == nil {
			p.reply(nil) // broken, if it breaks; what else it says does not matter
		}
	case refused:
		return false
	}
	c.record(ctx, "DATA", start, err)
	return err == nil
}

// data sends the message after a 354 and reads the final reply: with 250,
// the server has taken responsibility for the message (RFC 5321 6.1).
// DOT's latency runs from the message's first octet, so it covers the
// transfer and the server's commit.
func (p *smtpClient) data(ctx context.Context, c *client, ri int) bool {
	cn := &p.cn
	start := time.Now()
	cn.arm() // for the transfer: a large message may outlast the deadline of DATA
	cn.w.Write(p.msg)
	err := cn.send()
	if err == nil {
		p.run.sent[ri].Add(1)
		err = p.expect(nil, 250)
	}
	c.record(ctx, "DOT", start, err)
	if err != nil {
		return false
	}
	p.run.accepted[ri].Add(1)
	return true
}

// reset ends a refused transaction with RSET, reporting whether the
// session may go on.
func (p *smtpClient) reset(ctx context.Context, c *client) bool {
	p.cn.put("RSET")
	return p.step(ctx, c, "RSET", 250)
}

// quit ends the session with QUIT (unless the connection is broken) and
// closes the connection.
func (p *smtpClient) quit(ctx context.Context, c *client) {
	if !p.cn.broken && p.cn.nc != nil {
		p.cn.put("QUIT")
		p.step(ctx, c, "QUIT", 221)
	}
	p.cn.close()
	p.open = false
}

func (p *smtpClient) putMail() {
	p.cn.put("MAIL FROM:<")
	p.cn.put(p.sender)
	p.cn.put(">")
}

func (p *smtpClient) putRcpt(rcpt string) {
	p.cn.put("RCPT TO:<")
	p.cn.put(rcpt)
	p.cn.put(">")
}

// step sends the command line built, reads its reply and records it as
// name, reporting whether the reply code was one of want.
func (p *smtpClient) step(ctx context.Context, c *client, name string, want ...int) bool {
	start := time.Now()
	err := p.cn.send()
	if err == nil {
		err = p.expect(nil, want...)
	}
	c.record(ctx, name, start, err)
	return err == nil
}

// expect reads a reply and checks that its code is one of want (see
// refusal); fn, if not nil, sees the text of every line.
func (p *smtpClient) expect(fn func(text []byte), want ...int) error {
	code, err := p.reply(fn)
	if err != nil || slices.Contains(want, code) {
		return err
	}
	return p.refusal(code, want[0])
}

// refusal is the error for a reply with another code than want: a plain
// error, since the session goes on — except after 421, with which the
// server closes it (RFC 5321 3.8). A positive reply that is not the one
// expected says so, since its text rarely does.
func (p *smtpClient) refusal(code, want int) error {
	if code == 421 {
		p.cn.broken = true
	}
	if code < 400 {
		return fmt.Errorf("%s (want %d)", capText(p.last), want)
	}
	return errors.New(capText(p.last))
}

// reply reads a reply, of one or more lines (RFC 5321 4.2.1), and returns
// its code, keeping its last line in p.last; fn, if not nil, sees the text
// of every line. A malformed reply is a connError: a client that cannot
// parse a reply no longer knows where the next one starts.
func (p *smtpClient) reply(fn func(text []byte)) (int, error) {
	code := 0
	for {
		line, err := p.cn.readLine()
		if err != nil {
			return 0, err
		}
		n, more, ok := parseReply(line)
		if !ok || code != 0 && n != code {
			p.cn.broken = true
			return 0, &connError{fmt.Errorf("malformed reply %.80q", line)}
		}
		code = n
		if fn != nil {
			fn(line[min(len(line), 4):])
		}
		if !more {
			p.last = append(p.last[:0], line...)
			return code, nil
		}
	}
}

// parseReply parses a reply line: its code, and whether more lines follow
// ("250-…" rather than "250 …" or "250").
func parseReply(line []byte) (code int, more, ok bool) {
	if len(line) < 3 || len(line) > 3 && line[3] != ' ' && line[3] != '-' {
		return 0, false, false
	}
	for _, b := range line[:3] {
		if b < '0' || b > '9' {
			return 0, false, false
		}
		code = code*10 + int(b-'0')
	}
	return code, len(line) > 3 && line[3] == '-', code >= 200 && code < 600
}

// makeMessage writes message n of the run, to rcpt, to p.msg.
func (p *smtpClient) makeMessage(n uint64, rcpt string) {
	m := p.msg[:0]
	if len(p.run.mbox) > 0 {
		p.msg = p.run.mbox[n%uint64(len(p.run.mbox))].appendTo(m, p, n)
		return
	}
	m = append(m, "From: <"...)
	m = append(m, p.sender...)
	m = append(m, ">\r\nTo: <"...)
	m = append(m, rcpt...)
	m = append(m, ">\r\nSubject: mailroom bench "...)
	m = p.appendMark(m, n, ' ')
	m = append(m, "\r\nDate: "...)
	m = time.Now().AppendFormat(m, time.RFC1123Z)
	m = append(m, "\r\n"...)
	m = p.appendMessageID(m, n)
	m = append(m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"...)
	p.msg = append(p.appendBody(m), '.')
}

// appendMark appends the run's mark and n, separated by sep.
func (p *smtpClient) appendMark(m []byte, n uint64, sep byte) []byte {
	m = append(m, p.run.id...)
	m = append(m, sep)
	return strconv.AppendUint(m, n, 10)
}

func (p *smtpClient) appendMessageID(m []byte, n uint64) []byte {
	m = append(m, "Message-ID: <"...)
	m = p.appendMark(m, n, '.')
	return append(m, "@loadgen.example.test>\r\n"...)
}

// bodyWords are what generated bodies are made of: text that compresses
// and indexes like mail, unlike random octets.
var bodyWords = strings.Fields(`the of and to a in is it you that he was for on are with as I his
	they be at one have this from or had by hot word but what some we can out other were all there
	when up use your how said an each she which do their time if will way about many then them write
	would like so these her long make thing see him two has look more day could go come did number
	sound no most people my over know water than call first who may down side been now find any new
	work part take get place made live where after back little only round man year came show every
	good me give our under name very through just form sentence great think say help low line differ
	turn cause much mean before move right boy old too same tell does set three want air well also
	play small end put home read hand port large spell add even land here must big high such follow
	act why ask men change went light kind off need house picture try us again animal point mother
	world near build self earth father meeting invoice report attached please thanks regards`)

// appendBody appends, dot-stuffed, a body of exactly o.Size octets (2 if
// Size is 1: every line ends in CRLF) of text: sentences of common words,
// lines of 60 to 76 characters (RFC 5322 2.1.1 asks for at most 78),
// paragraphs of 3 to 8 lines. It opens with "...", so that every message
// needs dot-stuffing and a server that fails to undo it changes the
// message.
func (p *smtpClient) appendBody(m []byte) []byte {
	rest := p.o.Size
	lines, para := 0, 3+p.rng.IntN(6)
	capital := true
	for rest > 0 {
		if lines == para && rest != 3 { // 3 would leave 1: no line
			m = append(m, '\r', '\n')
			rest -= 2
			lines, para = 0, 3+p.rng.IntN(6)
			continue
		}
		width := 60 + p.rng.IntN(17)
		last := rest-2 <= width
		if last {
			width = max(rest-2, 0) // exactly what is left
		}
		n := 0 // the line's octets, without the stuffing
		if rest == p.o.Size && width >= 3 {
			m = append(m, "...."...)
			n = 3
		}
		for n < width {
			w := bodyWords[p.rng.IntN(len(bodyWords))]
			sep := min(n, 1)
			if n+sep+len(w) > width {
				if !last {
					break
				}
				if width-n-sep <= 0 {
					m = append(m, '.')
					n++
					continue
				}
				w = w[:width-n-sep]
			}
			if sep > 0 {
				m = append(m, ' ')
			}
			m = append(m, w...)
			if capital && w[0] >= 'a' && w[0] <= 'z' {
				m[len(m)-len(w)] -= 'a' - 'A'
			}
			capital = false
			n += sep + len(w)
			if n < width && p.rng.IntN(10) == 0 {
				m = append(m, '.')
				n++
				capital = true
			}
		}
		if !last && rest-n-2 == 1 {
			m = append(m, '.') // leave no single octet
			n++
		}
		m = append(m, '\r', '\n')
		rest -= n + 2
		lines++
	}
	return m
}

// mboxMessage is a message of an mbox file, ready to send but for the
// fields every send sets: the parts are in wire form, with CRLF line ends
// and dot-stuffed.
type mboxMessage struct {
	from    []byte // the From field, nil if none
	subject []byte // the value of the Subject field (after the colon), nil if none
	header  []byte // the other fields, less Message-ID
	body    []byte // the blank line and the body
}

// appendTo appends message n of the run: its own header with the run's
// mark put first in the Subject, a Message-ID of its own (a message sent
// again must not look like a duplicate to a server that suppresses them)
// and, with Auth or if it has none, the sender in From (submission
// servers accept only the account's own addresses there).
func (mm *mboxMessage) appendTo(m []byte, p *smtpClient, n uint64) []byte {
	if p.o.Auth || mm.from == nil {
		m = append(m, "From: <"...)
		m = append(m, p.sender...)
		m = append(m, ">\r\n"...)
	} else {
		m = append(m, mm.from...)
	}
	m = append(m, "Subject: ["...)
	m = p.appendMark(m, n, ' ')
	m = append(m, ']')
	m = append(m, mm.subject...)
	m = append(m, "\r\n"...)
	m = p.appendMessageID(m, n)
	m = append(m, mm.header...)
	m = append(m, mm.body...)
	return append(m, '.')
}

// readMbox reads the messages of an mbox file: each begins after a line
// starting with "From "; ">From " lines (any number of '>', mboxrd) lose
// one '>'; the blank line before the next "From " line is the file's, not
// the message's.
func readMbox(path string) ([]mboxMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	var msgs []mboxMessage
	var lines [][]byte
	started := false
	end := func() {
		if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
			lines = lines[:n-1]
		}
		if len(lines) > 0 {
			msgs = append(msgs, newMboxMessage(lines))
		}
		lines = lines[:0]
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if bytes.HasPrefix(line, []byte("From ")) {
			end()
			started = true
			continue
		}
		if !started {
			if len(line) == 0 {
				continue
			}
			return nil, fmt.Errorf("loadgen: %s is not an mbox file: it does not begin with a \"From \" line", path)
		}
		if i := bytes.IndexFunc(line, func(r rune) bool { return r != '>' }); i > 0 && bytes.HasPrefix(line[i:], []byte("From ")) {
			line = line[1:]
		}
		lines = append(lines, line)
	}
	end()
	if len(msgs) == 0 {
		return nil, fmt.Errorf("loadgen: no messages in %s", path)
	}
	return msgs, nil
}

func newMboxMessage(lines [][]byte) mboxMessage {
	var mm mboxMessage
	var field *[]byte // where the current field's lines go
	i := 0
	for ; i < len(lines) && len(lines[i]) > 0; i++ {
		line := lines[i]
		if line[0] == ' ' || line[0] == '\t' { // a folded field goes on
			if field == &mm.subject {
				mm.subject = append(append(mm.subject, "\r\n"...), line...)
			} else if field != nil {
				*field = appendStuffed(*field, line)
			}
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Subject")):
			field, mm.subject = &mm.subject, append([]byte{}, value...)
		case bytes.EqualFold(name, []byte("Message-ID")):
			field = nil
		case bytes.EqualFold(name, []byte("From")):
			field = &mm.from
			mm.from = appendStuffed(mm.from, line)
		default:
			field = &mm.header
			mm.header = appendStuffed(mm.header, line)
		}
	}
	mm.body = []byte("\r\n")
	for _, line := range lines[min(i+1, len(lines)):] {
		mm.body = appendStuffed(mm.body, line)
	}
	return mm
}

// appendStuffed appends line with CRLF, dot-stuffed (RFC 5321 4.5.2).
func appendStuffed(m, line []byte) []byte {
	if len(line) > 0 && line[0] == '.' {
		m = append(m, '.')
	}
	return append(append(m, line...), '\r', '\n')
}

// verifySMTP logs in over IMAP as every recipient the run sent to and
// counts the messages with the run's mark in INBOX, with o.Clients
// clients at once. Messages may still be on their way (a server that
// queues before delivering): a recipient short of messages is searched
// again, until o.Timeout has passed since the verification began.
func verifySMTP(ctx context.Context, o *SMTPOptions, sr *smtpRun) *SMTPVerification {
	vo := IMAPOptions{Options: Options{Addr: o.VerifyIMAP, TLS: true, Insecure: o.Insecure, Users: o.Users,
		Password: o.Password, Clients: o.Clients, Timeout: o.Timeout}, Mailbox: "INBOX"}
	tlsConf := clientTLSConfig(&vo.Options)
	rec := newRecorder()
	v := &SMTPVerification{}
	var todo []int
	for i := range sr.rcpts {
		if sr.sent[i].Load() > 0 {
			todo = append(todo, i)
			v.Accepted += int(sr.accepted[i].Load())
		}
	}
	v.Recipients = len(todo)
	deadline := time.Now().Add(o.Timeout)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(o.Clients, len(todo)) {
		wg.Go(func() {
			c := &client{o: &vo.Options, tls: tlsConf, rec: rec}
			// Not exclusive: deliveries may still come in while it looks.
			p := newIMAPClient(&vo, false)
			for k := int(next.Add(1)) - 1; k < len(todo) && !ctxDone(ctx); k = int(next.Add(1)) - 1 {
				i := todo[k]
				want := int(sr.accepted[i].Load())
				found, ok := p.countMarked(ctx, c, sr.rcpts[i], sr.id, want, deadline)
				mu.Lock()
				switch {
				case !ok:
					v.Unchecked += want
				case found >= want:
					v.Verified += want
					v.Extra += found - want
				default:
					v.Verified += found
					v.Missing += want - found
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	v.Errors = append(v.Errors, rec.samples...)
	return v
}

// countMarked logs in as user and counts the messages in INBOX whose
// Subject has mark, searching again (after a NOOP, to hear of new
// messages) while there are fewer than want and deadline has not passed.
// ok is false if the INBOX could not be searched.
func (p *imapClient) countMarked(ctx context.Context, c *client, user, mark string, want int, deadline time.Time) (found int, ok bool) {
	p.ctx, p.c = ctx, c
	if !p.login(ctx, c, user) {
		return 0, false
	}
	defer p.logout(ctx, c)
	start := time.Now()
	err := p.selectBox()
	c.record(ctx, "SELECT", start, err)
	for tries := 0; err == nil; tries++ {
		if tries > 0 {
			if found >= want || !time.Now().Before(deadline) {
				return found, true
			}
			time.Sleep(100 * time.Millisecond)
			start = time.Now()
			p.begin("NOOP")
			err = p.command(nil)
			c.record(ctx, "NOOP", start, err)
			if err != nil {
				break
			}
		}
		start = time.Now()
		p.begin("UID SEARCH SUBJECT ")
		p.quoted(mark)
		found = 0
		err = p.command(func(t []byte) error {
			if !hasPrefixFold(t, "SEARCH") || len(t) > 6 && t[6] != ' ' {
				return nil
			}
			for rest := t[6:]; len(rest) > 0; found++ {
				var ok bool
				if _, rest, ok = parseNumber(rest); !ok {
					return fmt.Errorf("malformed SEARCH response %.80q", t)
				}
			}
			return nil
		})
		c.record(ctx, "SEARCH", start, err)
	}
	return 0, false
}
