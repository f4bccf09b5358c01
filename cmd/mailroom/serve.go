package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/config"
	"mailroom/internal/debugserver"
	"mailroom/internal/dkim"
	"mailroom/internal/imap"
	"mailroom/internal/listener"
	"mailroom/internal/logging"
	"mailroom/internal/managesieve"
	"mailroom/internal/pop3"
	"mailroom/internal/queue"
	"mailroom/internal/server"
	"mailroom/internal/smtp"
	"mailroom/internal/store"
	"mailroom/internal/store/storeopen"
	"mailroom/internal/web"
)

// protocols maps protocol names to their implementations. Protocols are
// added here as they are built; listeners of the others are not started.
func protocols() map[string]listener.Factory {
	return map[string]listener.Factory{
		"smtp":        smtp.Factory(smtp.Inbound),
		"submission":  smtp.Factory(smtp.Submission),
		"pop3":        pop3.Factory(),
		"imap":        imap.Factory(),
		"managesieve": managesieve.Factory(),
		"debug":       debugserver.Factory(),
		"http":        web.Factory(),
	}
}

func cmdServe(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", config.DefaultPath, "configuration file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("usage: mailroom serve [--config FILE]")
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	logger, err := logging.New(sio.err, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	return server.Run(ctx, cfg, logger, protocols(), nil)
}

const (
	devDomain  = "example.test"
	devAccount = "demo@example.test"
)

// cmdDev runs a zero-configuration trial: it writes a config file into the
// data directory (so admin commands can use it), creates example.test and
// demo@example.test, and serves on 127.0.0.1 high ports.
func cmdDev(ctx context.Context, args []string, sio *stdio) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dataDir := fs.String("data", "mailroom-dev", "data directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("usage: mailroom dev [--data DIR]")
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	cfg := config.Dev(dir)
	configPath := filepath.Join(dir, "mailroom.toml")
	if err := writeDevConfig(configPath, cfg); err != nil {
		return err
	}
	password, err := devSetup(ctx, cfg)
	if err != nil {
		return err
	}
	logger, err := logging.New(sio.err, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	return server.Run(ctx, cfg, logger, protocols(), func(s *server.Server) {
		printDevBanner(sio, s, cfg, configPath, password)
	})
}

// writeDevConfig writes the dev configuration once; an edited file is kept.
func writeDevConfig(path string, c config.Config) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	l := c.Listen
	text := fmt.Sprintf(`# Written by "mailroom dev". Admin commands: mailroom user list --config %s
hostname = %q
data_dir = %q
shutdown_timeout = %q

[listen]
smtp = %q
submission = %q
submissions = %q
imap = %q
imaps = %q
pop3 = %q
pop3s = %q
managesieve = %q
http = %q
https = ""
metrics = %q  # Prometheus /metrics, /healthz, /readyz; no authentication

[tls]
self_signed = true
`, path, c.Hostname, c.DataDir, c.ShutdownTimeout.Std().String(),
		l.SMTP, l.Submission, l.Submissions, l.IMAP, l.IMAPS, l.POP3, l.POP3S, l.ManageSieve, l.HTTP, l.Metrics)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("write dev config: %w", err)
	}
	return nil
}

// devSetup creates the trial domain and account. The password is generated
// once and kept in the data directory so every run prints the same one.
func devSetup(ctx context.Context, cfg config.Config) (string, error) {
	st, err := storeopen.Open(ctx, cfg, storeopen.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	if _, err := st.CreateDomain(ctx, devDomain); err != nil && !errors.Is(err, store.ErrExists) {
		return "", err
	}
	pwFile := filepath.Join(cfg.DataDir, "demo-password")
	if b, err := os.ReadFile(pwFile); err == nil {
		if _, err := st.Account(ctx, devAccount); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	password := rand.Text()[:16]
	cred, err := auth.HashPassword(password, auth.DefaultParams)
	if err != nil {
		return "", err
	}
	if acct, err := st.Account(ctx, devAccount); err == nil {
		err = st.SetCredentials(ctx, acct.ID, cred)
		if err != nil {
			return "", err
		}
	} else if acct, err := st.CreateAccount(ctx, devAccount, cred); err != nil {
		return "", err
	} else if err := st.SetSettings(ctx, acct.ID, map[string]string{"admin": "true"}); err != nil {
		// The trial account sees the admin pages too.
		return "", err
	}
	// Keys an older version made stay the dev domain's (imported once).
	if _, err := dkim.ImportDir(ctx, st, queue.DKIMDir(cfg.DataDir), nil); err != nil {
		return "", err
	}
	if _, err := dkim.Generate(ctx, st, devDomain, time.Now()); err != nil {
		return "", err
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	return password, nil
}

func printDevBanner(sio *stdio, s *server.Server, cfg config.Config, configPath, password string) {
	started := map[string]bool{}
	for _, l := range s.Listening() {
		started[l.Key] = true
	}
	w := sio.out
	fmt.Fprintf(w, "\nMailroom dev server (data in %s)\n\n", cfg.DataDir)
	fmt.Fprintf(w, "  account:   %s\n  password:  %s\n  username:  %s (the full address)\n\n", devAccount, password, devAccount)
	fmt.Fprintf(w, "  Client settings (server 127.0.0.1; the certificate is self-signed, accept it once):\n")
	rows := []struct{ key, name, security string }{
		{"imaps", "IMAP", "SSL/TLS"},
		{"imap", "IMAP", "STARTTLS"},
		{"pop3s", "POP3", "SSL/TLS"},
		{"pop3", "POP3", "STARTTLS"},
		{"submissions", "SMTP (sending)", "SSL/TLS"},
		{"submission", "SMTP (sending)", "STARTTLS"},
		{"smtp", "SMTP (receiving, MX)", "STARTTLS optional"},
		{"managesieve", "ManageSieve (filters)", "STARTTLS"},
		{"http", "Webmail", "http://"},
		{"metrics", "Metrics (Prometheus)", "http://…/metrics"},
	}
	for _, r := range rows {
		addr := listenAddr(cfg, r.key)
		if addr == "" {
			continue
		}
		state := ""
		if !started[r.key] {
			state = "  (not available in this version yet)"
		}
		fmt.Fprintf(w, "    %-22s %-22s %-18s%s\n", r.name, addr, r.security, state)
	}
	fmt.Fprintf(w, "\n  Admin commands: mailroom user list --config %s\n  Stop with Ctrl-C.\n\n", configPath)
}

func listenAddr(cfg config.Config, key string) string {
	l := cfg.Listen
	return map[string]string{
		"smtp": l.SMTP, "submission": l.Submission, "submissions": l.Submissions,
		"imap": l.IMAP, "imaps": l.IMAPS, "pop3": l.POP3, "pop3s": l.POP3S,
		"managesieve": l.ManageSieve, "http": l.HTTP, "https": l.HTTPS, "metrics": l.Metrics,
	}[key]
}
