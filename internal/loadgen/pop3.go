package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// What a POP3 cycle fetches (POP3Options.Retrieve).
const (
	RetrieveAll  = "all"  // RETR every message
	RetrieveTop  = "top"  // TOP n 0 of every message: headers only, as a client listing mail does
	RetrieveNone = "none" // STAT and UIDL only, as a client polling for new mail does
)

// POP3Options are the settings of a POP3 run.
type POP3Options struct {
	Options
	// Delete DELEtes every retrieved message. The default leaves the mail,
	// so every cycle sees the same mailbox and runs are repeatable.
	Delete bool
	// Retrieve is RetrieveAll (the default), RetrieveTop or RetrieveNone.
	Retrieve string
}

// RunPOP3 runs POP3 cycles — connect, [STLS], USER, PASS, STAT, LIST, UIDL,
// RETR (or TOP) of every message, [DELE], QUIT — with a new connection per
// cycle, as POP3 clients poll. Each client takes turns with its own users
// (see Options.UserCount). Everything received is checked: replies are +OK,
// LIST agrees with STAT, UIDL lists every message once with unique ids, each
// RETR carries exactly the octets LIST announced and ends with ".\r\n", and
// TOP starts with a header field. A failed check, an -ERR or a broken
// connection counts as an error of the command concerned.
func RunPOP3(ctx context.Context, o POP3Options) (*Report, error) {
	switch o.Retrieve {
	case "":
		o.Retrieve = RetrieveAll
	case RetrieveAll, RetrieveTop, RetrieveNone:
	default:
		return nil, fmt.Errorf("loadgen: POP3 Retrieve %q is not all, top or none", o.Retrieve)
	}
	return run(ctx, "pop3", o.Options, func() driver { return &pop3Client{o: &o} })
}

// pop3Client is one simulated POP3 client. Its buffers live across cycles,
// so a steady-state cycle allocates little beyond the connection itself.
type pop3Client struct {
	o     *POP3Options
	cn    conn
	sizes []int64             // LIST's message sizes, this session
	uids  map[uint64]struct{} // hashes of this session's UIDs
}

func (p *pop3Client) close() { p.cn.close() }

func (p *pop3Client) cycle(ctx context.Context, c *client, user string) {
	cn := &p.cn
	start := time.Now()
	err := cn.dial(ctx, c)
	if err == nil {
		_, err = p.status()
	}
	c.record(ctx, "CONNECT", start, err)
	if err != nil {
		cn.close()
		return
	}
	defer cn.close()
	if p.starttls(ctx, c) && p.login(ctx, c, user) {
		p.transaction(ctx, c)
	}
	if !cn.broken {
		start := time.Now()
		_, err := p.command("QUIT", 0, "")
		c.record(ctx, "QUIT", start, err)
	}
}

// starttls upgrades the connection if asked to, and reports whether the
// session may go on: after a refused STLS it must not, or the password
// would go out in the clear.
func (p *pop3Client) starttls(ctx context.Context, c *client) bool {
	if !c.o.StartTLS {
		return true
	}
	start := time.Now()
	_, err := p.command("STLS", 0, "")
	if err == nil {
		err = p.cn.startTLS(c.tls)
	}
	c.record(ctx, "STLS", start, err)
	return err == nil
}

func (p *pop3Client) login(ctx context.Context, c *client, user string) bool {
	start := time.Now()
	_, err := p.command("USER", 0, user)
	c.record(ctx, "USER", start, err)
	if err != nil {
		return false
	}
	start = time.Now()
	_, err = p.command("PASS", 0, c.o.Password)
	c.record(ctx, "PASS", start, err)
	return err == nil
}

// transaction is the TRANSACTION state of RFC 1939: STAT, LIST, UIDL and the
// retrievals. It stops early only when it cannot go on (no message count,
// or the connection broke); a failed check or -ERR on one message does not
// stop the others.
func (p *pop3Client) transaction(ctx context.Context, c *client) {
	start := time.Now()
	line, err := p.command("STAT", 0, "")
	var count int
	var size int64
	if err == nil {
		count, size, err = parseStat(line)
	}
	c.record(ctx, "STAT", start, err)
	if err != nil {
		return
	}
	retrieve := p.o.Retrieve != RetrieveNone
	p.sizes = p.sizes[:0]
	if retrieve {
		start = time.Now()
		c.record(ctx, "LIST", start, p.list(count, size))
	}
	if !p.cn.broken {
		start = time.Now()
		c.record(ctx, "UIDL", start, p.uidl(count))
	}
	if !retrieve {
		return
	}
	for i := 1; i <= count && !p.cn.broken; i++ {
		if !p.retrieve(ctx, c, i) || !p.o.Delete || p.cn.broken {
			continue
		}
		start = time.Now()
		_, err := p.command("DELE", i, "")
		c.record(ctx, "DELE", start, err)
	}
}

// list issues LIST and checks it against STAT: one line per message,
// numbered 1..count, sizes adding up to STAT's total.
func (p *pop3Client) list(count int, total int64) error {
	if _, err := p.command("LIST", 0, ""); err != nil {
		return err
	}
	var bad error
	var sum int64
	_, err := p.cn.readDotBody(func(piece []byte, start bool) {
		if bad != nil {
			return
		}
		n, rest, ok := parseNumber(piece)
		size, _, ok2 := parseNumber(rest)
		if !start || !ok || !ok2 || n != int64(len(p.sizes)+1) {
			bad = fmt.Errorf("malformed LIST line %d: %.80q", len(p.sizes)+1, piece)
			return
		}
		p.sizes = append(p.sizes, size)
		sum += size
	})
	switch {
	case err != nil:
		return err
	case bad != nil:
		return bad
	case len(p.sizes) != count:
		return fmt.Errorf("LIST has %d messages, STAT said %d", len(p.sizes), count)
	case sum != total:
		return fmt.Errorf("LIST sizes add up to %d octets, STAT said %d", sum, total)
	}
	return nil
}

// uidl issues UIDL and checks that it lists messages 1..count, each with a
// valid unique id. Ids are compared by 64-bit FNV-1a hash, which keeps the
// check allocation-free; a false "duplicate" would need a hash collision
// among a few thousand ids (odds around 1e-13).
func (p *pop3Client) uidl(count int) error {
	if _, err := p.command("UIDL", 0, ""); err != nil {
		return err
	}
	if p.uids == nil {
		p.uids = make(map[uint64]struct{})
	}
	clear(p.uids)
	var bad error
	lines := 0
	_, err := p.cn.readDotBody(func(piece []byte, start bool) {
		lines++
		if bad != nil {
			return
		}
		n, rest, ok := parseNumber(piece)
		uid := bytes.TrimSpace(rest)
		if !start || !ok || n != int64(lines) || !validUID(uid) {
			bad = fmt.Errorf("malformed UIDL line %d: %.80q", lines, piece)
			return
		}
		h := uint64(14695981039346656037)
		for _, b := range uid {
			h = (h ^ uint64(b)) * 1099511628211
		}
		if _, dup := p.uids[h]; dup {
			bad = fmt.Errorf("UIDL repeats id %q (message %d)", uid, n)
			return
		}
		p.uids[h] = struct{}{}
	})
	switch {
	case err != nil:
		return err
	case bad != nil:
		return bad
	case lines != count:
		return fmt.Errorf("UIDL has %d messages, STAT said %d", lines, count)
	}
	return nil
}

// validUID: RFC 1939 section 7, 1 to 70 characters in 0x21..0x7E.
func validUID(uid []byte) bool {
	if len(uid) == 0 || len(uid) > 70 {
		return false
	}
	for _, b := range uid {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}

// retrieve fetches message i with RETR (or TOP i 0) and checks it, reporting
// whether it succeeded.
func (p *pop3Client) retrieve(ctx context.Context, c *client, i int) bool {
	verb, arg := "RETR", ""
	top := p.o.Retrieve == RetrieveTop
	if top {
		verb, arg = "TOP", "0"
	}
	var want int64 = -1 // unknown if LIST failed
	if i <= len(p.sizes) {
		want = p.sizes[i-1]
	}
	start := time.Now()
	_, err := p.command(verb, i, arg)
	if err == nil {
		var bad error
		first := true
		var octets int64
		octets, err = p.cn.readDotBody(func(piece []byte, _ bool) {
			if top && first && !isHeaderField(piece) {
				bad = fmt.Errorf("message %d: TOP does not start with a header field: %.80q", i, piece)
			}
			first = false
		})
		switch {
		case err != nil:
		case bad != nil:
			err = bad
		case top && first:
			err = fmt.Errorf("message %d: TOP returned no header block", i)
		case top && want >= 0 && octets > want:
			err = fmt.Errorf("message %d: TOP returned %d octets, more than the message's %d", i, octets, want)
		case !top && want >= 0 && octets != want:
			err = fmt.Errorf("message %d: RETR returned %d octets, LIST said %d", i, octets, want)
		}
	}
	c.record(ctx, verb, start, err)
	return err == nil
}

// isHeaderField reports whether line starts like "Name:" (RFC 5322 2.2:
// printable US-ASCII other than colon, then a colon).
func isHeaderField(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, b := range line[:colon] {
		if b < 33 || b > 126 {
			return false
		}
	}
	return true
}

// command sends "verb[ n][ arg]" (n if > 0) and reads the status line; see
// status.
func (p *pop3Client) command(verb string, n int, arg string) ([]byte, error) {
	cn := &p.cn
	cn.put(verb)
	if n > 0 {
		cn.put(" ")
		cn.putInt(n)
	}
	if arg != "" {
		cn.put(" ")
		cn.put(arg)
	}
	if err := cn.send(); err != nil {
		return nil, err
	}
	return p.status()
}

// status reads a status line: the line for +OK; a plain error for -ERR (the
// session goes on); a connError for anything else, since a client that
// cannot parse a reply no longer knows where the next one starts.
func (p *pop3Client) status() ([]byte, error) {
	line, err := p.cn.readLine()
	switch {
	case err != nil:
		return nil, err
	case bytes.HasPrefix(line, []byte("+OK")):
		return line, nil
	case bytes.HasPrefix(line, []byte("-ERR")):
		return nil, errors.New(string(line[:min(len(line), 200)]))
	}
	p.cn.broken = true
	return nil, &connError{fmt.Errorf("malformed reply %.80q", line)}
}

// parseStat parses "+OK count size".
func parseStat(line []byte) (int, int64, error) {
	n, rest, ok := parseNumber(line[len("+OK"):])
	size, _, ok2 := parseNumber(rest)
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("malformed STAT reply %.80q", line)
	}
	return int(n), size, nil
}

// parseNumber parses a decimal number after optional spaces, returning the
// rest of b. Up to 18 digits, so it cannot overflow.
func parseNumber(b []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && j-i < 18 && b[j] >= '0' && b[j] <= '9' {
		n = n*10 + int64(b[j]-'0')
		j++
	}
	if j == i || (j < len(b) && b[j] >= '0' && b[j] <= '9') {
		return 0, b, false
	}
	return n, b[j:], true
}
