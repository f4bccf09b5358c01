package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/debugserver"
	"mailroom/internal/imap"
	"mailroom/internal/listener"
	"mailroom/internal/panics"
	"mailroom/internal/pop3"
	"mailroom/internal/smtp"
	"mailroom/internal/testrig"
	"mailroom/internal/web"
)

// A panic in one session of one protocol ends that session only: its
// client's connection is closed, sessions already open in the same and
// the other protocols go on, new connections are accepted, the panic is
// counted (also on the debug listener) and logged at ERROR with its stack.
// Before sessions recovered, the first panic ended the test binary.
func TestPanicEndsOneSessionNotTheServer(t *testing.T) {
	// The hook panics in the sessions of the connections a test marked,
	// at their next command, whatever the command.
	var victims sync.Map // client address → true
	hooks := &listener.TestHooks{Command: func(proto, remote, name string) {
		if _, ok := victims.Load(remote); ok {
			panic(fmt.Sprintf("test panic in %s %s", proto, name))
		}
	}}
	r := testrig.Start(t, testrig.Factories{
		"imap":  imap.Factory(),
		"pop3":  pop3.Factory(),
		"smtp":  smtp.Factory(smtp.Inbound),
		"http":  web.Factory(),
		"debug": debugserver.Factory(),
	}, testrig.Listen("imap", "pop3", "smtp", "http", "debug"), testrig.Hooks(hooks), testrig.JSONLogs(),
		testrig.Config(func(c *config.Config) { c.Hostname = "localhost" }))
	s, logs := r.Server, r.Log
	protos := []string{"imap", "pop3", "smtp", "http"}

	// One session of every protocol stays open through every panic.
	bystanders := map[string]*client{}
	for _, p := range protos {
		bystanders[p] = dialClient(t, p, r.Addr(p))
		if err := bystanders[p].exchange(); err != nil {
			t.Fatalf("%s before any panic: %v", p, err)
		}
	}

	for _, victimProto := range protos {
		t.Run(victimProto, func(t *testing.T) {
			want := s.Deps().Panics.Count() + 1
			victim := dialClient(t, victimProto, r.Addr(victimProto))
			victims.Store(victim.conn.LocalAddr().String(), true)
			if err := victim.exchange(); err == nil {
				t.Fatal("the marked session answered as if nothing happened")
			}
			// Closed, not hanging: the next read ends at once.
			victim.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(victim.r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the panicked session's connection was not closed: %v", err)
			}

			for _, p := range protos {
				if err := bystanders[p].exchange(); err != nil {
					t.Errorf("%s session open before the %s panic: %v", p, victimProto, err)
				}
				fresh := dialClient(t, p, r.Addr(p))
				if err := fresh.exchange(); err != nil {
					t.Errorf("new %s session after the %s panic: %v", p, victimProto, err)
				}
			}

			waitFor(t, func() bool { return s.Deps().Panics.Count() == want }, "panic count %d, want %d", func() []any {
				return []any{s.Deps().Panics.Count(), want}
			})
			if got := debugPanics(t, r.Addr("debug")); got != want {
				t.Errorf("debug listener shows %d panics, want %d", got, want)
			}
			rec := findPanicRecord(t, logs, "test panic in "+victimProto)
			if rec["level"] != "ERROR" {
				t.Errorf("panic logged at %v, want ERROR", rec["level"])
			}
			// The stack is the panicking one: it passes through this
			// test's hook.
			if stack, _ := rec["stack"].(string); !strings.Contains(stack, "panic_test.go") {
				t.Errorf("logged stack lacks the panicking frames:\n%s", stack)
			}
		})
	}
}

// client is one session of a protocol, driven as a real client would.
type client struct {
	t     *testing.T
	proto string
	conn  net.Conn
	r     *bufio.Reader
	n     int
}

func dialClient(t *testing.T, proto, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", proto, err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, proto: proto, conn: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	switch proto {
	case "imap", "pop3", "smtp":
		line, err := cl.r.ReadString('\n')
		if err != nil || !(strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "+OK") || strings.HasPrefix(line, "220 ")) {
			t.Fatalf("%s greeting %q, %v", proto, line, err)
		}
	}
	if proto == "smtp" {
		if _, err := cl.command("EHLO client.test", "250 "); err != nil {
			t.Fatalf("EHLO: %v", err)
		}
	}
	return cl
}

// exchange runs one ordinary command and checks its answer.
func (c *client) exchange() error {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	c.n++
	switch c.proto {
	case "imap":
		tag := fmt.Sprintf("a%d", c.n)
		_, err := c.command(tag+" NOOP", tag+" OK")
		return err
	case "pop3":
		_, err := c.command("CAPA", ".")
		return err
	case "smtp":
		if _, err := c.command("MAIL FROM:<someone@remote.test>", "250 "); err != nil {
			return err
		}
		_, err := c.command("RSET", "250 ")
		return err
	case "http":
		fmt.Fprintf(c.conn, "GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n")
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /login: %s", resp.Status)
		}
		return nil
	}
	return errors.New("unknown protocol " + c.proto)
}

// command sends line and reads up to the reply line starting with end.
func (c *client) command(line, end string) ([]string, error) {
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		return nil, err
	}
	var got []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return got, fmt.Errorf("%s: after %q: %w", line, got, err)
		}
		l = strings.TrimRight(l, "\r\n")
		got = append(got, l)
		if strings.HasPrefix(l, end) {
			return got, nil
		}
		// A final SMTP or a POP3 error reply that is not the one expected.
		if strings.HasPrefix(l, "-ERR") || (c.proto == "smtp" && len(l) > 3 && l[3] == ' ') {
			return got, fmt.Errorf("%s: %q", line, got)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, format string, args func() []any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args()...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// debugPanics reads the panic count from the debug listener.
func debugPanics(t *testing.T, addr string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars struct{ Mailroom struct{ Panics int64 } }
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatal(err)
	}
	return vars.Mailroom.Panics
}

// findPanicRecord returns the log record of the panic whose value starts
// with prefix, waiting for it: the connection may close before it is
// written.
func findPanicRecord(t *testing.T, logs *testrig.LogBuffer, prefix string) map[string]any {
	t.Helper()
	var found map[string]any
	waitFor(t, func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != panics.Msg {
				continue
			}
			if v, _ := rec["panic"].(string); strings.HasPrefix(v, prefix) {
				found = rec
				return true
			}
		}
		return false
	}, "no %q record for a panic %q", func() []any { return []any{panics.Msg, prefix} })
	return found
}
