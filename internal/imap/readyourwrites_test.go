package imap

import (
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadYourWrites hammers the guarantee the mailbox service gives: once
// APPEND or MOVE has answered OK, another connection that SELECTs the
// target mailbox sees the new UID and can act on it — while other sessions
// and deliveries keep the change feed busy. Before the mailbox service,
// a SELECT of a mailbox kept loaded in memory could miss the UID for a few
// milliseconds, and STORE/MOVE on it answered OK and did nothing.
func TestReadYourWrites(t *testing.T) {
	r := newRig(t)
	acct := r.Account("ryw@example.test")
	const workers, rounds = 4, 60
	if testing.Short() {
		t.Skip("hammer test")
	}

	// Background churn: deliveries into INBOX and flag changes on it.
	stop := make(chan struct{})
	var bg sync.WaitGroup
	for i := 0; i < 3; i++ {
		bg.Add(1)
		go func(i int) {
			defer bg.Done()
			c := r.raw(true)
			c.Conn.SetDeadline(time.Now().Add(5 * time.Minute))
			c.cmd("l", `LOGIN ryw@example.test "`+password+`"`, "OK")
			c.cmd("s", "SELECT INBOX", "OK")
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				d := r.Deliver(acct, fmt.Sprintf("Subject: churn %d-%d\r\n\r\nbody\r\n", i, n))
				c.cmd("f", fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Seen churn%d)", d.UID, n%3), "OK")
			}
		}(i)
	}

	appendUID := regexp.MustCompile(`\[APPENDUID \d+ (\d+)\]`)
	copyUID := regexp.MustCompile(`\[COPYUID \d+ \d+ (\d+)\]`)
	var misses atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			writer, reader := r.raw(true), r.raw(true)
			for _, c := range []*raw{writer, reader} {
				c.Conn.SetDeadline(time.Now().Add(2 * time.Minute))
				c.cmd("l", `LOGIN ryw@example.test "`+password+`"`, "OK")
			}
			work, archive := fmt.Sprintf("Work%d", w), fmt.Sprintf("Done%d", w)
			writer.cmd("c1", "CREATE "+work, "OK")
			writer.cmd("c2", "CREATE "+archive, "OK")
			// Both mailboxes stay loaded in the shared state between rounds:
			// the case the race needs.
			reader.cmd("s0", "SELECT "+archive, "OK")
			for n := 0; n < rounds; n++ {
				msg := fmt.Sprintf("Subject: round %d\r\n\r\nhello\r\n", n)
				lines := writer.cmd("a", fmt.Sprintf("APPEND %s {%d+}\r\n%s", work, len(msg), msg), "OK")
				m := appendUID.FindStringSubmatch(lines[len(lines)-1])
				if m == nil {
					t.Errorf("APPEND without APPENDUID: %q", lines)
					return
				}
				uid := m[1]
				// Another connection selects the mailbox and acts on the UID.
				reader.cmd("s", "SELECT "+work, "OK")
				if got := reader.cmd("st", "UID STORE "+uid+" +FLAGS (\\Flagged)", "OK"); !has(got, "UID "+uid) {
					misses.Add(1)
					t.Errorf("round %d: UID STORE %s right after APPEND changed nothing: %q", n, uid, got)
					continue
				}
				got := reader.cmd("mv", "UID MOVE "+uid+" "+archive, "OK")
				var moved string
				for _, l := range got {
					if mm := copyUID.FindStringSubmatch(l); mm != nil {
						moved = mm[1]
					}
				}
				if moved == "" {
					misses.Add(1)
					t.Errorf("round %d: UID MOVE %s right after APPEND moved nothing: %q", n, uid, got)
					continue
				}
				// And the writer sees the moved message at once in the target.
				writer.cmd("s", "SELECT "+archive, "OK")
				writer.cmd("ex", "UID STORE "+moved+" +FLAGS.SILENT (\\Deleted)", "OK")
				got = writer.cmd("x", "UID EXPUNGE "+moved, "OK")
				if !has(got, " EXPUNGE") {
					misses.Add(1)
					t.Errorf("round %d: UID EXPUNGE %s right after MOVE removed nothing: %q", n, moved, got)
				}
				writer.cmd("u", "UNSELECT", "OK")
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	if n := misses.Load(); n > 0 {
		t.Fatalf("%d of %d operations missed a write that had returned OK", n, workers*rounds*3)
	}
}
