package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/store/storeopen"
	"mailroom/internal/tlsrpt"
)

// TestReportsWiring: serve runs the TLS-RPT reporter with the queue's
// recorder, and stopping the server saves what was recorded today, so a restart
// loses nothing; with the reports disabled there is no recorder.
func TestReportsWiring(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	rec := s.Deps().Queue.TLSReports()
	if rec == nil {
		t.Fatal("no TLS-RPT recorder with the default configuration")
	}
	rec.RecordTLS(tlsrpt.Outcome{PolicyDomain: "dest.test", PolicyType: tlsrpt.PolicySTS, Success: true})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	st := openStore(t, cfg)
	data, err := st.ReadFile(context.Background(), "tlsrpt/"+day+".json")
	if err != nil {
		t.Fatalf("today's records were not saved at shutdown: %v", err)
	}
	var saved tlsrpt.DayRecord
	if err := json.Unmarshal(data, &saved); err != nil || saved.Domains["dest.test"] == nil || saved.Domains["dest.test"].Policies[0].Success != 1 {
		t.Errorf("saved %s: %v", data, err)
	}

	cfg = testConfig(t)
	cfg.TLSReports.Enabled = false
	s, err = New(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if s.Deps().Queue.TLSReports() != nil {
		t.Error("a recorder although the reports are disabled")
	}
}

// openStore opens the store of cfg, as an admin command would.
func openStore(t *testing.T, cfg config.Config) store.Store {
	t.Helper()
	st, err := storeopen.Open(context.Background(), cfg, storeopen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
