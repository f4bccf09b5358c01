package listener_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailroom/internal/listener"
	"mailroom/internal/tlsconf"
)

// TestCloseGracefully: a server that reads part of what the client sent,
// answers and closes gracefully delivers its answer and a clean EOF, over
// TCP and TLS; closing plainly (the control) resets the connection.
func TestCloseGracefully(t *testing.T) {
	tm, err := tlsconf.New(context.Background(), tlsconf.Config{SelfSigned: true, Hostname: "localhost"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		tls      bool
		graceful bool
	}{{"tcp", false, true}, {"tls", true, true}, {"tcp plain close", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if tc.tls {
				ln = tls.NewListener(ln, tm.TLSConfig())
			}
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				br := bufio.NewReaderSize(c, 4096)
				br.Peek(4096) // part of an over-long line
				io.WriteString(c, "-ERR line too long\r\n")
				if tc.graceful {
					listener.CloseGracefully(c)
				} else {
					c.Close()
				}
			}()
			var c net.Conn
			if tc.tls {
				c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			} else {
				c, err = net.Dial("tcp", ln.Addr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go io.WriteString(c, strings.Repeat("A", 100<<10)+"\r\n")
			time.Sleep(300 * time.Millisecond) // the server has closed by now
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			clean := err == nil && string(got) == "-ERR line too long\r\n"
			if clean != tc.graceful {
				t.Fatalf("got %q, %v", got, err)
			}
			if !tc.graceful && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("control: %v, want a reset", err)
			}
		})
	}
}
