package queue

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/config"
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
