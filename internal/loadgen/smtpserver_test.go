package loadgen

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/imap"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
)

// smtpRig is a Mailroom with its MX (no AUTH), its submission listener
// (STARTTLS, then AUTH) and IMAP over implicit TLS on loopback, with a
// self-signed certificate: what the SMTP load delivers to, and where the
// delivered mail can be read back.
type smtpRig struct {
	*testrig.Rig
	mx, sub, imaps string
}

// startSMTPRig starts the server with users user1..users@example.test
// (password testrig.Password), their INBOXes empty.
func startSMTPRig(t *testing.T, users int) *smtpRig {
	t.Helper()
	r := testrig.Start(t, testrig.Factories{"smtp": smtp.Factory(smtp.Inbound), "submission": smtp.Factory(smtp.Submission), "imap": imap.Factory()},
		testrig.Listen("smtp", "submission", "imaps"),
		testrig.Config(func(c *config.Config) { c.Hostname = "mx.example.test" }))
	addUsers(r, users)
	return &smtpRig{Rig: r, mx: r.Addr("smtp"), sub: r.Addr("submission"), imaps: r.Addr("imaps")}
}

// Faults the test SMTP server can be told to commit.
type smtpFault int

const (
	smtpFaultNone      smtpFault = iota
	smtpFaultMail421             // answer MAIL with 421 and hang up
	smtpFaultData250             // answer DATA with 250, not 354
	smtpFaultDotHangup           // hang up after the message, without a reply
	smtpFaultMalformed           // answer RCPT with "25O"
)

// smtpServer is a minimal RFC 5321 server for the tests of what a real
// server does not do on request: it offers PIPELINING only if told to
// (and counts commands that came before the reply to the one before),
// and commits faults. Its greeting and EHLO replies are multi-line. It
// keeps the messages it accepts, un-stuffed.
type smtpServer struct {
	tcpServer
	pipelining bool
	fault      smtpFault

	mu    sync.Mutex
	msgs  []string // accepted messages, as the client meant them
	early int      // commands sent before the reply to the one before
}

func startSMTPServer(t *testing.T, pipelining bool, fault smtpFault) *smtpServer {
	t.Helper()
	s := &smtpServer{tcpServer: tcpServer{ln: listenLoopback(t)}, pipelining: pipelining, fault: fault}
	s.run(t, s.serve)
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(s string) { w.WriteString(s + "\r\n") }
	reply("220-test.example ESMTP")
	reply("220 ready")
	var from string
	var rcpts int
	for {
		if w.Flush() != nil {
			return
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if r.Buffered() > 0 {
			s.mu.Lock()
			s.early++
			s.mu.Unlock()
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-test.example")
			if s.pipelining {
				reply("250-PIPELINING")
			}
			reply("250-8BITMIME")
			reply("250 SIZE 100000000")
		case "MAIL":
			switch {
			case s.fault == smtpFaultMail421:
				reply("421 4.3.2 shutting down")
				w.Flush()
				return
			case from != "":
				reply("503 5.5.1 nested MAIL")
			case !strings.HasPrefix(arg, "FROM:<"):
				reply("501 5.5.4 syntax")
			default:
				from = arg
				reply("250 2.1.0 ok")
			}
		case "RCPT":
			switch {
			case from == "":
				reply("503 5.5.1 MAIL first")
			case s.fault == smtpFaultMalformed:
				reply("25O 2.1.5 ok")
			default:
				rcpts++
				reply("250 2.1.5 ok")
			}
		case "DATA":
			switch {
			case rcpts == 0:
				reply("554 5.5.1 no valid recipients")
				continue
			case s.fault == smtpFaultData250:
				reply("250 2.0.0 ok")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			w.Flush()
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(strings.TrimPrefix(l, "."))
			}
			if s.fault == smtpFaultDotHangup {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, msg.String())
			s.mu.Unlock()
			from, rcpts = "", 0
			reply("250 2.0.0 accepted")
		case "RSET":
			from, rcpts = "", 0
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			w.Flush()
			return
		default:
			reply("500 5.5.2 unknown command")
		}
	}
}
