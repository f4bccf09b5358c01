package auth

import (
	"fmt"
	"testing"
	"time"
)

// TestAdmitCountsAttemptsInFlight: attempts at one account admitted at
// the same moment see each other before any result is known, so a burst
// gets the account's free allowance and then one check, not one check per
// connection.
func TestAdmitCountsAttemptsInFlight(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now) // 5 free per account, 3 per network
	ip := addr("192.0.2.7")
	var tickets []*Ticket
	for range 30 {
		if tk, _ := th.Admit(ip, "alice"); tk != nil {
			tickets = append(tickets, tk)
		}
	}
	if len(tickets) != 5 {
		t.Fatalf("%d of 30 simultaneous attempts admitted, want the account's 5 free ones", len(tickets))
	}
	for _, tk := range tickets {
		tk.Failure()
	}
	// From now on one check per delay (doubling), refused in between.
	checks := 0
	for range 120 { // two minutes, an attempt a second
		clk.advance(time.Second)
		if tk, retry := th.Admit(ip, "alice"); tk != nil {
			checks++
			tk.Failure()
		} else if retry <= 0 {
			t.Fatalf("refused with retry %v", retry)
		}
	}
	if checks > 8 { // 1, 2, 4, 8, 16, 30 s apart, then 30 s: at 1, 3, 7, 15, 31, 61, 91, 121 s
		t.Fatalf("%d checks in two minutes", checks)
	}
}

// TestSuccessKeepsOtherAccountsFailures: logging in to one's own account
// does not clear the failures the same network had at other accounts
// (password spraying: 60 accounts in 4.5 s); it takes back only those at
// the own account.
func TestSuccessKeepsOtherAccountsFailures(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	ip := addr("192.0.2.8")
	guesses := 0
	for i := range 60 {
		clk.advance(50 * time.Millisecond)
		if tk, _ := th.Admit(ip, fmt.Sprintf("victim%d", i)); tk != nil {
			guesses++
			tk.Failure()
		}
		// Every few guesses, the attacker logs in to its own account.
		if i%3 == 2 {
			clk.advance(50 * time.Millisecond)
			if tk, _ := th.Admit(ip, "mallory"); tk != nil {
				tk.Success()
			}
		}
	}
	if guesses > 5 {
		t.Fatalf("%d guesses at other accounts in 6 s with logins to its own in between", guesses)
	}

	// A user who mistyped, then got it right, is not held back by it.
	user := addr("198.51.100.9")
	for range 3 {
		tk, _ := th.Admit(user, "bob")
		tk.Failure()
	}
	clk.advance(2 * time.Second)
	tk, _ := th.Admit(user, "bob")
	tk.Success()
	if d := th.Delay(user, "carol"); d != 0 {
		t.Fatalf("bob's own typos still delay his network by %v", d)
	}
}

// TestTrustedNotChargedInAdvance: a mail client opening many connections
// at once from a network that logged in to the account before is not
// refused.
func TestTrustedNotChargedInAdvance(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now)
	home := addr("2001:db8:1::5")
	tk, _ := th.Admit(home, "alice")
	tk.Success()
	clk.advance(time.Hour)
	var open []*Ticket
	for range 20 {
		tk, retry := th.Admit(home, "alice")
		if tk == nil {
			t.Fatalf("connection %d refused (retry %v)", len(open)+1, retry)
		}
		open = append(open, tk)
	}
	for _, tk := range open {
		tk.Success()
	}
}

// TestCleanNetworkNotChargedInAdvance: many users behind one address (a
// school's NAT) logging in to their own accounts at the same moment are
// all admitted; once that network has failures on record, its attempts
// are charged in advance again.
func TestCleanNetworkNotChargedInAdvance(t *testing.T) {
	clk := newFakeClock()
	th := NewThrottle(testThrottleConfig, clk.now) // 3 free per network
	school := addr("203.0.113.5")
	var open []*Ticket
	for i := range 40 {
		tk, retry := th.Admit(school, fmt.Sprintf("pupil%d", i))
		if tk == nil {
			t.Fatalf("login %d from a clean network refused (retry %v)", i+1, retry)
		}
		open = append(open, tk)
	}
	for _, tk := range open {
		tk.Success()
	}

	// A network with failures on record: a burst at different accounts
	// is charged in advance and stops at the network's allowance.
	attacker := addr("198.51.100.66")
	for i := range 3 {
		tk, _ := th.Admit(attacker, fmt.Sprintf("victim%d", i))
		if tk == nil {
			t.Fatalf("guess %d refused within the free allowance", i+1)
		}
		tk.Failure()
	}
	clk.advance(time.Minute)
	admitted := 0
	for i := range 30 {
		if tk, _ := th.Admit(attacker, fmt.Sprintf("other%d", i)); tk != nil {
			admitted++
		}
	}
	if admitted > 1 {
		t.Fatalf("%d of 30 simultaneous guesses from a network with failures admitted, want at most 1", admitted)
	}
}
