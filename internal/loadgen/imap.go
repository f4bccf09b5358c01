package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IMAP operations: the keys of IMAPOptions.Mix.
const (
	IMAPSelect        = "select"         // SELECT the mailbox (again)
	IMAPList          = "list"           // LIST "" "*"
	IMAPStatus        = "status"         // STATUS mailbox (MESSAGES UIDNEXT UNSEEN)
	IMAPFetchFlags    = "fetch-flags"    // UID FETCH 1:* (FLAGS)
	IMAPFetchEnvelope = "fetch-envelope" // FETCH ENVELOPE and BODYSTRUCTURE of the newest messages (IMAPOptions.Envelopes)
	IMAPFetchBody     = "fetch-body"     // FETCH RFC822.SIZE and BODY.PEEK[] of a random message
	IMAPStore         = "store"          // STORE +FLAGS or -FLAGS \Seen or \Flagged on a random message
	IMAPSearch        = "search"         // SEARCH UNSEEN
	IMAPAppend        = "append"         // APPEND, then UID FETCH by APPENDUID and compare
	IMAPExpunge       = "expunge"        // UID STORE +FLAGS.SILENT (\Deleted), UID EXPUNGE of what the client appended
	IMAPNoop          = "noop"           // NOOP
)

// imapOps is every operation, in the order a cycle's plan starts from.
var imapOps = []string{IMAPSelect, IMAPList, IMAPStatus, IMAPFetchFlags, IMAPFetchEnvelope,
	IMAPFetchBody, IMAPStore, IMAPSearch, IMAPAppend, IMAPExpunge, IMAPNoop}

// DefaultIMAPMix returns the default operation weights, a mix in the spirit
// of Dovecot's imaptest: mostly reading, some flag changes, and as many
// expunges as appends so that mailboxes keep their size.
func DefaultIMAPMix() map[string]int {
	return map[string]int{
		IMAPSelect: 1, IMAPList: 1, IMAPStatus: 1, IMAPFetchFlags: 2, IMAPFetchEnvelope: 2,
		IMAPFetchBody: 2, IMAPStore: 2, IMAPSearch: 1, IMAPAppend: 1, IMAPExpunge: 1, IMAPNoop: 1,
	}
}

// IMAPOptions are the settings of an IMAP run.
type IMAPOptions struct {
	Options
	// Persistent keeps one session per client, logged in once (as the
	// client's first user) and selected across cycles, as desktop clients
	// do. Otherwise every cycle is LOGIN … LOGOUT on a new connection, as
	// phones and webmail do.
	Persistent bool
	// Mix is how many times a cycle runs each operation (IMAPSelect, …),
	// in random order. Entries override DefaultIMAPMix; 0 leaves one out.
	Mix map[string]int
	// AppendSize is the size of APPENDed messages in bytes (default 10 KB).
	AppendSize int
	// Envelopes is how many of the newest messages fetch-envelope asks
	// for (default 5; 50 is a message list's page, as bench/jmap-vs-imap.sh
	// compares with JMAP).
	Envelopes int
	// Mailbox is the mailbox to work in (default "INBOX").
	Mailbox string
	// IdleReady, if set, is called by RunIMAPIdle when every client has
	// entered IDLE or failed to, as the hold begins, with the number in
	// IDLE: the moment to measure the server.
	IdleReady func(established int)
}

const defaultAppendSize = 10 << 10

func (o IMAPOptions) normalized() (IMAPOptions, error) {
	// LOGIN sends the password as it is: only over TLS.
	if !o.TLS && !o.StartTLS {
		return o, errors.New("loadgen: IMAP logs in only over TLS: set TLS or StartTLS")
	}
	mix := DefaultIMAPMix()
	for op, w := range o.Mix {
		if _, ok := mix[op]; !ok {
			return o, fmt.Errorf("loadgen: unknown IMAP operation %q (have %s)", op, strings.Join(imapOps, ", "))
		}
		if w < 0 {
			return o, fmt.Errorf("loadgen: negative weight %d for IMAP operation %q", w, op)
		}
		mix[op] = w
	}
	total := 0
	for _, w := range mix {
		total += w
	}
	if total == 0 {
		return o, errors.New("loadgen: IMAP mix has no operations")
	}
	o.Mix = mix
	if o.AppendSize <= 0 {
		o.AppendSize = defaultAppendSize
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.Envelopes <= 0 {
		o.Envelopes = 5
	}
	if strings.ContainsAny(o.Mailbox, "\r\n\x00") {
		return o, fmt.Errorf("loadgen: mailbox name %q", o.Mailbox)
	}
	return o, nil
}

// RunIMAP runs IMAP cycles: [connect, STARTTLS, LOGIN,] then every
// operation of the mix as often as its weight says, in random order (a
// SELECT first when the session has none), [then LOGOUT]. Everything
// received is checked: every command must end in a tagged OK; responses
// must parse (literals included, streamed in bounded memory); FETCH results
// must carry what was asked (UID and FLAGS, ENVELOPE and BODYSTRUCTURE, a
// BODY[] of RFC822.SIZE octets) and STORE's FLAGS, if sent, the change; an
// APPENDed message must come back from UID FETCH by its APPENDUID byte for
// byte; and the client keeps count of the messages the server announced
// (EXISTS, EXPUNGE) and checks SELECT, STATUS, UID FETCH 1:* and UID
// EXPUNGE against it. The counts are only checked when no two clients
// share a user (UserCount >= Clients): otherwise other sessions change the
// mailbox behind a client's back.
//
// Commands are reported as CONNECT, STARTTLS, LOGIN, SELECT, LIST, STATUS,
// FETCH FLAGS, FETCH ENVELOPE, FETCH BODY, STORE, SEARCH, APPEND, FETCH
// APPENDED (the check of an APPEND), STORE DELETED and EXPUNGE (the expunge
// operation), NOOP and LOGOUT; and NOOP FOR EXISTS, the NOOPs a client
// needs when the server did not announce an APPEND in its response (RFC
// 3501 6.3.11 says it SHOULD), before it can FETCH the message.
func RunIMAP(ctx context.Context, o IMAPOptions) (*Report, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	base, err := o.Options.normalized()
	if err != nil {
		return nil, err
	}
	exclusive := base.UserCount >= base.Clients
	return run(ctx, "imap", o.Options, func() driver { return newIMAPClient(&o, exclusive) })
}

// RunIMAPIdle measures what idle connections cost a server: each of
// o.Clients clients connects, logs in, SELECTs o.Mailbox and starts IDLE;
// when all have (or have failed to), o.IdleReady is called and the clients
// hold their connections for o.Duration, then send DONE and LOGOUT. Cycles
// in the report is the number of connections that reached IDLE; IDLE's
// latency is the time to the server's continuation request, DONE's the
// time to its tagged OK; a connection lost while idling is an error of
// DONE. o.Cycles is not used.
func RunIMAPIdle(ctx context.Context, o IMAPOptions) (*Report, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	if o.Duration <= 0 {
		return nil, errors.New("loadgen: RunIMAPIdle needs a Duration to hold the connections")
	}
	if o.Options, err = o.Options.normalized(); err != nil {
		return nil, err
	}
	tlsConf := clientTLSConfig(&o.Options)
	rec := newRecorder()
	start := time.Now()
	var established atomic.Int64
	var ready, wg sync.WaitGroup
	hold := make(chan struct{})
	var holdEnd time.Time // written before hold is closed
	for i := range o.Clients {
		c := &client{o: &o.Options, tls: tlsConf, rec: rec, users: o.usersOf(i), laddr: o.localAddr(i)}
		p := newIMAPClient(&o, false)
		ready.Add(1)
		wg.Go(func() {
			defer func() { rec.addBytes(c.bytes) }()
			ok := p.enterIdle(ctx, c, c.users[0])
			if ok {
				established.Add(1)
				rec.cycleDone()
			}
			ready.Done()
			if !ok {
				p.close()
				return
			}
			select {
			case <-hold:
				start := time.Now()
				err := p.holdIdle(ctx, holdEnd)
				if err == nil {
					start = time.Now()
					p.cn.put("DONE")
					err = p.command(nil)
				}
				c.record(ctx, "DONE", start, err)
			case <-ctx.Done():
			}
			p.logout(ctx, c)
		})
	}
	ready.Wait()
	if o.IdleReady != nil {
		o.IdleReady(int(established.Load()))
	}
	holdEnd = time.Now().Add(o.Duration)
	close(hold)
	wg.Wait()
	return rec.report("imap-idle", o.Clients, time.Since(start)), ctx.Err()
}

// imapMailbox is what a client knows of one user's mailbox, kept across
// sessions: a client's users are its own (see Options.UserCount), so
// nobody else changes their mailboxes.
type imapMailbox struct {
	uidValidity uint32
	exists      int // messages, as the server last said; -1 unknown
	// pending counts messages the client APPENDed that the server has not
	// announced yet: RFC 3501 6.3.11 says it SHOULD at once, with EXISTS
	// in the APPEND response, but a client must cope with later.
	pending  int
	appended []uint32 // UIDs appended and not yet expunged
}

// imapClient is one simulated IMAP client. Its buffers live across cycles.
type imapClient struct {
	o         *IMAPOptions
	exclusive bool // no other client uses its users: check the counts
	cn        conn
	rng       *rand.Rand
	boxes     map[string]*imapMailbox // by user

	// The session.
	open     bool // logged in
	selected bool
	st       *imapMailbox // the session's user's
	ctx      context.Context
	c        *client // for close's LOGOUT

	// The command in progress.
	tagN      int
	tag       []byte
	text      []byte // the current response, each literal replaced by its "{n}" marker
	selecting bool   // EXISTS is a new count, not an update
	sawExists bool
	expunged  int    // EXPUNGE responses
	bye       []byte // the text of a BYE, if one came
	expect    []byte // what a BODY[] literal must be, nil for no check
	litDone   bool   // a BODY[] literal of the current response was compared
	litErr    error  // and how it differed

	plan []string
	msg  []byte // the message to APPEND
}

func newIMAPClient(o *IMAPOptions, exclusive bool) *imapClient {
	return &imapClient{o: o, exclusive: exclusive, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		boxes: make(map[string]*imapMailbox)}
}

// errSkip: the operation needs messages and the mailbox has none.
var errSkip = errors.New("skipped")

func (p *imapClient) cycle(ctx context.Context, c *client, user string) {
	p.ctx, p.c = ctx, c
	if !p.open && !p.login(ctx, c, user) {
		return
	}
	for _, op := range p.planCycle() {
		if p.cn.broken || ctx.Err() != nil {
			break
		}
		if !p.selected && op != IMAPSelect {
			start := time.Now()
			err := p.selectBox()
			c.record(ctx, "SELECT", start, err)
			if err != nil {
				break
			}
		}
		p.step(ctx, c, op)
	}
	if !p.o.Persistent || p.cn.broken {
		p.logout(ctx, c)
	}
}

// planCycle lists the cycle's operations in random order, with a SELECT
// first if the session needs one and the mix has it.
func (p *imapClient) planCycle() []string {
	p.plan = p.plan[:0]
	for _, op := range imapOps {
		for range p.o.Mix[op] {
			p.plan = append(p.plan, op)
		}
	}
	p.rng.Shuffle(len(p.plan), func(i, j int) { p.plan[i], p.plan[j] = p.plan[j], p.plan[i] })
	if !p.selected {
		for i, op := range p.plan {
			if op == IMAPSelect {
				p.plan[0], p.plan[i] = p.plan[i], p.plan[0]
				break
			}
		}
	}
	return p.plan
}

func (p *imapClient) step(ctx context.Context, c *client, op string) {
	start := time.Now()
	var name string
	var err error
	switch op {
	case IMAPSelect:
		name, err = "SELECT", p.selectBox()
	case IMAPList:
		name, err = "LIST", p.list()
	case IMAPStatus:
		name, err = "STATUS", p.status()
	case IMAPFetchFlags:
		name, err = "FETCH FLAGS", p.fetchFlags()
	case IMAPFetchEnvelope:
		name, err = "FETCH ENVELOPE", p.fetchEnvelope()
	case IMAPFetchBody:
		name, err = "FETCH BODY", p.fetchBody()
	case IMAPStore:
		name, err = "STORE", p.store()
	case IMAPSearch:
		name, err = "SEARCH", p.search()
	case IMAPNoop:
		p.begin("NOOP")
		name, err = "NOOP", p.command(nil)
	case IMAPAppend:
		p.appendAndCheck(ctx, c)
		return
	case IMAPExpunge:
		p.expungeAppended(ctx, c)
		return
	}
	if err != errSkip {
		c.record(ctx, name, start, err)
	}
}

func (p *imapClient) close() {
	if p.open && p.c != nil {
		p.logout(p.ctx, p.c)
	}
	p.cn.close()
}

// login connects, upgrades with STARTTLS if asked to and logs in, reporting
// whether the session is open.
func (p *imapClient) login(ctx context.Context, c *client, user string) bool {
	p.bye = nil
	start := time.Now()
	err := p.cn.dial(ctx, c)
	if err == nil {
		err = p.greeting()
	}
	c.record(ctx, "CONNECT", start, err)
	if err != nil {
		p.cn.close()
		return false
	}
	if c.o.StartTLS {
		start = time.Now()
		p.begin("STARTTLS")
		err = p.command(nil)
		if err == nil {
			err = p.cn.startTLS(c.tls)
		}
		c.record(ctx, "STARTTLS", start, err)
		if err != nil {
			// Not a word more in the clear, least of all the password.
			p.cn.close()
			return false
		}
	}
	start = time.Now()
	p.begin("LOGIN ")
	p.quoted(user)
	p.cn.put(" ")
	p.quoted(c.o.Password)
	err = p.command(nil)
	c.record(ctx, "LOGIN", start, err)
	if err != nil {
		p.logout(ctx, c)
		return false
	}
	p.open, p.selected = true, false
	p.st = p.boxes[user]
	if p.st == nil {
		p.st = &imapMailbox{exists: -1}
		p.boxes[user] = p.st
	}
	return true
}

// greeting reads the server's greeting: OK (or PREAUTH) to go on.
func (p *imapClient) greeting() error {
	if err := p.read(); err != nil {
		return err
	}
	switch t := p.text; {
	case hasPrefixFold(t, "* OK"), hasPrefixFold(t, "* PREAUTH"):
		return nil
	case hasPrefixFold(t, "* BYE"):
		p.cn.broken = true
		return errors.New(capText(t))
	default:
		p.cn.broken = true
		return &connError{fmt.Errorf("malformed greeting %.80q", t)}
	}
}

// logout ends the session with LOGOUT (unless the connection is broken)
// and closes the connection.
func (p *imapClient) logout(ctx context.Context, c *client) {
	if !p.cn.broken && p.cn.nc != nil {
		start := time.Now()
		p.begin("LOGOUT")
		err := p.command(nil)
		if err == nil && p.bye == nil {
			err = errors.New("LOGOUT completed without BYE")
		}
		c.record(ctx, "LOGOUT", start, err)
	}
	p.cn.close()
	p.open, p.selected, p.st = false, false, nil
}

// enterIdle opens a session, SELECTs and starts IDLE, reporting success.
func (p *imapClient) enterIdle(ctx context.Context, c *client, user string) bool {
	p.ctx, p.c = ctx, c
	if !p.login(ctx, c, user) {
		return false
	}
	start := time.Now()
	err := p.selectBox()
	c.record(ctx, "SELECT", start, err)
	if err != nil {
		return false
	}
	start = time.Now()
	p.begin("IDLE")
	if err = p.cn.send(); err == nil {
		var cont bool
		cont, err = p.await(nil, true)
		if err == nil && !cont {
			err = errors.New("IDLE completed at once, without a continuation request")
		}
	}
	c.record(ctx, "IDLE", start, err)
	return err == nil
}

// holdIdle reads what the server sends during IDLE until the deadline
// (or until ctx ends, which is not an error).
func (p *imapClient) holdIdle(ctx context.Context, until time.Time) error {
	cn := &p.cn
	for {
		cn.raw.SetDeadline(until)
		if ctx.Err() != nil {
			return nil
		}
		if _, err := cn.r.Peek(1); err != nil {
			if ctxDone(ctx) || errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(until) {
				return nil
			}
			cn.broken = true
			if p.bye != nil {
				return &connError{fmt.Errorf("connection closed while idling after %q: %w", p.bye, err)}
			}
			return &connError{fmt.Errorf("connection lost while idling: %w", err)}
		}
		cn.arm()
		if err := p.read(); err != nil {
			return err
		}
		if !hasPrefixFold(p.text, "* ") {
			cn.broken = true
			return &connError{fmt.Errorf("unexpected response during IDLE: %.80q", p.text)}
		}
		if err := p.untagged(p.text[2:], nil); err != nil {
			return err
		}
		if p.bye != nil {
			return fmt.Errorf("server ended IDLE: %s", p.bye)
		}
	}
}

// selectBox SELECTs the mailbox and checks its size against what the client
// was told before.
func (p *imapClient) selectBox() error {
	st := p.st
	want := st.exists + st.pending
	p.begin("SELECT ")
	p.quoted(p.o.Mailbox)
	var validity int64
	p.selecting = true
	err := p.command(func(t []byte) error {
		if n, ok := respCode(t, "UIDVALIDITY"); ok {
			validity = n
		}
		return nil
	})
	p.selecting = false
	p.selected = err == nil
	switch {
	case err != nil:
		return err
	case !p.sawExists:
		return errors.New("no EXISTS in the SELECT response")
	case validity <= 0 || validity > math.MaxUint32:
		return errors.New("no valid UIDVALIDITY in the SELECT response")
	}
	if st.uidValidity != 0 && st.uidValidity != uint32(validity) {
		old := st.uidValidity
		st.uidValidity, st.appended = uint32(validity), st.appended[:0]
		return fmt.Errorf("UIDVALIDITY changed from %d to %d", old, validity)
	}
	st.uidValidity = uint32(validity)
	st.pending = 0
	if p.exclusive && st.uidValidity != 0 && want >= 0 && st.exists != want {
		return fmt.Errorf("SELECT says %d messages, the client was told %d", st.exists, want)
	}
	return nil
}

func (p *imapClient) list() error {
	p.begin(`LIST "" "*"`)
	found := false
	err := p.command(func(t []byte) error {
		if !hasPrefixFold(t, "LIST ") {
			return nil
		}
		name, ok := listName(t[len("LIST "):])
		if !ok {
			return fmt.Errorf("malformed LIST response %.80q", t)
		}
		if string(name) == p.o.Mailbox || strings.EqualFold(p.o.Mailbox, "INBOX") && bytes.EqualFold(name, []byte("INBOX")) {
			found = true
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("LIST does not show %q", p.o.Mailbox)
	}
	return err
}

func (p *imapClient) status() error {
	p.begin("STATUS ")
	p.quoted(p.o.Mailbox)
	p.cn.put(" (MESSAGES UIDNEXT UNSEEN)")
	messages := int64(-1)
	err := p.command(func(t []byte) error {
		if !hasPrefixFold(t, "STATUS ") {
			return nil
		}
		i := bytes.LastIndexByte(t, '(')
		if i < 0 || t[len(t)-1] != ')' {
			return fmt.Errorf("malformed STATUS response %.80q", t)
		}
		for a := t[i+1 : len(t)-1]; len(a) > 0; {
			j := bytes.IndexByte(a, ' ')
			if j < 0 {
				return fmt.Errorf("malformed STATUS response %.80q", t)
			}
			n, rest, ok := parseNumber(a[j:])
			if !ok {
				return fmt.Errorf("malformed STATUS response %.80q", t)
			}
			if bytes.EqualFold(a[:j], []byte("MESSAGES")) {
				messages = n
			}
			a = bytes.TrimLeft(rest, " ")
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case messages < 0:
		return errors.New("STATUS response without MESSAGES")
	case p.exclusive && int(messages) != p.st.exists+p.st.pending:
		return fmt.Errorf("STATUS says %d messages, the client was told %d and appended %d more", messages, p.st.exists, p.st.pending)
	}
	return nil
}

func (p *imapClient) fetchFlags() error {
	p.begin("UID FETCH 1:* (FLAGS)")
	n := 0
	err := p.command(func(t []byte) error {
		f, ok, err := parseFetch(t)
		if !ok || err != nil {
			return err
		}
		if f.uid == 0 && !p.exclusive {
			return nil // another session's flag change
		}
		n++
		if f.uid == 0 || f.flags == nil {
			return fmt.Errorf("UID FETCH 1:* (FLAGS): message %d without UID or FLAGS", f.seq)
		}
		return p.checkSeq(f.seq)
	})
	if err == nil && p.exclusive && n != p.st.exists {
		err = fmt.Errorf("UID FETCH 1:* returned %d messages, the client was told %d", n, p.st.exists)
	}
	return err
}

func (p *imapClient) fetchEnvelope() error {
	n := p.st.exists
	if n <= 0 {
		return errSkip
	}
	lo := max(1, n-p.o.Envelopes+1)
	p.begin("FETCH ")
	p.cn.putInt(lo)
	p.cn.put(":")
	p.cn.putInt(n)
	p.cn.put(" (UID ENVELOPE BODYSTRUCTURE)")
	got := 0
	err := p.command(func(t []byte) error {
		f, ok, err := parseFetch(t)
		if !ok || err != nil || f.seq < lo || f.seq > n {
			return err
		}
		if !f.envelope && !f.bodystructure && !p.exclusive {
			return nil // another session's flag change
		}
		if !f.envelope || !f.bodystructure {
			return fmt.Errorf("message %d without ENVELOPE or BODYSTRUCTURE", f.seq)
		}
		got++
		return nil
	})
	if err == nil && p.exclusive && got != n-lo+1 {
		err = fmt.Errorf("FETCH %d:%d returned %d messages", lo, n, got)
	}
	return err
}

func (p *imapClient) fetchBody() error {
	if p.st.exists <= 0 {
		return errSkip
	}
	k := 1 + p.rng.IntN(p.st.exists)
	p.begin("FETCH ")
	p.cn.putInt(k)
	p.cn.put(" (UID RFC822.SIZE BODY.PEEK[])")
	got := 0
	err := p.command(func(t []byte) error {
		f, ok, err := parseFetch(t)
		if !ok || err != nil || f.seq != k {
			return err
		}
		if f.size < 0 && f.body < 0 && !p.exclusive {
			return nil // another session's flag change
		}
		got++
		switch {
		case f.size < 0 || f.body < 0:
			return fmt.Errorf("message %d without RFC822.SIZE or BODY[]", k)
		case f.size != f.body:
			return fmt.Errorf("message %d: BODY[] has %d octets, RFC822.SIZE says %d", k, f.body, f.size)
		}
		return nil
	})
	if err == nil && p.exclusive && got != 1 {
		err = fmt.Errorf("FETCH %d returned %d messages", k, got)
	}
	return err
}

func (p *imapClient) store() error {
	if p.st.exists <= 0 {
		return errSkip
	}
	k := 1 + p.rng.IntN(p.st.exists)
	flag := `\Seen`
	if p.rng.IntN(2) == 0 {
		flag = `\Flagged`
	}
	add := p.rng.IntN(2) == 0
	op := "-FLAGS ("
	if add {
		op = "+FLAGS ("
	}
	p.begin("STORE ")
	p.cn.putInt(k)
	p.cn.put(" ")
	p.cn.put(op)
	p.cn.put(flag)
	p.cn.put(")")
	// The FETCH of the new FLAGS is "normally" sent (RFC 3501 6.4.6), but
	// Dovecot leaves it out if nothing changed: check it when it comes.
	return p.command(func(t []byte) error {
		f, ok, err := parseFetch(t)
		if !ok || err != nil || f.seq != k || f.flags == nil {
			return err
		}
		// Another session sharing the user may change the flag too.
		if p.exclusive && hasFlag(f.flags, flag) != add {
			return fmt.Errorf("after STORE %d %s%s), FLAGS %s", k, op, flag, f.flags)
		}
		return nil
	})
}

func (p *imapClient) search() error {
	p.begin("SEARCH UNSEEN")
	got := 0
	err := p.command(func(t []byte) error {
		if !hasPrefixFold(t, "SEARCH") || len(t) > 6 && t[6] != ' ' {
			return nil
		}
		got++
		for rest := t[6:]; len(rest) > 0; {
			n, r, ok := parseNumber(rest)
			if !ok || len(r) > 0 && r[0] != ' ' {
				return fmt.Errorf("malformed SEARCH response %.80q", t)
			}
			if err := p.checkSeq(int(n)); err != nil {
				return err
			}
			rest = r
		}
		return nil
	})
	if err == nil && got != 1 {
		err = fmt.Errorf("%d SEARCH responses", got)
	}
	return err
}

// appendAndCheck APPENDs a new message and fetches it back by its APPENDUID
// to compare.
func (p *imapClient) appendAndCheck(ctx context.Context, c *client) {
	p.makeMessage()
	start := time.Now()
	st := p.st
	st.pending++ // before the EXISTS that may come with the response
	uid, err := p.append()
	c.record(ctx, "APPEND", start, err)
	if err != nil {
		if uid == 0 && st.pending > 0 {
			st.pending--
		}
		return
	}
	st.appended = append(st.appended, uid)
	// A message the client was not told of cannot be FETCHed (RFC 9051
	// 7.4.1): NOOP until it is. The NOOPs are counted apart, so that a
	// server slow to announce its own APPENDs shows. Sharing the mailbox
	// with other clients, a client cannot tell which EXISTS announced its
	// message: it FETCHes, and NOOPs and FETCHes again if that found
	// nothing.
	waitStart := time.Now()
	for tries := 0; !p.cn.broken; tries++ {
		if st.pending > 0 && p.exclusive || tries > 0 && !p.exclusive {
			if tries > 0 {
				time.Sleep(time.Millisecond)
			}
			start = time.Now()
			p.begin("NOOP")
			err := p.command(nil)
			if err == nil && time.Since(waitStart) > c.o.Timeout {
				err = fmt.Errorf("UID %d APPENDed, but not announced after %d NOOPs", uid, tries+1)
			}
			c.record(ctx, "NOOP FOR EXISTS", start, err)
			if err != nil {
				return
			}
			if p.exclusive {
				continue
			}
		}
		start = time.Now()
		got, err := p.fetchAppended(uid)
		if err == nil && got == 0 && !p.exclusive {
			c.record(ctx, "FETCH APPENDED", start, nil)
			continue
		}
		if err == nil && got != 1 {
			err = fmt.Errorf("UID FETCH %d returned %d messages", uid, got)
		}
		c.record(ctx, "FETCH APPENDED", start, err)
		return
	}
}

// fetchAppended fetches the message just appended by its UID, comparing it
// with what was sent, and returns how many FETCH responses had it.
func (p *imapClient) fetchAppended(uid uint32) (int, error) {
	p.begin("UID FETCH ")
	p.cn.putInt(int(uid))
	p.cn.put(" (BODY.PEEK[])")
	p.expect = p.msg
	got := 0
	err := p.command(func(t []byte) error {
		f, ok, err := parseFetch(t)
		if !ok || err != nil || f.uid != uid || f.body < 0 {
			return err // not the message, or an unsolicited FETCH of its FLAGS
		}
		got++
		if !p.litDone {
			return fmt.Errorf("UID %d: BODY[] is not a literal", uid)
		}
		if p.litErr != nil {
			return fmt.Errorf("UID %d: %w", uid, p.litErr)
		}
		return p.checkSeq(f.seq)
	})
	p.expect = nil
	return got, err
}

// append sends p.msg with APPEND and returns its APPENDUID (RFC 4315).
func (p *imapClient) append() (uint32, error) {
	p.begin("APPEND ")
	p.quoted(p.o.Mailbox)
	p.cn.put(" {")
	p.cn.putInt(len(p.msg))
	p.cn.put("}")
	if err := p.cn.send(); err != nil {
		return 0, err
	}
	cont, err := p.await(nil, true)
	if err != nil {
		return 0, err
	}
	if !cont {
		p.cn.broken = true
		return 0, &connError{errors.New("APPEND completed before the message was sent")}
	}
	p.cn.w.Write(p.msg)
	if err := p.cn.send(); err != nil {
		return 0, err
	}
	if _, err := p.await(nil, false); err != nil {
		return 0, err
	}
	resp := p.text[len(p.tag)+1:]
	if !hasPrefixFold(resp, "OK [APPENDUID ") {
		return 0, fmt.Errorf("no APPENDUID in %.80q", resp)
	}
	validity, rest, ok := parseNumber(resp[len("OK [APPENDUID "):])
	uid, rest, ok2 := parseNumber(rest)
	switch {
	case !ok || !ok2 || len(rest) == 0 || rest[0] != ']' || uid <= 0 || uid > math.MaxUint32:
		return 0, fmt.Errorf("malformed APPENDUID in %.80q", resp)
	case p.st.uidValidity != 0 && validity != int64(p.st.uidValidity):
		return uint32(uid), fmt.Errorf("APPENDUID has UIDVALIDITY %d, SELECT said %d", validity, p.st.uidValidity)
	}
	return uint32(uid), nil
}

// expungeAppended marks what the client appended \Deleted and expunges it.
func (p *imapClient) expungeAppended(ctx context.Context, c *client) {
	set := p.st.appended
	if len(set) == 0 {
		return
	}
	start := time.Now()
	p.begin("UID STORE ")
	p.putUIDs(set)
	p.cn.put(` +FLAGS.SILENT (\Deleted)`)
	err := p.command(nil)
	c.record(ctx, "STORE DELETED", start, err)
	if err != nil {
		return
	}
	start = time.Now()
	p.begin("UID EXPUNGE ")
	p.putUIDs(set)
	err = p.command(nil)
	if err == nil && p.exclusive && p.expunged != len(set) {
		err = fmt.Errorf("UID EXPUNGE of %d messages: %d EXPUNGE responses", len(set), p.expunged)
	}
	if err == nil || !isConnError(err) {
		p.st.appended = p.st.appended[:0]
	}
	c.record(ctx, "EXPUNGE", start, err)
}

func (p *imapClient) putUIDs(set []uint32) {
	for i, u := range set {
		if i > 0 {
			p.cn.put(",")
		}
		p.cn.putInt(int(u))
	}
}

// makeMessage writes a new message of about AppendSize bytes (exactly, if
// that is more than its header) to p.msg: 78-octet lines of varied text,
// different in every message, so that a server mixing up messages is caught.
func (p *imapClient) makeMessage() {
	id := p.rng.Uint64()
	m := append(p.msg[:0], "From: Mailroom loadgen <loadgen@example.test>\r\nTo: <loadgen@example.test>\r\nSubject: loadgen "...)
	m = strconv.AppendUint(m, id, 16)
	m = append(m, "\r\nDate: "...)
	m = time.Now().AppendFormat(m, time.RFC1123Z)
	m = append(m, "\r\nMessage-ID: <"...)
	m = strconv.AppendUint(m, id, 16)
	m = append(m, "@loadgen.example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"...)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	size := max(p.o.AppendSize, len(m)+2)
	for seed := id; len(m) < size; seed = seed*6364136223846793005 + 1442695040888963407 {
		rest := size - len(m)
		line := min(rest, 78)
		if rest-line == 1 {
			line-- // no single octet left over: every line ends in CRLF
		}
		off := seed >> 40
		for k := range line - 2 {
			m = append(m, alphabet[(off+uint64(k))%uint64(len(alphabet))])
		}
		m = append(m, '\r', '\n')
	}
	p.msg = m
}

// checkSeq checks that a message sequence number in a response is one the
// client was told of.
func (p *imapClient) checkSeq(seq int) error {
	if seq < 1 || seq > p.st.exists {
		return fmt.Errorf("message %d does not exist: the client was told of %d", seq, p.st.exists)
	}
	return nil
}

// begin starts a command: a new tag, then s.
func (p *imapClient) begin(s string) {
	p.tagN++
	p.tag = strconv.AppendInt(append(p.tag[:0], 'A'), int64(p.tagN), 10)
	p.cn.w.Write(p.tag)
	p.cn.put(" ")
	p.cn.put(s)
	p.sawExists, p.expunged, p.bye = false, 0, nil
}

// quoted writes s as a quoted string.
func (p *imapClient) quoted(s string) {
	w := p.cn.w
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			w.WriteByte('\\')
		}
		w.WriteByte(s[i])
	}
	w.WriteByte('"')
}

// command sends the command begun and waits for its completion; see await.
// Sharing the mailbox, a FETCH or STORE by sequence number may meet a
// message another session expunged: NO [EXPUNGEISSUED] (RFC 9051 7.1) is
// then no error.
func (p *imapClient) command(h func(t []byte) error) error {
	if err := p.cn.send(); err != nil {
		return err
	}
	_, err := p.await(h, false)
	if err != nil && !p.exclusive && !isConnError(err) && strings.HasPrefix(err.Error(), "NO [EXPUNGEISSUED]") {
		return nil
	}
	return err
}

// await reads responses up to the command's tagged response, handing each
// untagged one (without its "* ") to p.untagged and then h. If cont, a
// continuation request ends the wait too, and cont is returned true. The
// error is nil for a tagged OK with every check passed; a plain error for
// a NO, a BAD or a failed check (the session goes on); a connError if the
// session cannot go on.
func (p *imapClient) await(h func(t []byte) error, cont bool) (bool, error) {
	var bad error
	for {
		if err := p.read(); err != nil {
			return false, err
		}
		t := p.text
		switch {
		case len(t) >= 2 && t[0] == '*' && t[1] == ' ':
			if err := p.untagged(t[2:], h); err != nil && bad == nil {
				bad = err
			}
			continue
		case cont && len(t) >= 1 && t[0] == '+':
			return true, bad
		case len(t) > len(p.tag) && bytes.HasPrefix(t, p.tag) && t[len(p.tag)] == ' ':
			resp := t[len(p.tag)+1:]
			switch {
			case isStatus(resp, "OK"):
				return false, bad
			case isStatus(resp, "NO"), isStatus(resp, "BAD"):
				return false, errors.New(capText(resp))
			}
		}
		p.cn.broken = true
		return false, &connError{fmt.Errorf("unexpected response %.80q", t)}
	}
}

// untagged does the bookkeeping every untagged response needs, then hands
// the others to h.
func (p *imapClient) untagged(t []byte, h func(t []byte) error) error {
	if n, rest, ok := parseNumber(t); ok && len(rest) > 0 && rest[0] == ' ' && p.st != nil {
		switch kw := rest[1:]; {
		case bytes.EqualFold(kw, []byte("EXISTS")):
			return p.exists(int(n))
		case bytes.EqualFold(kw, []byte("EXPUNGE")):
			p.expunged++
			if n < 1 || int(n) > p.st.exists {
				return fmt.Errorf("EXPUNGE of message %d: the client was told of %d", n, p.st.exists)
			}
			p.st.exists--
			return nil
		case bytes.EqualFold(kw, []byte("RECENT")):
			return nil
		}
	}
	if hasPrefixFold(t, "BYE") {
		p.bye = append(p.bye[:0], capText(t)...)
		return nil
	}
	if h != nil {
		return h(t)
	}
	return nil
}

// exists takes note of an EXISTS response.
func (p *imapClient) exists(n int) error {
	st := p.st
	old, known := st.exists, st.exists+st.pending
	st.exists, p.sawExists = n, true
	switch {
	case p.selecting:
		return nil
	case n < old:
		return fmt.Errorf("EXISTS went down from %d to %d without EXPUNGE", old, n)
	case n <= known:
		st.pending = known - n
	default:
		st.pending = 0
		if p.exclusive {
			return fmt.Errorf("EXISTS says %d messages, the client knows of %d", n, known)
		}
	}
	return nil
}

// maxResponse bounds a response's text (literals not included: those are
// streamed). The longest a load client sees are SEARCH results.
const maxResponse = 1 << 20

// read reads one response into p.text, each literal replaced by its "{n}"
// marker; a literal that is the BODY[] of a FETCH is compared with
// p.expect, if set, as it streams by (p.litDone, p.litErr).
func (p *imapClient) read() error {
	cn := &p.cn
	p.text = p.text[:0]
	p.litDone, p.litErr = false, nil
	for {
		piece, err := cn.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			cn.broken = true
			if p.bye != nil {
				return &connError{fmt.Errorf("connection closed after %q: %w", p.bye, err)}
			}
			return &connError{fmt.Errorf("reading response: %w", err)}
		}
		if len(p.text)+len(piece) > maxResponse {
			cn.broken = true
			return &connError{fmt.Errorf("response longer than %d bytes", maxResponse)}
		}
		p.text = append(p.text, piece...)
		if err != nil {
			continue // a long line: read on
		}
		p.text = p.text[:len(p.text)-1]
		if n := len(p.text); n > 0 && p.text[n-1] == '\r' {
			p.text = p.text[:n-1]
		}
		n, ok := literalAtEnd(p.text)
		if !ok {
			return nil
		}
		if err := p.literal(n); err != nil {
			return err
		}
	}
}

// literal consumes a literal of n octets in pieces of at most the read
// buffer, comparing it with p.expect if it is a BODY[].
func (p *imapClient) literal(n int64) error {
	compare := p.expect != nil && isBodyLiteral(p.text)
	var off int64
	for off < n {
		b, err := p.cn.r.Peek(int(min(n-off, readBufSize)))
		if compare && p.litErr == nil {
			want := p.expect[min(off, int64(len(p.expect))):]
			if i := mismatch(b, want); i >= 0 {
				p.litErr = fmt.Errorf("fetched message differs from the appended one at octet %d", off+int64(i))
			}
		}
		p.cn.r.Discard(len(b))
		off += int64(len(b))
		if err != nil {
			p.cn.broken = true
			return &connError{fmt.Errorf("literal cut short after %d of %d octets: %w", off, n, err)}
		}
	}
	if compare {
		p.litDone = true
		if p.litErr == nil && n != int64(len(p.expect)) {
			p.litErr = fmt.Errorf("fetched message has %d octets, the appended one %d", n, len(p.expect))
		}
	}
	return nil
}

// mismatch returns the index of the first octet where got differs from
// want (or runs past its end), -1 if none.
func mismatch(got, want []byte) int {
	if len(got) <= len(want) && bytes.Equal(got, want[:len(got)]) {
		return -1
	}
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}

// literalAtEnd reports whether a response line ends with a literal's
// "{n}" (or non-synchronizing "{n+}"), and n.
func literalAtEnd(t []byte) (int64, bool) {
	if len(t) < 3 || t[len(t)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(t, '{')
	if i < 0 {
		return 0, false
	}
	digits := bytes.TrimSuffix(t[i+1:len(t)-1], []byte("+"))
	n, rest, ok := parseNumber(digits)
	if !ok || len(rest) > 0 || digits[0] == ' ' {
		return 0, false
	}
	return n, true
}

// isBodyLiteral reports whether the literal whose "{n}" ends t is the value
// of a FETCH's BODY[].
func isBodyLiteral(t []byte) bool {
	i := bytes.LastIndexByte(t, '{')
	return i >= 7 && bytes.EqualFold(t[i-7:i], []byte("BODY[] "))
}

// fetchData is what a FETCH response says. Slices point into the response.
type fetchData struct {
	seq                     int
	uid                     uint32
	flags                   []byte // the FLAGS list with its parentheses, nil if absent
	size, body              int64  // RFC822.SIZE and the octets of BODY[]; -1 if absent
	envelope, bodystructure bool
}

// parseFetch parses an untagged response (without "* "): ok is false if it
// is no FETCH, err is set if it is a malformed one.
func parseFetch(t []byte) (f fetchData, ok bool, err error) {
	n, rest, isNum := parseNumber(t)
	if !isNum || !hasPrefixFold(rest, " FETCH (") {
		return f, false, nil
	}
	f.seq, f.size, f.body = int(n), -1, -1
	bad := func() (fetchData, bool, error) { return f, true, fmt.Errorf("malformed FETCH response %.120q", t) }
	b := rest[len(" FETCH ("):]
	for i := 0; ; {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			return bad()
		}
		if b[i] == ')' {
			if i+1 != len(b) {
				return bad()
			}
			return f, true, nil
		}
		j := itemEnd(b, i)
		name := b[i:j]
		if j >= len(b) || b[j] != ' ' {
			return bad()
		}
		k, ok := valueEnd(b, j+1)
		if !ok {
			return bad()
		}
		val := b[j+1 : k]
		switch {
		case bytes.EqualFold(name, []byte("UID")):
			u, r, ok := parseNumber(val)
			if !ok || len(r) > 0 || u <= 0 || u > math.MaxUint32 {
				return bad()
			}
			f.uid = uint32(u)
		case bytes.EqualFold(name, []byte("FLAGS")):
			if val[0] != '(' {
				return bad()
			}
			f.flags = val
		case bytes.EqualFold(name, []byte("RFC822.SIZE")):
			s, r, ok := parseNumber(val)
			if !ok || len(r) > 0 {
				return bad()
			}
			f.size = s
		case bytes.EqualFold(name, []byte("ENVELOPE")):
			f.envelope = val[0] == '('
		case bytes.EqualFold(name, []byte("BODYSTRUCTURE")):
			f.bodystructure = val[0] == '('
		case bytes.EqualFold(name, []byte("BODY[]")):
			switch val[0] {
			case '{':
				f.body, _ = literalAtEnd(val)
			case '"':
				f.body = int64(len(val) - 2 - escapes(val))
			}
		}
		i = k
	}
}

// escapes counts the backslash escapes in a quoted string.
func escapes(q []byte) int {
	n := 0
	for i := 1; i < len(q)-1; i++ {
		if q[i] == '\\' {
			n++
			i++
		}
	}
	return n
}

// itemEnd returns the end of the FETCH item name starting at b[i], such as
// UID or BODY[HEADER.FIELDS (SUBJECT)]<0>: up to a space outside brackets.
func itemEnd(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ' ':
			if depth <= 0 {
				return i
			}
		}
	}
	return i
}

// valueEnd returns the end of the value starting at b[i]: a quoted string,
// a literal's "{n}" marker, a parenthesized list or an atom (NIL, numbers).
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return i, false
	case '(':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k, ok := valueEnd(b, j)
				if !ok {
					return i, false
				}
				j = k - 1
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return i, false
	default:
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != ')' && b[j] != '(' {
			j++
		}
		return j, j > i
	}
}

// listName returns the mailbox name of a LIST response (after "LIST ");
// ok is false if it is malformed. A name sent as a literal comes back as
// its "{n}" marker.
func listName(t []byte) ([]byte, bool) {
	i, ok := valueEnd(t, 0) // attributes
	if !ok || i >= len(t) || t[i] != ' ' {
		return nil, false
	}
	if i, ok = valueEnd(t, i+1); !ok || i >= len(t) || t[i] != ' ' { // delimiter
		return nil, false
	}
	j, ok := valueEnd(t, i+1)
	if !ok {
		return nil, false
	}
	name := t[i+1 : j]
	if len(name) >= 2 && name[0] == '"' {
		name = name[1 : len(name)-1]
	}
	return name, true
}

// respCode parses an untagged "OK [CODE n]" response.
func respCode(t []byte, code string) (int64, bool) {
	if !hasPrefixFold(t, "OK [") || !hasPrefixFold(t[4:], code) {
		return 0, false
	}
	n, rest, ok := parseNumber(t[4+len(code):])
	return n, ok && len(rest) > 0 && rest[0] == ']'
}

// hasFlag reports whether a parenthesized flag list holds flag.
func hasFlag(list []byte, flag string) bool {
	for f := range bytes.FieldsSeq(bytes.Trim(list, "()")) {
		if bytes.EqualFold(f, []byte(flag)) {
			return true
		}
	}
	return false
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// isStatus reports whether a tagged response's text is the status word.
func isStatus(resp []byte, word string) bool {
	return hasPrefixFold(resp, word) && (len(resp) == len(word) || resp[len(word)] == ' ')
}

// capText bounds the text of a server's response quoted in an error.
func capText(t []byte) string {
	return string(t[:min(len(t), 200)])
}
