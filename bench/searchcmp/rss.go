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

// treeRSS reads /proc for root and its descendants' resident bytes.
func treeRSS(root int) (sum, single int64) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	parent := map[int]int{}
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
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
	}
	page := int64(os.Getpagesize())
	for pid := range parent {
		in := false
		for p, n := pid, 0; p > 0 && n < 64; p, n = parent[p], n+1 {
			if p == root {
				in = true
				break
			}
		}
		if !in {
			continue
		}
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
