// Command searchcmp serves bench/search-compare.sh: it loads one mbox into
// IMAP servers and times the same search, sort and thread commands against
// them, comparing the answers message by message.
//
//	searchcmp load  -server NAME,HOST:PORT,USER,PASS[,PID] -mbox FILE [-folders N] [-batch 100]
//	searchcmp query -server NAME,HOST:PORT,USER,PASS[,PID] ... [-rounds 3] [-mailbox INBOX] [-only a,b] [-show 5]
//
// query, for every server (the first is the one the others are compared
// with): logs in, SELECTs the mailbox, maps UIDs to Message-IDs; runs every
// query once untimed (warm: caches, lazily built indexes) and keeps that
// answer for the comparison; then ROUNDS timed rounds, each running a query
// on every server in turn (the order rotating per round) before the next
// query, so that a noisy moment hits all servers alike. A time is the
// command's round trip: from writing it to reading its tagged status,
// every response line read. A server answering NO or BAD is "unsupported"
// for that query. With a PID it samples the RSS of that process and all its
// descendants (Dovecot's master and its imap, indexer... children) every
// 100 ms and prints the peak. Standard library only.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: searchcmp load|query [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = runLoad(os.Args[2:])
	case "query":
		err = runQuery(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "searchcmp:", err)
		os.Exit(1)
	}
}

type serverSpec struct {
	name, addr, user, pass string
	pid                    int
}

func parseServer(v string) (serverSpec, error) {
	f := strings.Split(v, ",")
	if len(f) < 4 {
		return serverSpec{}, fmt.Errorf("-server %q: want NAME,HOST:PORT,USER,PASS[,PID]", v)
	}
	s := serverSpec{name: f[0], addr: f[1], user: f[2], pass: f[3]}
	if len(f) > 4 && f[4] != "" {
		pid, err := strconv.Atoi(f[4])
		if err != nil {
			return s, fmt.Errorf("-server %q: pid: %w", v, err)
		}
		s.pid = pid
	}
	return s, nil
}

type serverRun struct {
	serverSpec
	c      *client
	ids    map[uint32]string
	exists int
	rss    *rssPeak
}

func runQuery(args []string) error {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	var specs []serverSpec
	fs.Func("server", "NAME,HOST:PORT,USER,PASS[,PID] (repeat; the first is compared with the others)", func(v string) error {
		s, err := parseServer(v)
		specs = append(specs, s)
		return err
	})
	rounds := fs.Int("rounds", 3, "timed rounds")
	mailbox := fs.String("mailbox", "INBOX", "mailbox to query")
	only := fs.String("only", "", "comma-separated query names (default all)")
	show := fs.Int("show", 5, "Message-IDs shown per difference")
	timeout := fs.Duration("timeout", 15*time.Minute, "longest a command may take")
	diffsFile := fs.String("diffs", "", "write every difference in full (every Message-ID) to this file")
	_ = fs.Parse(args)
	if len(specs) == 0 {
		return fmt.Errorf("query: no -server")
	}
	qs := queries
	if *only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			want[n] = true
		}
		qs = nil
		for _, q := range queries {
			if want[q.name] {
				qs = append(qs, q)
			}
		}
	}
	var servers []*serverRun
	for _, sp := range specs {
		c, err := dial(sp.name, sp.addr)
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.login(sp.user, sp.pass); err != nil {
			return err
		}
		n, err := c.selectBox(*mailbox)
		if err != nil {
			return err
		}
		t0 := time.Now()
		ids, err := c.messageIDs()
		if err != nil {
			return err
		}
		fmt.Printf("# %s: %s holds %d messages; UID→Message-ID map fetched in %.2f s\n", sp.name, *mailbox, n, time.Since(t0).Seconds())
		servers = append(servers, &serverRun{serverSpec: sp, c: c, ids: ids, exists: n})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, sv := range servers {
		if sv.pid > 0 {
			sv.rss = &rssPeak{}
			wg.Add(1)
			go func(sv *serverRun) { defer wg.Done(); sv.rss.sample(sv.pid, stop) }(sv)
		}
	}
	cpu := map[string][][]time.Duration{}
	for _, q := range qs {
		cpu[q.name] = make([][]time.Duration, len(servers))
	}
	run := func(sv *serverRun, q query) (answer, time.Duration, error) {
		_ = sv.c.conn.SetDeadline(time.Now().Add(*timeout))
		var c0 time.Duration
		if sv.pid > 0 {
			c0 = treeCPU(sv.pid)
		}
		t0 := time.Now()
		res, err := sv.c.do(q.command()...)
		el := time.Since(t0)
		if sv.pid > 0 {
			i := slices.Index(servers, sv)
			cpu[q.name][i] = append(cpu[q.name][i], treeCPU(sv.pid)-c0)
		}
		if err != nil {
			return answer{}, el, err
		}
		return parseAnswer(q, res), el, nil
	}
	// Warm-up, and the answers to compare.
	answers := map[string][]answer{}
	warm := map[string][]time.Duration{}
	for _, q := range qs {
		for _, sv := range servers {
			a, el, err := run(sv, q)
			if err != nil {
				return err
			}
			answers[q.name] = append(answers[q.name], a)
			warm[q.name] = append(warm[q.name], el)
		}
	}
	times := map[string][][]time.Duration{}
	for _, q := range qs {
		times[q.name] = make([][]time.Duration, len(servers))
		cpu[q.name] = make([][]time.Duration, len(servers)) // the timed rounds' only
	}
	for r := 0; r < *rounds; r++ {
		for _, q := range qs {
			for j := range servers {
				i := (j + r) % len(servers)
				if answers[q.name][i].unsupported != "" {
					continue
				}
				_, el, err := run(servers[i], q)
				if err != nil {
					return err
				}
				times[q.name][i] = append(times[q.name][i], el)
			}
		}
		fmt.Fprintf(os.Stderr, "searchcmp: round %d of %d done\n", r+1, *rounds)
	}
	close(stop)
	wg.Wait()
	report(servers, qs, answers, warm, times, cpu, *rounds, *show)
	if *diffsFile != "" {
		return writeDiffs(*diffsFile, servers, qs, answers)
	}
	return nil
}

func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if p == 50 && len(s)%2 == 0 {
		return float64(s[len(s)/2-1]+s[len(s)/2]) / 2 / 1e6
	}
	// nearest rank
	k := int(p/100*float64(len(s))+0.999999) - 1
	k = max(0, min(k, len(s)-1))
	return float64(s[k]) / 1e6
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func report(servers []*serverRun, qs []query, answers map[string][]answer, warm map[string][]time.Duration,
	times, cpu map[string][][]time.Duration, rounds, show int) {
	fmt.Printf("\n# times in ms: median / p90 of %d rounds, [first untimed run], cpu: the server's median CPU time per run "+
		"(timed runs; 10 ms ticks); ratio = peer median / %s median (above 1: %s faster)\n", rounds, servers[0].name, servers[0].name)
	hdr := []string{"query"}
	for _, sv := range servers {
		hdr = append(hdr, sv.name+" ms")
	}
	for _, sv := range servers[1:] {
		hdr = append(hdr, sv.name+"/"+servers[0].name)
	}
	hdr = append(hdr, "hits", "answers")
	fmt.Println("| " + strings.Join(hdr, " | ") + " |")
	fmt.Println("|" + strings.Repeat(" --- |", len(hdr)))
	var diffs []string
	for _, q := range qs {
		row := []string{q.name}
		as := answers[q.name]
		for i := range servers {
			if as[i].unsupported != "" {
				row = append(row, "unsupported")
				continue
			}
			t := times[q.name][i]
			cell := fmt.Sprintf("%s / %s [%s]", ms(pct(t, 50)), ms(pct(t, 90)), ms(float64(warm[q.name][i])/1e6))
			if c := cpu[q.name][i]; len(c) > 0 {
				cell += " cpu " + ms(pct(c, 50))
			}
			row = append(row, cell)
		}
		base := pct(times[q.name][0], 50)
		for i := 1; i < len(servers); i++ {
			if as[0].unsupported != "" || as[i].unsupported != "" || base == 0 {
				row = append(row, "–")
				continue
			}
			row = append(row, fmt.Sprintf("%.2f×", pct(times[q.name][i], 50)/base))
		}
		var hits []string
		for i := range servers {
			if as[i].unsupported != "" {
				hits = append(hits, "–")
			} else {
				hits = append(hits, strconv.Itoa(as[i].hits()))
			}
		}
		row = append(row, strings.Join(hits, "/"))
		verdict := "same"
		ref := -1
		for i := range servers {
			if as[i].unsupported == "" {
				ref = i
				break
			}
		}
		compared := 0
		if ref >= 0 {
			a := as[ref].byID(q, servers[ref].ids)
			for i := ref + 1; i < len(servers); i++ {
				if as[i].unsupported != "" {
					continue
				}
				compared++
				if d := diff(q, servers[ref].name, a, servers[i].name, as[i].byID(q, servers[i].ids), show); d != "" {
					verdict = "DIFFER"
					diffs = append(diffs, fmt.Sprintf("%s: %s vs %s: %s", q.name, servers[ref].name, servers[i].name, d))
				}
			}
		}
		if compared == 0 {
			verdict = "–"
		}
		row = append(row, verdict)
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
	fmt.Println()
	for _, q := range qs {
		for i, sv := range servers {
			if u := answers[q.name][i].unsupported; u != "" {
				fmt.Printf("unsupported: %s on %s: %s\n", q.name, sv.name, clip(u, 120))
			}
		}
	}
	if len(diffs) == 0 {
		fmt.Println("# answers: every query answered alike by every server that supports it")
	}
	for _, d := range diffs {
		fmt.Println("differ: " + d)
	}
	fmt.Println()
	for _, q := range qs {
		fmt.Printf("# %-24s %s", q.name, clip(render(q.command()), 110))
		if q.note != "" {
			fmt.Printf("  (%s)", q.note)
		}
		fmt.Println()
	}
	for _, sv := range servers {
		if sv.rss != nil {
			fmt.Printf("# memory %s: peak RSS during the queries %.0f MiB (process and descendants, sampled every 100 ms; largest single process %.0f MiB)\n",
				sv.name, float64(sv.rss.sum)/(1<<20), float64(sv.rss.single)/(1<<20))
		}
	}
}

func render(args []arg) string {
	var parts []string
	for _, a := range args {
		if a.isStr {
			parts = append(parts, `"`+a.s+`"`)
		} else {
			parts = append(parts, a.s)
		}
	}
	return strings.Join(parts, " ")
}

// writeDiffs writes, per query and pair of servers that answered both,
// every Message-ID found by one and not the other (or the differing
// positions of a SORT or THREAD), for reading what the table only samples.
func writeDiffs(path string, servers []*serverRun, qs []query, answers map[string][]answer) error {
	var sb strings.Builder
	for _, q := range qs {
		as := answers[q.name]
		for i := range servers {
			for j := i + 1; j < len(servers); j++ {
				if as[i].unsupported != "" || as[j].unsupported != "" {
					continue
				}
				d := diff(q, servers[i].name, as[i].byID(q, servers[i].ids), servers[j].name, as[j].byID(q, servers[j].ids), -1)
				if d != "" {
					fmt.Fprintf(&sb, "%s: %s vs %s: %s\n", q.name, servers[i].name, servers[j].name, d)
				}
			}
		}
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("writing the differences: %w", err)
	}
	fmt.Printf("# every difference in full: %s\n", path)
	return nil
}
