package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailroom/internal/resolver"
	"mailroom/internal/selfcheck"
	"mailroom/internal/store/storeopen"
)

// listFlag is a flag given any number of times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// cmdCheck is `mailroom check`: one line per check, exit status 1 if any
// failed.
func cmdCheck(ctx context.Context, args []string, sio *stdio) error {
	f := newAdminFlags("check", false)
	var domains, servers listFlag
	f.fs.Var(&domains, "domain", "check this domain's DNS only (repeatable; default: every domain)")
	f.fs.Var(&servers, "dns-server", "ask this DNS resolver, host:port (repeatable; default: dns.servers, else /etc/resolv.conf)")
	timeout := f.fs.Duration("timeout", 5*time.Second, "bound on each DNS query and connection")
	pos, err := parseFlags(f.fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("check", pos, 0, "[--config FILE] [--domain DOMAIN]…"); err != nil {
		return err
	}
	rs, err := runChecks(ctx, *f.config, domains, servers, *timeout)
	if err != nil {
		return err
	}
	failed, err := selfcheck.Write(sio.out, rs)
	if err != nil {
		return err
	}
	if failed {
		return exitError{code: 1}
	}
	return nil
}

func runChecks(ctx context.Context, path string, domains, servers []string, timeout time.Duration) ([]selfcheck.Result, error) {
	cfg, r, ok := selfcheck.CheckConfig(path)
	rs := []selfcheck.Result{r}
	if !ok {
		return rs, nil
	}
	rs = append(rs, selfcheck.CheckDataDir(cfg.DataDir))
	st, err := storeopen.Open(ctx, cfg, storeopen.Options{})
	if err != nil {
		return append(rs, selfcheck.Result{Check: "store", Verdict: selfcheck.Fail, Message: fmt.Sprintf("does not open: %v", err)}), nil
	}
	defer st.Close()
	rs = append(rs, selfcheck.Result{Check: "store", Verdict: selfcheck.OK, Message: "opens (" + cfg.Store.Backend + ")"})
	if len(servers) == 0 {
		servers = cfg.DNS.Servers
	}
	more, err := selfcheck.Run(ctx, selfcheck.Options{
		Config:      cfg,
		Store:       selfcheck.StoreOf(st),
		Resolver:    resolver.New(servers, timeout),
		Domains:     domains,
		DialTimeout: timeout,
	})
	return append(rs, more...), err
}
