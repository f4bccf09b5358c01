package store

import (
	"sync"
	"testing"
	"time"
)

func TestFeedFiltersByAccount(t *testing.T) {
	f := NewFeed(10)
	a := f.Subscribe(1)
	all := f.Subscribe(0)
	defer a.Close()
	defer all.Close()

	f.Publish([]Event{{Kind: EventMessageAdded, AccountID: 1, Message: MessageMeta{UID: 1}}, {Kind: EventMessageAdded, AccountID: 2}})
	<-a.Ready()
	ev, over, closed := a.Next()
	if len(ev) != 1 || ev[0].Message.UID != 1 || over || closed {
		t.Fatalf("account 1 got %+v overflow=%v closed=%v", ev, over, closed)
	}
	<-all.Ready()
	if ev, _, _ := all.Next(); len(ev) != 2 {
		t.Fatalf("all-accounts subscription got %d events, want 2", len(ev))
	}
}

// Follow adds the accounts that own folders shared with the subscriber,
// and every account's ACL changes; nothing else of other accounts.
func TestFeedFollow(t *testing.T) {
	f := NewFeed(10)
	s := f.Subscribe(1)
	defer s.Close()
	s.Follow([]int64{2})
	f.Publish([]Event{
		{Kind: EventMessageAdded, AccountID: 1},
		{Kind: EventMessageAdded, AccountID: 2},
		{Kind: EventMessageAdded, AccountID: 3},
		{Kind: EventACLChanged, AccountID: 3, MailboxID: 30},
	})
	ev, _, _ := s.Next()
	if len(ev) != 3 || ev[0].AccountID != 1 || ev[1].AccountID != 2 || ev[2].Kind != EventACLChanged {
		t.Fatalf("followed subscription got %+v", ev)
	}
	s.Follow(nil) // 2 no longer followed; ACL changes still
	f.Publish([]Event{{Kind: EventMessageAdded, AccountID: 2}, {Kind: EventACLChanged, AccountID: 2}})
	if ev, _, _ := s.Next(); len(ev) != 1 || ev[0].Kind != EventACLChanged {
		t.Fatalf("after Follow(nil) got %+v", ev)
	}
}

func TestFeedOverflowDoesNotBlockAndIsReported(t *testing.T) {
	f := NewFeed(5)
	s := f.Subscribe(1)
	defer s.Close()
	for i := 0; i < 100; i++ { // never read: publishing must not block
		f.Publish([]Event{{Kind: EventFlagsChanged, AccountID: 1}})
	}
	ev, over, _ := s.Next()
	if !over || len(ev) != 0 {
		t.Fatalf("got %d events overflow=%v, want 0 events and overflow", len(ev), over)
	}
	// After the resync signal the subscription works again.
	f.Publish([]Event{{Kind: EventFlagsChanged, AccountID: 1}})
	if ev, over, _ := s.Next(); len(ev) != 1 || over {
		t.Fatalf("after overflow got %d events overflow=%v", len(ev), over)
	}
}

func TestFeedCloseWakesSubscribers(t *testing.T) {
	f := NewFeed(5)
	s := f.Subscribe(0)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			<-s.Ready()
			if _, _, closed := s.Next(); closed {
				return
			}
		}
	}()
	f.Publish([]Event{{Kind: EventAccountChanged, AccountID: 3}})
	f.Close()
	wg.Wait()
}

func TestFeedConcurrentPublish(t *testing.T) {
	f := NewFeed(1 << 20)
	s := f.Subscribe(0)
	defer s.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				f.Publish([]Event{{Kind: EventMessageAdded, AccountID: 1}})
			}
		}()
	}
	wg.Wait()
	if ev, over, _ := s.Next(); len(ev) != 8000 || over {
		t.Fatalf("got %d events overflow=%v, want 8000", len(ev), over)
	}
}

// TestFeedLag: taking events reports how long the oldest waited since it
// was published, once per take, and nothing for a take without events
// (another account's, or none).
func TestFeedLag(t *testing.T) {
	f := NewFeed(0)
	var lags []time.Duration
	f.ObserveLag(func(d time.Duration) { lags = append(lags, d) })
	s := f.Subscribe(1)
	f.Publish([]Event{{Kind: EventMailboxCreated, AccountID: 1, Name: "a"}})
	time.Sleep(20 * time.Millisecond)
	f.Publish([]Event{{Kind: EventMailboxCreated, AccountID: 1, Name: "b"}})
	f.Publish([]Event{{Kind: EventMailboxCreated, AccountID: 2, Name: "other"}})
	if events, _, _ := s.Next(); len(events) != 2 {
		t.Fatalf("took %d events", len(events))
	}
	if len(lags) != 1 || lags[0] < 20*time.Millisecond || lags[0] > 10*time.Second {
		t.Fatalf("lags %v, want one of at least 20ms (the oldest event's)", lags)
	}
	s.Next()
	f.Publish([]Event{{Kind: EventMailboxCreated, AccountID: 2, Name: "other"}})
	s.Take()
	if len(lags) != 1 {
		t.Fatalf("takes without events observed lags: %v", lags)
	}
	f.Publish([]Event{{Kind: EventMailboxCreated, AccountID: 1, Name: "c"}})
	if b := s.Take(); len(b.Events) != 1 || len(lags) != 2 || lags[1] > lags[0] {
		t.Fatalf("second take: %d events, lags %v", len(b.Events), lags)
	}
}
