package sqlitestore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"mailroom/internal/store"
)

// A body opened while another session expunges the message is either
// opened or not found, never an error about a missing file: the file goes
// right after the expunge commits, possibly between OpenBody's query and
// its open (imaptest stress found "FETCH failed: NO [SERVERBUG]" there).
func TestOpenBodyRacingExpunge(t *testing.T) {
	s := openWith(t, Options{Dir: t.TempDir(), InlineMax: fileOnly})
	mb := setupInbox(t, s)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		m, err := s.Stage(ctx, strings.NewReader("Subject: race\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Deliver(ctx, m, []store.Target{{MailboxID: mb.ID}})
		if err != nil {
			t.Fatal(err)
		}
		uid := d[0].UID
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := s.Expunge(ctx, mb.ID, []uint32{uid}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			for {
				b, err := s.OpenBody(ctx, mb.ID, uid)
				if errors.Is(err, store.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("OpenBody while expunging: %v", err)
					return
				}
				b.Close()
			}
		}()
		wg.Wait()
	}
}
