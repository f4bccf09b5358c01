package metrics_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"mailroom/internal/testrig"
)

// TestMetricsLoginsThrottled: wrong passwords over POP3 until the
// throttle refuses one; the server counts exactly the failures and the
// refusals the client saw.
func TestMetricsLoginsThrottled(t *testing.T) {
	r := start(t)
	r.Account("ann@example.test")
	before := fetch(t, r)

	conn, err := tls.Dial("tcp", r.Addr("pop3s"), testrig.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(conn)
	line := func() string {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("POP3: %v", err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	line() // greeting
	failed, throttled := 0.0, 0.0
	for i := 0; i < 20 && throttled == 0; i++ {
		fmt.Fprintf(conn, "USER ann@example.test\r\n")
		if l := line(); !strings.HasPrefix(l, "+OK") {
			t.Fatalf("USER: %s", l)
		}
		fmt.Fprintf(conn, "PASS not the password %d\r\n", i)
		switch l := line(); {
		case strings.HasPrefix(l, "-ERR [AUTH]"):
			failed++
		case strings.HasPrefix(l, "-ERR [SYS/TEMP] too many failed logins"):
			throttled++
		default:
			t.Fatalf("PASS %d: %s", i, l)
		}
	}
	if throttled == 0 {
		t.Fatalf("%v failed logins and the throttle never refused one", failed)
	}
	fmt.Fprintf(conn, "QUIT\r\n")
	line()

	after := fetch(t, r)
	for _, c := range []struct {
		result string
		want   float64
	}{{"failed", failed}, {"throttled", throttled}, {"ok", 0}, {"error", 0}} {
		got := after.value("mailroom_logins_total", "proto", "pop3", "result", c.result) -
			before.value("mailroom_logins_total", "proto", "pop3", "result", c.result)
		if got != c.want {
			t.Errorf("logins_total{pop3,%s} moved by %v, want %v", c.result, got, c.want)
		}
	}
}

// TestMetricsSubmissionLogin: AUTH on the submission port is counted as a
// submission login, a wrong password as failed.
func TestMetricsSubmissionLogin(t *testing.T) {
	r := start(t, testrig.Listen("submission"))
	r.Account("ann@example.test")
	before := fetch(t, r)
	for _, pw := range []string{testrig.Password, "wrong"} {
		c, err := gosmtp.DialStartTLS(r.Addr("submission"), testrig.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		err = c.Auth(sasl.NewPlainClient("", "ann@example.test", pw))
		if (err == nil) != (pw == testrig.Password) {
			t.Fatalf("AUTH with %q: %v", pw, err)
		}
		c.Close()
	}
	after := fetch(t, r)
	for _, res := range []string{"ok", "failed"} {
		if got := after.value("mailroom_logins_total", "proto", "submission", "result", res) -
			before.value("mailroom_logins_total", "proto", "submission", "result", res); got != 1 {
			t.Errorf("logins_total{submission,%s} moved by %v, want 1", res, got)
		}
	}
}
