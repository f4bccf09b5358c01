package selfcheck

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// A port is one configured listener and how to recognize Mailroom on it.
type port struct {
	key, addr string
	tls       bool
	// hello is what to send first (HTTP); "" for protocols where the
	// server speaks first.
	hello string
	// ours reports whether the first line(s) read are Mailroom's.
	ours func(greeting, hostname string) bool
}

func ports(o Options) []port {
	l := o.Config.Listen
	smtp := func(g, host string) bool {
		// go-smtp's greeting: "220 <hostname> ESMTP Service Ready".
		return strings.HasPrefix(g, "220 "+host+" ") || g == "220 "+host
	}
	imap := func(g, _ string) bool { return strings.HasPrefix(g, "* OK") && strings.Contains(g, "Mailroom") }
	pop3 := func(g, _ string) bool { return strings.HasPrefix(g, "+OK Mailroom") }
	sieve := func(g, _ string) bool { return strings.Contains(g, `"IMPLEMENTATION" "Mailroom`) }
	// The webmail's pages say Mailroom in their title; with an HTTPS
	// listener, the HTTP one sends browsers there, to the same host and
	// path.
	web := func(g, host string) bool {
		if !strings.HasPrefix(g, "HTTP/") {
			return false
		}
		if strings.Contains(g, "Mailroom") {
			return true
		}
		lower := strings.ToLower(g)
		return strings.Contains(lower, "\nlocation: https://"+host) && strings.Contains(lower, "/login\r\n")
	}
	get := "GET /login HTTP/1.0\r\nHost: " + o.Config.Hostname + "\r\n\r\n"
	return []port{
		{"smtp", l.SMTP, false, "", smtp},
		{"submission", l.Submission, false, "", smtp},
		{"submissions", l.Submissions, true, "", smtp},
		{"imap", l.IMAP, false, "", imap},
		{"imaps", l.IMAPS, true, "", imap},
		{"pop3", l.POP3, false, "", pop3},
		{"pop3s", l.POP3S, true, "", pop3},
		{"managesieve", l.ManageSieve, false, "", sieve},
		{"http", l.HTTP, false, get, web},
		{"https", l.HTTPS, true, get, web},
	}
}

// checkPorts reports, for each configured listener, whether a running
// Mailroom answers on it, whether it is free for serve to bind, or
// whether something else holds it.
func checkPorts(ctx context.Context, o Options) []Result {
	var rs []Result
	for _, p := range ports(o) {
		if p.addr == "" {
			continue
		}
		rs = append(rs, checkPort(ctx, o, p))
	}
	return rs
}

func checkPort(ctx context.Context, o Options, p port) Result {
	label := fmt.Sprintf("port %s %s", p.key, p.addr)
	host, portStr, err := net.SplitHostPort(p.addr)
	if err != nil {
		return Result{label, Fail, err.Error()}
	}
	if portStr == "0" {
		return Result{label, OK, "a port chosen by the system at each start"}
	}
	dialHost := host
	switch host {
	case "", "0.0.0.0":
		dialHost = "127.0.0.1"
	case "::":
		dialHost = "::1"
	}
	d := net.Dialer{Timeout: o.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(dialHost, portStr))
	if err != nil {
		return bindable(label, p.addr)
	}
	defer conn.Close()
	greeting, err := greet(conn, p, o)
	if err != nil {
		return Result{label, Fail, fmt.Sprintf("something listens there but did not answer like Mailroom's %s (%v); "+
			"stop it, or move one of the two to another port", p.key, err)}
	}
	if !p.ours(greeting, strings.ToLower(o.Config.Hostname)) {
		return Result{label, Fail, fmt.Sprintf("another program listens there (it says %q): stop it, or move one of the two to another port", firstLine(greeting))}
	}
	return Result{label, OK, "served by a running Mailroom (" + firstLine(greeting) + ")"}
}

// greet reads what the server says first (after the TLS handshake and the
// request, where the protocol has them), at most a few KB.
func greet(conn net.Conn, p port, o Options) (string, error) {
	if err := conn.SetDeadline(time.Now().Add(o.DialTimeout)); err != nil {
		return "", err
	}
	var rw io.ReadWriter = conn
	if p.tls {
		// Only to recognize the server: the certificate has checks of
		// its own.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: o.Config.Hostname}) //nolint:gosec // identification only
		if err := tc.Handshake(); err != nil {
			return "", fmt.Errorf("TLS handshake: %w", err)
		}
		rw = tc
	}
	if p.hello != "" {
		if _, err := io.WriteString(rw, p.hello); err != nil {
			return "", err
		}
	}
	br := bufio.NewReader(io.LimitReader(rw, 16<<10))
	var b strings.Builder
	for b.Len() < 16<<10 {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if p.ours(b.String(), strings.ToLower(o.Config.Hostname)) {
			return b.String(), nil
		}
		if err != nil {
			if b.Len() > 0 && (errors.Is(err, io.EOF) || isTimeout(err)) {
				return b.String(), nil
			}
			return "", err
		}
		// The servers that speak first say who they are in their first
		// line; only the ManageSieve and HTTP answers need more.
		if p.hello == "" && p.key != "managesieve" {
			return b.String(), nil
		}
	}
	return b.String(), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bindable reports whether serve could bind addr, by binding it.
func bindable(label, addr string) Result {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		return Result{label, OK, "free: serve can listen there"}
	}
	switch {
	case errors.Is(err, syscall.EACCES):
		return Result{label, Warn, "free, but binding it needs root or CAP_NET_BIND_SERVICE (contrib/mailroom.service grants it); run the check as the service's user to be sure"}
	case errors.Is(err, syscall.EADDRINUSE):
		return Result{label, Fail, "held by another program that does not accept connections from here: find it with `ss -tlnp`"}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return Result{label, Fail, "this machine has no such address: fix listen." + strings.Fields(label)[1]}
	}
	return Result{label, Fail, fmt.Sprintf("cannot listen there: %v", err)}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimSpace(s)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
