package metrics_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

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
