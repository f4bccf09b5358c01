package testrig

import (
	"errors"
	"io"
	"time"
)

// SendOverlong sends line and CRLF from another goroutine, as a client
// that writes a whole over-long command before it reads the answer. It
// waits a little before returning, so that a server that answers and
// closes at once has done so before the test reads.
func (c *LineConn) SendOverlong(line string) {
	go io.WriteString(c.Conn, line+"\r\n") // fails once the server closes; that is the point
	time.Sleep(300 * time.Millisecond)
}

// ReadToEnd reads what is left until the server closes. It returns the
// text and the error that ended it: io.EOF for a clean close (FIN), a
// reset otherwise (the server closed with unread input, and the client's
// kernel may have thrown away the last reply).
func (c *LineConn) ReadToEnd() (string, error) {
	c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := c.R.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.EOF
			}
			return string(buf), err
		}
	}
}
