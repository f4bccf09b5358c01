package imap

import (
	"io"
	"strings"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/testrig"
)

// TestOverlongLineGraceful: a command line longer than the server will
// skip gets BAD and "* BYE", then a clean close (FIN), on 993 and 143.
// The server used to close with the rest of the line unread: the client
// got a connection reset and could lose the BYE.
func TestOverlongLineGraceful(t *testing.T) {
	r := newRig(t, testrig.Config(func(c *config.Config) { c.SMTP.MaxMessageSize = 1 << 20 }))
	for _, tlsOn := range []bool{true, false} {
		c := r.raw(tlsOn)
		// Past MaxLine (64 KiB) plus the 1 MiB APPENDLIMIT the server
		// will skip, and some.
		c.SendOverlong("a1 NOOP " + strings.Repeat("x", 1<<20+64<<10+100<<10))
		got, err := c.ReadToEnd()
		if !strings.HasPrefix(got, "a1 BAD ") || !strings.HasSuffix(got, "* BYE protocol error, closing\r\n") || err != io.EOF {
			t.Errorf("TLS %v: got %q, ended by %v; want BAD, BYE, then EOF", tlsOn, got, err)
		}
	}
}
