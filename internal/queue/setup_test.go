package queue

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/store/sqlitestore"
)

func TestFromConfigRelayPassword(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Queue.Relay = "smtp.provider.example:587"
	cfg.Queue.RelayUsername = "me"
	cfg.Queue.RelayPasswordFile = filepath.Join(dir, "relay-password")
	_, err = FromConfig(cfg, st, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "queue.relay_password_file") {
		t.Fatalf("missing password file: %v", err)
	}
	if err := os.WriteFile(cfg.Queue.RelayPasswordFile, []byte("s3cret\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := FromConfig(cfg, st, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.opts.Concurrency != 20 || len(q.opts.RetryIntervals) != 6 || q.opts.MaxAge != cfg.Queue.MaxAge.Std() {
		t.Fatalf("queue options not taken from the configuration: %+v", q.opts)
	}
}

// A KeySigner sees keys generated after it looked (by `mailroom domain
// add`, on any node) once what it read is keySignerTTL old, and keeps
// signing with keys it has when the store fails.
func TestKeySignerSeesNewKeys(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := NewKeySigner(st)
	now := time.Now()
	s.now = func() time.Time { return now }
	if k, err := s.load(ctx, "example.test"); k != nil || err != nil {
		t.Fatalf("no keys yet: %v, %v", k, err)
	}
	keys, err := dkim.Generate(ctx, st, "example.test", now)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := s.load(ctx, "example.test"); k != nil {
		t.Fatal("looked again within the TTL")
	}
	now = now.Add(keySignerTTL)
	k, err := s.load(ctx, "example.test")
	if err != nil || k == nil || !k.RSA.Equal(keys.RSA) {
		t.Fatalf("new keys not seen after the TTL: %v, %v", k, err)
	}
	st.Close() // every read fails now
	now = now.Add(keySignerTTL)
	if k, err := s.load(ctx, "example.test"); err != nil || k == nil || !k.RSA.Equal(keys.RSA) {
		t.Fatalf("with the store failing: %v, %v; want the keys it had", k, err)
	}
	if _, err := s.load(ctx, "other.test"); err == nil {
		t.Fatal("a failing store passed for a domain without keys")
	}
}
