package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// rssPeak is the largest resident set seen: of a process and all its
// descendants together (sum), and of the largest one alone (single).
// Dovecot serves a session in an imap process forked by its master and
// searches with fts-xapian there too, so the tree is what to watch.
type rssPeak struct {
	sum, single int64
}

func (p *rssPeak) sample(root int, stop <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		sum, single := treeRSS(root)
		p.sum = max(p.sum, sum)
		p.single = max(p.single, single)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// procStats reads every process's stat fields after the command name
// (index 0 is the state, 1 the parent pid, 11-14 utime stime cutime cstime).
func procStats() map[int][]string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	stats := map[int][]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 15 {
			continue
		}
		stats[pid] = f
	}
	return stats
}

// inTree lists root and its descendants.
func inTree(root int, stats map[int][]string) []int {
	var out []int
	for pid := range stats {
		for p, n := pid, 0; p > 0 && n < 64; n++ {
			if p == root {
				out = append(out, pid)
				break
			}
			f, ok := stats[p]
			if !ok {
				break
			}
			p, _ = strconv.Atoi(f[1])
		}
	}
	return out
}

var clockTick = 100 // USER_HZ: 100 on every Linux architecture Go supports

// treeCPU is the CPU time used so far by root, its live descendants and the
// children they reaped, so that a command's cost can be read on a busy
// machine where wall time also holds other people's work.
func treeCPU(root int) time.Duration {
	stats := procStats()
	var ticks int64
	for _, pid := range inTree(root, stats) {
		for _, x := range stats[pid][11:15] {
			v, _ := strconv.ParseInt(x, 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / time.Duration(clockTick)
}

// treeRSS reads /proc for root and its descendants' resident bytes.
func treeRSS(root int) (sum, single int64) {
	page := int64(os.Getpagesize())
	for _, pid := range inTree(root, procStats()) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		res, _ := strconv.ParseInt(f[1], 10, 64)
		sum += res * page
		single = max(single, res*page)
	}
	return sum, single
}
