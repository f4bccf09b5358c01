package pop3

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailroom/internal/testrig"
)

// twoNodes starts two Mailrooms, each with its own data directory (nodes
// share no disk), on one PostgreSQL database (testrig.SecondNode: skipped
// unless the rigs run on PostgreSQL). tweaks change both nodes' POP3
// servers.
func twoNodes(t *testing.T, tweaks ...func(*Options)) (a, b *rig) {
	t.Helper()
	factories := testrig.Factories{"pop3": Factory(tweaks...)}
	first := testrig.Start(t, factories)
	return &rig{first}, &rig{testrig.Start(t, factories, testrig.SecondNode(t, first))}
}

// One maildrop, one session, whichever node it is on (RFC 1939 section 8):
// a session on node A locks node B's out until A's QUIT.
func TestInUseAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	acct := a.Account("ann@example.test")
	a.Deliver(acct, message("one", "x\r\n"))
	b.Deliver(acct, message("two", "y\r\n"))

	onA := a.login("ann@example.test")
	onA.cmd("STAT", "+OK 2 ")
	onB := b.dial(b.Addr("pop3s"), true)
	onB.cmd("USER ann@example.test", "+OK")
	onB.cmd("PASS "+password, "-ERR [IN-USE]")
	// And a second session on A itself.
	again := a.dial(a.Addr("pop3s"), true)
	again.cmd("USER ann@example.test", "+OK")
	again.cmd("PASS "+password, "-ERR [IN-USE]")

	onA.cmd("DELE 1", "+OK")
	onA.cmd("QUIT", "+OK")
	// A answered +OK after it unlocked: B gets in at once, and sees A's
	// commit.
	onB = b.login("ann@example.test")
	onB.cmd("STAT", "+OK 1 ")
	onB.cmd("QUIT", "+OK")
}

// A node's session that ends without QUIT (the client went away) unlocks
// the maildrop for the other node too.
func TestDroppedSessionUnlocksAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	acct := a.Account("ann@example.test")
	a.Deliver(acct, message("keep me", "x\r\n"))
	onA := a.login("ann@example.test")
	onA.cmd("DELE 1", "+OK")
	onA.Conn.Close()
	waitUnlocked(t, b, "ann@example.test")
	if got := b.Messages(acct, "INBOX"); len(got) != 1 {
		t.Fatalf("a dropped session changed the mailbox: %+v", got)
	}
}

// A session renews its lock: one that outlives the lock's length still
// keeps the other node out, and commits at QUIT.
func TestLockRenewedAcrossNodes(t *testing.T) {
	const ttl = 600 * time.Millisecond
	a, b := twoNodes(t, func(o *Options) { o.LockTTL = ttl })
	acct := a.Account("ann@example.test")
	a.Deliver(acct, message("one", "x\r\n"))
	onA := a.login("ann@example.test")
	onA.cmd("DELE 1", "+OK")
	for range 4 {
		time.Sleep(ttl / 2)
		onB := b.dial(b.Addr("pop3s"), true)
		onB.cmd("USER ann@example.test", "+OK")
		onB.cmd("PASS "+password, "-ERR [IN-USE]")
		onB.cmd("QUIT", "+OK")
	}
	onA.cmd("QUIT", "+OK")
	if got := b.Messages(acct, "INBOX"); len(got) != 0 {
		t.Fatalf("the commit at QUIT after renewals left %+v", got)
	}
}

// A node that died holding a maildrop lock never releases it: the lock
// expires by itself and the account can log in again. (The dead node's
// lock is taken here directly in the store, as its session left it.)
func TestDeadNodesLockExpires(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	got, err := r.Store.AcquireLease(context.Background(), lockName(acct.ID), "dead-session@node-b", time.Now().Add(time.Second))
	if err != nil || !got {
		t.Fatalf("taking the lock as the dead node: %v, %v", got, err)
	}
	c := r.dial(r.Addr("pop3s"), true)
	c.cmd("USER ann@example.test", "+OK")
	c.cmd("PASS "+password, "-ERR [IN-USE]")
	c.cmd("QUIT", "+OK")
	waitUnlocked(t, r, "ann@example.test")
}

// A session whose lock went to another session (its renewals failed for
// longer than the lease, say) commits nothing at QUIT: the other
// session's view of the maildrop wins.
func TestLostLockCommitsNothing(t *testing.T) {
	r := newRig(t, nil)
	acct := r.Account("ann@example.test")
	r.Deliver(acct, message("keep me", "x\r\n"))
	c := r.login("ann@example.test")
	c.cmd("DELE 1", "+OK")
	// The lock expires (its owner, the session, shortens it into the
	// past, as if its renewals had failed) and another session takes it.
	ctx := context.Background()
	name := lockName(acct.ID)
	m := regexp.MustCompile(`msg="logged in" .*session=(\S+)`).FindStringSubmatch(r.Log.String())
	if m == nil {
		t.Fatalf("no login in the log:\n%s", r.Log.String())
	}
	owner := m[1] + "@" + r.Config.Hostname
	if got, err := r.Store.AcquireLease(ctx, name, owner, time.Now().Add(-time.Millisecond)); err != nil || !got {
		t.Fatalf("expiring the session's lock as its owner %q: %v, %v", owner, got, err)
	}
	if got, err := r.Store.AcquireLease(ctx, name, "thief", time.Now().Add(time.Hour)); err != nil || !got {
		t.Fatalf("taking the expired lock: %v, %v", got, err)
	}
	line := c.cmd("QUIT", "-ERR [SYS/TEMP]")
	if !strings.Contains(line, "nothing was deleted") {
		t.Fatalf("QUIT answered %q", line)
	}
	if got := r.Messages(acct, "INBOX"); len(got) != 1 {
		t.Fatalf("a session without its lock committed: %+v", got)
	}
}

// Password guesses on node A count on node B (the login throttle's counts
// are in the shared store): after the network's free failures on A, B
// lets one more check through and then answers "try later".
func TestThrottleAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	a.Account("ann@example.test")
	guess := func(r *rig, want string) {
		t.Helper()
		c := r.dial(r.Addr("pop3s"), true)
		c.cmd("USER ann@example.test", "+OK")
		c.cmd("PASS wrong-guess", want)
		c.cmd("QUIT", "+OK")
	}
	for range 5 { // the default free failures of a network
		guess(a, "-ERR [AUTH]")
	}
	guess(b, "-ERR [AUTH]")
	guess(b, "-ERR [SYS/TEMP] too many failed logins")
}
