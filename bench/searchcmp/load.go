package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// folderOf puts message k (1-based, in mbox order) in a folder: all in
// INBOX with one folder; with more, 40% in INBOX and the rest spread by a
// multiplicative hash over Folder01..Folder(N-1), so every server gets the
// same split and each folder's UIDs follow mbox order.
func folderOf(k, folders int) string {
	if folders <= 1 {
		return "INBOX"
	}
	h := uint32(k) * 2654435761
	if h%1000 < 400 {
		return "INBOX"
	}
	return fmt.Sprintf("Folder%02d", 1+int(h>>10)%(folders-1))
}

// flagsOf gives message k its flags: 80% \Seen, 1 in 9 \Answered, 1 in 23
// \Flagged, the same on every server (the queries combine them with text).
func flagsOf(k int) string {
	var f []string
	if k%10 != 3 && k%10 != 7 {
		f = append(f, `\Seen`)
	}
	if k%9 == 0 {
		f = append(f, `\Answered`)
	}
	if k%23 == 0 {
		f = append(f, `\Flagged`)
	}
	return "(" + strings.Join(f, " ") + ")"
}

// mboxReader streams messages out of an mboxrd file: each starts at a
// "From " line (which gives the delivery time), ">From " lines lose one
// ">", lines end in CRLF, and the blank line before the next "From " is the
// separator, not part of the message.
type mboxReader struct {
	r    *bufio.Reader
	next []byte // the "From " line already read
}

type mboxMessage struct {
	date time.Time
	raw  []byte
}

func (m *mboxReader) read() (*mboxMessage, error) {
	if m.next == nil {
		line, err := m.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		m.next = line
	}
	if !bytes.HasPrefix(m.next, []byte("From ")) {
		return nil, fmt.Errorf("mbox: expected a From line, got %q", m.next)
	}
	msg := &mboxMessage{date: fromLineDate(string(bytes.TrimRight(m.next, "\r\n")))}
	var buf bytes.Buffer
	m.next = nil
	for {
		line, err := m.r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if bytes.HasPrefix(line, []byte("From ")) {
			m.next = line
			break
		}
		line = bytes.TrimRight(line, "\r\n")
		if t := bytes.TrimLeft(line, ">"); len(t) < len(line) && bytes.HasPrefix(t, []byte("From ")) {
			line = line[1:]
		}
		buf.Write(line)
		buf.WriteString("\r\n")
		if err == io.EOF {
			break
		}
	}
	raw := buf.Bytes()
	if bytes.HasSuffix(raw, []byte("\r\n\r\n")) {
		raw = raw[:len(raw)-2]
	}
	msg.raw = raw
	return msg, nil
}

// fromLineDate reads "From sender Mon Jan  2 15:04:05 2006" (UTC).
func fromLineDate(line string) time.Time {
	f := strings.Fields(line)
	if len(f) >= 7 {
		if t, err := time.Parse("Mon Jan 2 15:04:05 2006", strings.Join(f[2:7], " ")); err == nil {
			return t
		}
	}
	return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
}

// runLoad appends the mbox's messages to one server: MULTIAPPEND batches of
// up to -batch messages or 4 MB per folder, each message with its flags
// and INTERNALDATE, one command at a time (each batch is one server
// transaction on Mailroom and Dovecot alike).
func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	server := fs.String("server", "", "NAME,HOST:PORT,USER,PASS[,PID] (with PID: the peak RSS of its process tree is printed)")
	path := fs.String("mbox", "", "mbox file (mboxrd, as bench/gen-corpus.py writes)")
	folders := fs.Int("folders", 1, "spread messages over INBOX and Folder01..")
	batch := fs.Int("batch", 100, "messages per MULTIAPPEND")
	_ = fs.Parse(args)
	sv, err := parseServer(*server)
	if err != nil {
		return err
	}
	f, err := os.Open(*path)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	c, err := dial(sv.name, sv.addr)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.login(sv.user, sv.pass); err != nil {
		return err
	}
	var rss rssPeak
	stop := make(chan struct{})
	sampled := make(chan struct{})
	if sv.pid > 0 {
		go func() { defer close(sampled); rss.sample(sv.pid, stop) }()
	} else {
		close(sampled)
	}
	defer func() {
		close(stop)
		<-sampled
		if sv.pid > 0 {
			fmt.Printf("# memory %s: peak RSS during the load %.0f MiB (process and descendants; largest single process %.0f MiB)\n",
				sv.name, float64(rss.sum)/(1<<20), float64(rss.single)/(1<<20))
		}
	}()
	multi := c.caps["MULTIAPPEND"]
	if *folders > 1 {
		for i := 1; i < *folders; i++ {
			// An existing folder answers NO; that is fine.
			if _, err := c.do(atom("CREATE"), str(fmt.Sprintf("Folder%02d", i))); err != nil {
				return err
			}
		}
	}
	type pending struct {
		args  []arg
		n     int
		bytes int
	}
	queue := map[string]*pending{}
	var total, bytesTotal, pendingBytes int
	start := time.Now()
	flush := func(folder string) error {
		p := queue[folder]
		if p == nil || p.n == 0 {
			return nil
		}
		_ = c.conn.SetDeadline(time.Now().Add(10 * time.Minute)) // a stuck server fails the run, never hangs it
		res, err := c.do(p.args...)
		if err != nil {
			return err
		}
		if res.status != "OK" {
			return fmt.Errorf("%s: APPEND to %s: %s %s", c.name, folder, res.status, res.text)
		}
		delete(queue, folder)
		return nil
	}
	mr := &mboxReader{r: bufio.NewReaderSize(f, 1<<20)}
	for k := 1; ; k++ {
		m, err := mr.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		folder := folderOf(k, *folders)
		p := queue[folder]
		if p == nil {
			p = &pending{args: []arg{atom("APPEND"), str(folder)}}
			queue[folder] = p
		}
		p.args = append(p.args, atom(flagsOf(k)), atom(`"`+m.date.Format("02-Jan-2006 15:04:05 -0700")+`"`),
			literal(string(m.raw)))
		p.n++
		p.bytes += len(m.raw)
		total++
		bytesTotal += len(m.raw)
		pendingBytes += len(m.raw)
		if !multi || p.n >= *batch || p.bytes >= 4<<20 {
			pendingBytes -= p.bytes
			if err := flush(folder); err != nil {
				return err
			}
		}
		// Many folders' part-filled batches must not add up to gigabytes.
		if pendingBytes >= 64<<20 {
			for f := range queue {
				if err := flush(f); err != nil {
					return err
				}
			}
			pendingBytes = 0
		}
		if total%10000 == 0 {
			fmt.Fprintf(os.Stderr, "load %s: %d messages, %.0f/s\n", sv.name, total, float64(total)/time.Since(start).Seconds())
		}
	}
	for folder := range queue {
		if err := flush(folder); err != nil {
			return err
		}
	}
	el := time.Since(start)
	// Check what arrived: the folders' message counts must add up.
	got := 0
	for i := 0; i < max(*folders, 1); i++ {
		name := "INBOX"
		if i > 0 {
			name = fmt.Sprintf("Folder%02d", i)
		}
		res, err := c.do(atom("STATUS"), str(name), atom("(MESSAGES)"))
		if err != nil {
			return err
		}
		for _, l := range res.untagged {
			s := string(l)
			if j := strings.Index(s, "MESSAGES "); j >= 0 {
				var n int
				fmt.Sscanf(s[j+9:], "%d", &n)
				got += n
			}
		}
	}
	fmt.Printf("load %s: %d messages (%d MB) in %.1f s: %.0f msgs/s, %.1f MB/s; the server holds %d\n",
		sv.name, total, bytesTotal>>20, el.Seconds(), float64(total)/el.Seconds(), float64(bytesTotal)/1e6/el.Seconds(), got)
	if got != total {
		return fmt.Errorf("%s holds %d messages, %d were appended", sv.name, got, total)
	}
	return nil
}

// literal is a message text: always sent as a literal, even when short.
func literal(s string) arg { return arg{s: s, isStr: true, lit: true} }
