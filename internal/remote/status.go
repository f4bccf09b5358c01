package remote

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// failure is an outcome that is not a delivery, as it goes into Results.
type failure struct {
	perm     bool
	code     int    // SMTP reply code, 0 when no server said it
	enhanced string // RFC 3463 status
	text     string
}

func (f *failure) Error() string {
	s := f.enhanced + " " + f.text
	if f.code != 0 {
		s = fmt.Sprintf("%d %s", f.code, s)
	}
	return s
}

// localFailure is a failure found on our side: DNS, connections, local
// policy. There is no reply code.
func localFailure(perm bool, enhanced, format string, args ...any) *failure {
	return &failure{perm: perm, enhanced: enhanced, text: fmt.Sprintf(format, args...)}
}

// replyFailure is the failure a server's reply states.
func replyFailure(r *reply) *failure {
	return &failure{perm: r.code/100 == 5, code: r.code, enhanced: r.status(), text: r.text}
}

// temporary returns f as a temporary failure. When no server would take
// the message, the last refusal is reported; even a 5xx greeting from a
// backup MX must not bounce mail the primary will take once it is back,
// so the queue retries. The status class follows, since RFC 3464 wants a
// 4.x.x status on delayed mail; the reply code stays as the server gave it.
func (f *failure) temporary() *failure {
	if !f.perm {
		return f
	}
	g := *f
	g.perm = false
	if strings.HasPrefix(g.enhanced, "5.") {
		g.enhanced = "4." + g.enhanced[2:]
	}
	return &g
}

// delivery is the state of one Deliver call: a Result per recipient, and
// which of them are settled for this attempt.
type delivery struct {
	m    Message
	res  []Result
	done []bool
}

func newDelivery(m Message) *delivery {
	d := &delivery{m: m, res: make([]Result, len(m.Recipients)), done: make([]bool, len(m.Recipients))}
	for i, r := range m.Recipients {
		d.res[i].Rcpt = r.Addr
	}
	return d
}

// pending lists the recipients without an outcome yet.
func (d *delivery) pending() []int {
	var p []int
	for i, ok := range d.done {
		if !ok {
			p = append(p, i)
		}
	}
	return p
}

// settle records failure f for recipient i.
func (d *delivery) settle(i int, f *failure, host string, tls bool) {
	d.res[i] = Result{
		Rcpt:      d.m.Recipients[i].Addr,
		Permanent: f.perm,
		Code:      f.code,
		Enhanced:  f.enhanced,
		Text:      f.text,
		RemoteMTA: host,
		TLS:       tls,
	}
	d.done[i] = true
}

// delivered records that recipient i was delivered with reply r, by a
// server that did or did not take the DSN parameters.
func (d *delivery) delivered(i int, r *reply, host string, tls, dsn bool) {
	d.res[i] = Result{
		Rcpt:      d.m.Recipients[i].Addr,
		Delivered: true,
		Code:      r.code,
		Enhanced:  r.status(),
		Text:      r.text,
		RemoteMTA: host,
		TLS:       tls,
		DSN:       dsn,
	}
	d.done[i] = true
}

// settleAll records f for every recipient still pending.
func (d *delivery) settleAll(f *failure, host string, tls bool) {
	for _, i := range d.pending() {
		d.settle(i, f, host, tls)
	}
}

// checkEnvelope settles the recipients whose addresses could never be sent
// and reports whether any are left to deliver. A CR or LF in an address
// would let it inject commands.
func (d *delivery) checkEnvelope() bool {
	if d.m.Open == nil {
		d.settleAll(localFailure(false, "4.3.0", "no message content to send"), "", false)
		return false
	}
	if !validPath(d.m.From) {
		d.settleAll(localFailure(true, "5.1.7", "bad sender address syntax: %q", d.m.From), "", false)
		return false
	}
	for i, r := range d.m.Recipients {
		if r.Addr == "" || !validPath(r.Addr) {
			d.settle(i, localFailure(true, "5.1.3", "bad recipient address syntax: %q", r.Addr), "", false)
		}
	}
	return len(d.pending()) > 0
}

// validPath reports whether addr can go between angle brackets in a MAIL
// or RCPT command. Only control characters are refused: spaces and angle
// brackets are legal in a quoted local part, and the server judges the rest.
func validPath(addr string) bool {
	if !utf8.ValidString(addr) || len(addr) > 512 {
		return false
	}
	for _, r := range addr {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// isASCII reports whether s has only US-ASCII characters.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
