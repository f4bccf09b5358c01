package pop3

import (
	"io"
	"strings"
	"testing"
)

// TestLineTooLongGraceful: a command line over the limit gets "-ERR line
// too long" and then a clean close, on port 995 too. The server used to
// close with the rest of the line unread, so the client got a connection
// reset and often never saw the -ERR.
func TestLineTooLongGraceful(t *testing.T) {
	r := newRig(t, nil)
	for _, key := range []string{"pop3s", "pop3"} {
		c := r.dial(r.Addr(key), key == "pop3s")
		c.SendOverlong("USER " + strings.Repeat("A", 100<<10))
		got, err := c.ReadToEnd()
		if !strings.HasPrefix(got, "-ERR line too long\r\n") || err != io.EOF {
			t.Errorf("%s: got %q, ended by %v; want -ERR line too long, then EOF", key, got, err)
		}
	}
}
