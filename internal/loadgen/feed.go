package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Feed latency: how soon an IMAP client in IDLE on one node hears of a
// message another node accepted. RunFeed keeps one IDLE session on the
// IMAP server (node A), delivers one message at a time over SMTP to the
// other (node B), and times, for each, the untagged EXISTS that announces
// it on A against two moments on B's side:
//
//   - the end of DATA (the final dot sent): B commits after it, so "dot →
//     EXISTS" is an upper bound of commit → EXISTS (it includes B's
//     storing and committing the message);
//   - B's 250 reply: B sends it after the commit, so "250 → EXISTS" is a
//     lower bound (an EXISTS that comes before the 250 counts as 0).
//
// The true commit → EXISTS lies between the two. One delivery at a time
// measures the feed, not a queue of work behind it.

// FeedOptions configure RunFeed.
type FeedOptions struct {
	IMAPAddr string // node A: IMAP, plaintext (LOGIN) unless IMAPTLS
	IMAPTLS  bool   // implicit TLS to IMAPAddr
	SMTPAddr string // node B: SMTP
	// Auth authenticates the SMTP session (AUTH PLAIN as User), for a
	// submission port; without it the message arrives as from another
	// server (port 25) and B runs its sender checks before the commit.
	Auth         bool
	SMTPStartTLS bool // STARTTLS before AUTH (a server that allows AUTH only under TLS)
	Insecure     bool // skip certificate verification
	User         string
	Password     string
	Count        int           // deliveries (default 1000)
	Size         int           // body bytes (default 1024)
	Gap          time.Duration // pause between one EXISTS and the next delivery
	Timeout      time.Duration // how long to wait for each EXISTS (default 10s)
}

// FeedReport is what RunFeed measured.
type FeedReport struct {
	Count   int           `json:"count"`  // deliveries made
	Missed  int           `json:"missed"` // EXISTS not seen within Timeout
	Early   int           `json:"early"`  // EXISTS before the 250
	Elapsed time.Duration `json:"elapsed_ns"`
	// AfterDot: end of DATA → EXISTS (upper bound of commit → EXISTS).
	AfterDot Latency `json:"after_dot"`
	// AfterReply: 250 → EXISTS (lower bound).
	AfterReply Latency `json:"after_reply"`
}

// Latency summarises a latency distribution.
type Latency struct {
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func latencyOf(h *histogram) Latency {
	return Latency{P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99), Max: h.max}
}

// WriteText writes the report for people.
func (r *FeedReport) WriteText(w io.Writer) error {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	_, err := fmt.Fprintf(w, "feed: %d deliveries in %.1fs, %d EXISTS missed, %d EXISTS before the 250\n"+
		"end of DATA -> EXISTS (upper bound of commit -> EXISTS): p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n"+
		"250 -> EXISTS (lower bound):                             p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n",
		r.Count, r.Elapsed.Seconds(), r.Missed, r.Early,
		ms(r.AfterDot.P50), ms(r.AfterDot.P90), ms(r.AfterDot.P99), ms(r.AfterDot.Max),
		ms(r.AfterReply.P50), ms(r.AfterReply.P90), ms(r.AfterReply.P99), ms(r.AfterReply.Max))
	return err
}

// WriteJSON writes the report as one JSON object.
func (r *FeedReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// existsAt is an untagged EXISTS and when it arrived.
type existsAt struct {
	n  int
	at time.Time
}

// RunFeed measures the feed latency (see the top of this file). A run
// that stops early (an SMTP or IMAP failure) returns the report so far
// and the error.
func RunFeed(ctx context.Context, o FeedOptions) (*FeedReport, error) {
	if o.IMAPAddr == "" || o.SMTPAddr == "" || o.User == "" {
		return nil, errors.New("loadgen: feed needs the IMAP address, the SMTP address and a user")
	}
	if o.Count <= 0 {
		o.Count = 1000
	}
	if o.Size <= 0 {
		o.Size = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	tlsConf := &tls.Config{InsecureSkipVerify: o.Insecure} // Insecure: a flag the user sets for test servers
	idle, base, err := idleOn(ctx, o, tlsConf)
	if err != nil {
		return nil, err
	}
	defer idle.Close()
	seen := make(chan existsAt, 1024)
	readErr := make(chan error, 1)
	go readExists(idle, seen, readErr)

	sc, err := smtpSession(ctx, o, tlsConf)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	body := strings.Repeat(strings.Repeat("x", 70)+"\r\n", max(1, o.Size/72))
	rep := &FeedReport{}
	dot, reply := &histogram{}, &histogram{}
	began := time.Now()
	defer func() {
		rep.Elapsed = time.Since(began)
		rep.AfterDot, rep.AfterReply = latencyOf(dot), latencyOf(reply)
	}()
	want := base
	for i := range o.Count {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: feed latency %d\r\nMessage-ID: <feed-%d-%d@loadgen>\r\n\r\n%s",
			o.User, o.User, i, began.UnixNano(), i, body)
		if err := sc.Mail(o.User, nil); err != nil {
			return rep, fmt.Errorf("MAIL: %w", err)
		}
		if err := sc.Rcpt(o.User, nil); err != nil {
			return rep, fmt.Errorf("RCPT: %w", err)
		}
		w, err := sc.Data()
		if err != nil {
			return rep, fmt.Errorf("DATA: %w", err)
		}
		if _, err := io.WriteString(w, msg); err != nil {
			return rep, fmt.Errorf("DATA: %w", err)
		}
		tDot := time.Now()
		if err := w.Close(); err != nil {
			return rep, fmt.Errorf("end of DATA: %w", err)
		}
		t250 := time.Now()
		rep.Count++
		want++
		deadline := time.NewTimer(o.Timeout)
	wait:
		for {
			select {
			case e := <-seen:
				if e.n < want {
					continue // an earlier message's, or a repeat
				}
				dot.add(e.at.Sub(tDot))
				if d := e.at.Sub(t250); d < 0 {
					rep.Early++
					reply.add(0)
				} else {
					reply.add(d)
				}
				want = e.n
				break wait
			case err := <-readErr:
				deadline.Stop()
				return rep, fmt.Errorf("IDLE session: %w", err)
			case <-deadline.C:
				rep.Missed++
				break wait
			case <-ctx.Done():
				deadline.Stop()
				return rep, ctx.Err()
			}
		}
		deadline.Stop()
		if o.Gap > 0 {
			time.Sleep(o.Gap)
		}
	}
	return rep, nil
}

// idleOn logs in on the IMAP server, selects INBOX and enters IDLE. It
// returns the connection and the number of messages at SELECT.
func idleOn(ctx context.Context, o FeedOptions, tlsConf *tls.Config) (net.Conn, int, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	var c net.Conn
	var err error
	if o.IMAPTLS {
		c, err = (&tls.Dialer{NetDialer: &d, Config: tlsConf}).DialContext(ctx, "tcp", o.IMAPAddr)
	} else {
		c, err = d.DialContext(ctx, "tcp", o.IMAPAddr)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("IMAP: %w", err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	exists := 0
	// cmd sends a command and reads to its tagged reply.
	cmd := func(tag, line string) error {
		if line != "" {
			if _, err := io.WriteString(c, tag+" "+line+"\r\n"); err != nil {
				return err
			}
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			l = strings.TrimRight(l, "\r\n")
			if n, ok := existsCount(l); ok {
				exists = n
			}
			if tag == "*" || strings.HasPrefix(l, tag+" ") {
				if tag != "*" && !strings.HasPrefix(l, tag+" OK") {
					return fmt.Errorf("%s", l)
				}
				return nil
			}
		}
	}
	if err := cmd("*", ""); err != nil { // the greeting
		c.Close()
		return nil, 0, fmt.Errorf("IMAP greeting: %w", err)
	}
	if err := cmd("l", "LOGIN "+quote(o.User)+" "+quote(o.Password)); err != nil {
		c.Close()
		return nil, 0, fmt.Errorf("IMAP LOGIN: %w", err)
	}
	if err := cmd("s", "SELECT INBOX"); err != nil {
		c.Close()
		return nil, 0, fmt.Errorf("IMAP SELECT: %w", err)
	}
	if _, err := io.WriteString(c, "i IDLE\r\n"); err != nil {
		c.Close()
		return nil, 0, err
	}
	l, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "+") {
		c.Close()
		return nil, 0, fmt.Errorf("IMAP IDLE: %q %v", l, err)
	}
	c.SetDeadline(time.Time{})
	return &bufferedConn{Conn: c, r: r}, exists, nil
}

// bufferedConn reads through the bufio.Reader that may hold data already.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// readExists timestamps every untagged EXISTS of the IDLE session.
func readExists(c net.Conn, seen chan<- existsAt, errs chan<- error) {
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			errs <- err
			return
		}
		if n, ok := existsCount(strings.TrimRight(l, "\r\n")); ok {
			seen <- existsAt{n: n, at: time.Now()}
		}
	}
}

// existsCount parses "* n EXISTS".
func existsCount(l string) (int, bool) {
	rest, ok := strings.CutPrefix(l, "* ")
	if !ok {
		return 0, false
	}
	num, word, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(word, "EXISTS") {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// smtpSession opens the SMTP session the messages go through, one after
// another.
func smtpSession(ctx context.Context, o FeedOptions, tlsConf *tls.Config) (*gosmtp.Client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", o.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("SMTP: %w", err)
	}
	var sc *gosmtp.Client
	if o.SMTPStartTLS {
		if sc, err = gosmtp.NewClientStartTLS(c, tlsConf); err != nil {
			c.Close()
			return nil, fmt.Errorf("SMTP STARTTLS: %w", err)
		}
	} else {
		sc = gosmtp.NewClient(c)
	}
	if err := sc.Hello("loadgen.feed"); err != nil {
		sc.Close()
		return nil, fmt.Errorf("SMTP EHLO: %w", err)
	}
	if o.Auth {
		if err := sc.Auth(sasl.NewPlainClient("", o.User, o.Password)); err != nil {
			sc.Close()
			return nil, fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	return sc, nil
}
