package web

import (
	"fmt"
	"net"
	"time"

	"mailroom/internal/connlimit"
)

// ConnLimits implements listener.ConnLimiter: like the mail listeners, the
// web caps the connections from one address, so that one client cannot
// hold every connection (or wait out many login delays in parallel).
func (s *Server) ConnLimits() connlimit.Limits {
	return connlimit.Limits{Total: s.opts.Config.Web.MaxConnections, PerIP: s.opts.Config.Web.MaxConnectionsPerIP}
}

// RejectConn answers a plain-HTTP connection over the limits (HTTPS ones
// are closed before the handshake).
func (s *Server) RejectConn(c net.Conn, reason string) {
	body := "Too many connections (" + reason + "), try again later.\n"
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nRetry-After: 10\r\nConnection: close\r\n\r\n%s", len(body), body)
	s.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
}
