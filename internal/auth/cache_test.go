package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestVerifyCache(t *testing.T) {
	clk := newFakeClock()
	c, err := newVerifyCache(time.Hour, 100, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	c.add("alice", "pw", "hash1")
	if !c.hit("alice", "pw", "hash1") {
		t.Fatal("miss after add")
	}
	for _, tc := range [][3]string{
		{"alice", "pw2", "hash1"},
		{"alice", "pw", "hash2"}, // password changed: new stored hash
		{"bob", "pw", "hash1"},
		{"alice\x00pw", "", "hash1"},
	} {
		if c.hit(tc[0], tc[1], tc[2]) {
			t.Errorf("unexpected hit for %q", tc)
		}
	}
	clk.advance(59 * time.Minute)
	if !c.hit("alice", "pw", "hash1") {
		t.Fatal("miss before TTL")
	}
	clk.advance(time.Minute)
	if c.hit("alice", "pw", "hash1") {
		t.Fatal("hit after TTL")
	}
}

func TestVerifyCacheNeverStoresPassword(t *testing.T) {
	c, err := newVerifyCache(time.Hour, 10, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.add("alice", "s3cret-password", "hash")
	for el := c.entries.order.Front(); el != nil; el = el.Next() {
		e := el.Value.(*boundedEntry[[32]byte, cacheEntry])
		if s := fmt.Sprintf("%+v", e); strings.Contains(s, "s3cret") {
			t.Fatalf("entry contains the password: %s", s)
		}
	}
}

func TestVerifyCacheInvalidate(t *testing.T) {
	c, err := newVerifyCache(time.Hour, 100, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.add("alice", "pw", "h1")
	c.add("alice", "app", "h2")
	c.add("bob", "pw", "h3")
	c.invalidate("alice")
	if c.hit("alice", "pw", "h1") || c.hit("alice", "app", "h2") {
		t.Fatal("alice still cached after invalidate")
	}
	if !c.hit("bob", "pw", "h3") {
		t.Fatal("invalidate(alice) dropped bob")
	}
}

func TestVerifyCacheBounded(t *testing.T) {
	c, err := newVerifyCache(time.Hour, 50, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		c.add(fmt.Sprintf("u%d", i), "pw", "h")
	}
	if n := c.entries.len(); n != 50 {
		t.Fatalf("cache holds %d entries, want 50", n)
	}
	if !c.hit("u999", "pw", "h") || c.hit("u0", "pw", "h") {
		t.Fatal("eviction did not drop the oldest entries")
	}
}

func TestVerifyCacheSecretPerInstance(t *testing.T) {
	a, _ := newVerifyCache(time.Hour, 10, time.Now)
	b, _ := newVerifyCache(time.Hour, 10, time.Now)
	if a.key("u", "p", "h") == b.key("u", "p", "h") {
		t.Fatal("two caches derive the same key: secret not random")
	}
}
