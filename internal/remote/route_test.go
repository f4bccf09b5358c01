package remote

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

func deliver(t *testing.T, c *Client, domain string, m Message) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := c.Deliver(ctx, domain, m)
	if len(res) != len(m.Recipients) {
		t.Fatalf("got %d results for %d recipients", len(res), len(m.Recipients))
	}
	return res
}

func TestMXPreferenceOrder(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 20, "mx2.dest.test")
	l.dns.addMX("dest.test", 10, "mx1.dest.test")
	l.dns.addA("mx1.dest.test", "127.0.0.2")
	l.dns.addA("mx2.dest.test", "127.0.0.3")
	be1, be2 := &backend{}, &backend{}
	l.smtp("127.0.0.2", be1)
	l.smtp("127.0.0.3", be2)

	for range 3 {
		res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
		checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "mx1.dest.test"})
	}
	if n := len(be1.messages()); n != 3 {
		t.Errorf("preferred MX got %d messages, want 3", n)
	}
	if n := be2.mailCount(); n != 0 {
		t.Errorf("backup MX got %d transactions, want 0", n)
	}
}

func TestEqualPreferencesShuffled(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	be := map[string]*backend{}
	for i, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		name := fmt.Sprintf("mx%d.dest.test", i+1)
		l.dns.addMX("dest.test", 10, name)
		l.dns.addA(name, ip)
		be[name] = &backend{}
		l.smtp(ip, be[name])
	}
	c := l.client()
	for range 40 {
		if r := deliver(t, c, "dest.test", message(testBody, "a@dest.test"))[0]; !r.Delivered {
			t.Fatalf("not delivered: %+v", r)
		}
	}
	// 40 fair coin flips all landing on one side: 2^-39.
	for name, b := range be {
		if len(b.messages()) == 0 {
			t.Errorf("%s never chosen among equal preferences", name)
		}
	}
}

func TestMXFallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		first func(l *lab)
	}{
		{"421 greeting", func(l *lab) {
			go (&rawServer{greeting: "421 4.3.2 too busy"}).serve(l.listen("127.0.0.2"))
		}},
		{"down", func(l *lab) {}}, // nothing listens on 127.0.0.2
		{"4xx MAIL", func(l *lab) {
			l.smtp("127.0.0.2", &backend{onMail: func(string) error {
				return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "try later")
			}})
		}},
		{"5xx EHLO and HELO", func(l *lab) {
			go (&rawServer{hello: "550 5.7.1 not you"}).serve(l.listen("127.0.0.2"))
		}},
		{"greeting timeout", func(l *lab) {
			go (&rawServer{hang: true}).serve(l.listen("127.0.0.2"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.dns.addMX("dest.test", 10, "mx1.dest.test")
			l.dns.addMX("dest.test", 20, "mx2.dest.test")
			l.dns.addA("mx1.dest.test", "127.0.0.2")
			l.dns.addA("mx2.dest.test", "127.0.0.3")
			tc.first(l)
			be := &backend{}
			l.smtp("127.0.0.3", be)
			c := l.client(func(cfg *Config) { cfg.Timeouts.Greeting = 300 * time.Millisecond })
			res := deliver(t, c, "dest.test", message(testBody, "a@dest.test"))
			checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "mx2.dest.test"})
			if len(be.messages()) != 1 {
				t.Errorf("backup MX got %d messages, want 1", len(be.messages()))
			}
		})
	}
}

func TestAllMXFail(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 10, "mx1.dest.test")
	l.dns.addMX("dest.test", 20, "mx2.dest.test")
	l.dns.addA("mx1.dest.test", "127.0.0.2")
	l.dns.addA("mx2.dest.test", "127.0.0.3")
	go (&rawServer{greeting: "421 4.3.2 too busy"}).serve(l.listen("127.0.0.2"))
	// The backup refuses for good at the greeting: still only temporary,
	// since the primary may take the message later.
	go (&rawServer{greeting: "554 5.7.1 no service for you"}).serve(l.listen("127.0.0.3"))

	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test", "b@dest.test"))
	for _, r := range res {
		checkResult(t, r, Result{Rcpt: r.Rcpt, Code: 554, Enhanced: "4.7.1", RemoteMTA: "mx2.dest.test", Text: "no service"})
	}
}

func TestAddressFallback(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 10, "mx.dest.test")
	// Nothing listens on ::1 at this port: the IPv6 address is tried
	// first and refused, then IPv4 works.
	l.dns.addA("mx.dest.test", "::1", "127.0.0.2")
	be := &backend{}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0"})
	if !l.dns.asked("AAAA", "mx.dest.test") || !l.dns.asked("A", "mx.dest.test") {
		t.Error("want both AAAA and A lookups")
	}
}

func TestImplicitMX(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addA("dest.test", "127.0.0.2")
	be := &backend{}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "dest.test"})
	if !l.dns.asked("MX", "dest.test") {
		t.Error("no MX query")
	}
}

func TestDNSFailures(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("nullmx.test", 0, ".")
	l.dns.setServfail("servfail.test")
	l.dns.addMX("nohosts.test", 10, "missing.nohosts.test")
	l.dns.addMX("loop.test", 10, "out.sender.test")
	l.dns.addMX("loop.test", 20, "backup.loop.test")
	l.dns.addA("backup.loop.test", "127.0.0.2")
	c := l.client()
	for _, tc := range []struct {
		domain string
		want   Result
	}{
		{"nullmx.test", Result{Permanent: true, Enhanced: "5.1.10", Text: "does not accept mail"}},
		{"nxdomain.test", Result{Permanent: true, Enhanced: "5.1.2", Text: "does not exist"}},
		{"servfail.test", Result{Enhanced: "4.4.3", Text: "SERVFAIL"}},
		{"nohosts.test", Result{Permanent: true, Enhanced: "5.4.4"}},
		// We are the best MX: the backup must not get it back to us.
		{"loop.test", Result{Permanent: true, Enhanced: "5.4.6", Text: "loops back to myself"}},
		{"[300.1.2.3]", Result{Permanent: true, Enhanced: "5.1.2"}},
	} {
		rcpt := "a@" + tc.domain
		tc.want.Rcpt = rcpt
		res := deliver(t, c, tc.domain, message(testBody, rcpt))
		checkResult(t, res[0], tc.want)
	}
}

func TestDNSServerDown(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	// A port where no DNS server listens: every query fails.
	c := l.client(func(cfg *Config) { cfg.DNSServers = []string{"127.0.0.1:1"} })
	res := deliver(t, c, "dest.test", message(testBody, "a@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Enhanced: "4.4.3"})
}

func TestMXLoopKeepsBetterHosts(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 5, "primary.dest.test")
	l.dns.addMX("dest.test", 10, "OUT.sender.test.")
	l.dns.addMX("dest.test", 20, "backup.dest.test")
	l.dns.addA("primary.dest.test", "127.0.0.2")
	l.dns.addA("backup.dest.test", "127.0.0.3")
	be, backup := &backend{}, &backend{}
	l.smtp("127.0.0.2", be)
	l.smtp("127.0.0.3", backup)
	// The primary refuses for now: the backup is after us and must not
	// be tried.
	be.onMail = func(string) error { return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "later") }
	res := deliver(t, l.client(), "dest.test", message(testBody, "a@dest.test"))
	checkResult(t, res[0], Result{Rcpt: "a@dest.test", Code: 451, Enhanced: "4.3.0", RemoteMTA: "primary.dest.test"})
	if backup.mailCount() != 0 {
		t.Error("MX less preferred than ourselves was tried")
	}
}

func TestIDNDomain(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("xn--bcher-kva.example", 10, "mx.xn--bcher-kva.example")
	l.dns.addA("mx.xn--bcher-kva.example", "127.0.0.2")
	be := &backend{}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "bücher.example", message(testBody, "info@bücher.example"))
	checkResult(t, res[0], Result{Rcpt: "info@bücher.example", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "mx.xn--bcher-kva.example"})
	if !l.dns.asked("MX", "xn--bcher-kva.example") {
		t.Error("MX query not for the A-label")
	}
	// An ASCII local part needs no SMTPUTF8: the domain goes as A-label.
	msgs := be.messages()
	if len(msgs) != 1 || msgs[0].rcpts[0] != "info@xn--bcher-kva.example" || msgs[0].mailOpts.UTF8 {
		t.Errorf("server got %+v", msgs)
	}
}

func TestCNAMEAndTruncation(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addCNAME("alias.test", "dest.test")
	// Enough MX records that the answer does not fit in UDP.
	l.dns.addMX("dest.test", 1, "mx.dest.test")
	for i := range 80 {
		name := fmt.Sprintf("backup-with-a-rather-long-name-%02d.dest.test", i)
		l.dns.addMX("dest.test", 50, name)
	}
	l.dns.addA("mx.dest.test", "127.0.0.2")
	be := &backend{}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "alias.test", message(testBody, "a@alias.test"))
	checkResult(t, res[0], Result{Rcpt: "a@alias.test", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "mx.dest.test"})
	if l.dns.tcpQueries() == 0 {
		t.Error("truncated answer not retried over TCP")
	}
}

func TestAddressLiteral(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	be := &backend{}
	l.smtp("127.0.0.2", be)
	res := deliver(t, l.client(), "[127.0.0.2]", message(testBody, "a@[127.0.0.2]"))
	checkResult(t, res[0], Result{Rcpt: "a@[127.0.0.2]", Delivered: true, Code: 250, Enhanced: "2.0.0", RemoteMTA: "[127.0.0.2]"})
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dns.addMX("dest.test", 10, "mx.dest.test")
	l.dns.addA("mx.dest.test", "127.0.0.2")
	go (&rawServer{hang: true}).serve(l.listen("127.0.0.2"))
	c := l.client(func(cfg *Config) { cfg.Timeouts.Greeting = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := c.Deliver(ctx, "dest.test", message(testBody, "a@dest.test"))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Deliver took %v after cancellation", d)
	}
	if res[0].Delivered || res[0].Permanent || !strings.HasPrefix(res[0].Enhanced, "4.") {
		t.Errorf("got %+v, want a temporary failure", res[0])
	}
}
