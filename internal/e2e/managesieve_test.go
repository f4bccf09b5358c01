package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"mailroom/internal/imap"
	"mailroom/internal/managesieve"
	"mailroom/internal/testrig"
)

// TestManageSieveSharesTheThrottle: ManageSieve and IMAP count failed
// logins in one throttle. Five wrong ManageSieve passwords from an
// address use up its free failures, so IMAP's next login from it, with
// the right password, is told to try later, exactly as after five
// wrong IMAP passwords, whose next ManageSieve login is refused too.
func TestManageSieveSharesTheThrottle(t *testing.T) {
	for _, first := range []string{"managesieve", "imap"} {
		t.Run("failures over "+first, func(t *testing.T) {
			r := testrig.Start(t, testrig.Factories{"imap": imap.Factory(), "managesieve": managesieve.Factory()},
				testrig.Listen("imaps", "managesieve"))
			r.Account("ann@example.test")
			sieveLogin := func(pass string) string {
				c := testrig.Dial(t, r.Addr("managesieve"), false)
				readCaps := func() {
					for !strings.HasPrefix(c.Line(), "OK") {
					}
				}
				readCaps()
				c.Send("STARTTLS")
				c.Expect("OK")
				c.StartTLS()
				readCaps()
				ir := base64.StdEncoding.EncodeToString([]byte("\x00ann@example.test\x00" + pass))
				c.Send(`AUTHENTICATE "PLAIN" "` + ir + `"`)
				return c.Line()
			}
			imapLogin := func(pass string) string {
				c := dial(t, r.Addr("imaps"))
				c.Line()
				return c.cmd(`a LOGIN ann@example.test "` + pass + `"`)
			}
			guess, then := sieveLogin, imapLogin
			throttled := "a NO [UNAVAILABLE]"
			if first == "imap" {
				guess, then, throttled = imapLogin, sieveLogin, `NO (TRYLATER)`
			}
			for i := range 5 {
				if got := guess(fmt.Sprint("guess-", i)); strings.Contains(got, "TRYLATER") || strings.Contains(got, "UNAVAILABLE") {
					t.Fatalf("failure %d already throttled: %q", i+1, got)
				}
			}
			if got := then(password); !strings.HasPrefix(got, throttled) {
				t.Fatalf("login after 5 failures over %s: %q, want %s…", first, got, throttled)
			}
		})
	}
}
