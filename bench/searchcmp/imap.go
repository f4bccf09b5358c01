package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// client is the smallest IMAP client the benchmark needs: one connection,
// commands sent whole (LITERAL+ when the server has it, else waiting for
// each continuation), responses read to the tagged status with literals
// inlined. It never interprets more than the caller asks, so what it times
// is the server's round trip plus reading the answer off the socket.
type client struct {
	name string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tag  int
	caps map[string]bool
}

// response is one command's answer: the untagged lines (each with its
// literals inlined as they came) and the tagged status ("OK", "NO", "BAD").
type response struct {
	untagged [][]byte
	status   string
	text     string
}

func dial(name, addr string) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	// Until a caller sets its own: logging in, selecting and the Message-ID
	// map must not hang the run on a stuck server either.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Minute))
	c := &client{name: name, conn: conn, r: bufio.NewReaderSize(conn, 1<<20), w: bufio.NewWriterSize(conn, 1<<20)}
	if _, err := c.readLine(); err != nil { // greeting
		return nil, fmt.Errorf("%s greeting: %w", name, err)
	}
	return c, nil
}

func (c *client) close() { _ = c.conn.Close() }

// readLine reads one response line with its literals: "... {n}\r\n" is
// followed by n bytes and then the rest of the line.
func (c *client) readLine() ([]byte, error) {
	var out []byte
	for {
		line, err := c.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		out = append(out, line...)
		n, ok := literalLen(line)
		if !ok {
			return bytes.TrimRight(out, "\r\n"), nil
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		out = append(out, buf...)
	}
}

// literalLen reports whether line ends with "{n}\r\n" (or {n+}).
func literalLen(line []byte) (int, bool) {
	l := bytes.TrimRight(line, "\r\n")
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(string(l[i+1:len(l)-1]), "+"))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// arg is one piece of a command: an atom written as is, or a string
// written quoted when it can be and as a literal otherwise.
type arg struct {
	s     string
	isStr bool
	lit   bool // a literal even when it could be quoted
}

func atom(s string) arg { return arg{s: s} }
func str(s string) arg  { return arg{s: s, isStr: true} }

func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return true
}

// send writes a command; a literal without LITERAL+ waits for "+".
func (c *client) send(args []arg) (string, error) {
	c.tag++
	tag := fmt.Sprintf("b%d", c.tag)
	c.w.WriteString(tag)
	plus := c.caps["LITERAL+"]
	for _, a := range args {
		c.w.WriteByte(' ')
		switch {
		case !a.isStr:
			c.w.WriteString(a.s)
		case quotable(a.s) && !a.lit:
			c.w.WriteString(`"` + a.s + `"`)
		case plus:
			fmt.Fprintf(c.w, "{%d+}\r\n%s", len(a.s), a.s)
		default:
			fmt.Fprintf(c.w, "{%d}\r\n", len(a.s))
			if err := c.w.Flush(); err != nil {
				return "", err
			}
			line, err := c.readLine()
			if err != nil {
				return "", err
			}
			if !bytes.HasPrefix(line, []byte("+")) {
				return "", fmt.Errorf("%s: no continuation for a literal: %q", c.name, line)
			}
			c.w.WriteString(a.s)
		}
	}
	c.w.WriteString("\r\n")
	return tag, c.w.Flush()
}

// wait reads to tag's status line.
func (c *client) wait(tag string) (*response, error) {
	res := &response{}
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("%s: reading the answer to %s: %w", c.name, tag, err)
		}
		if bytes.HasPrefix(line, []byte("* ")) {
			res.untagged = append(res.untagged, line[2:])
			continue
		}
		if bytes.HasPrefix(line, []byte(tag+" ")) {
			rest := string(line[len(tag)+1:])
			res.status, res.text, _ = strings.Cut(rest, " ")
			return res, nil
		}
	}
}

func (c *client) do(args ...arg) (*response, error) {
	tag, err := c.send(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return c.wait(tag)
}

func (c *client) login(user, pass string) error {
	res, err := c.do(atom("LOGIN"), str(user), str(pass))
	if err != nil {
		return err
	}
	if res.status != "OK" {
		return fmt.Errorf("%s: LOGIN %s: %s %s", c.name, user, res.status, res.text)
	}
	res, err = c.do(atom("CAPABILITY"))
	if err != nil {
		return err
	}
	c.caps = map[string]bool{}
	for _, l := range res.untagged {
		if f := strings.Fields(string(l)); len(f) > 0 && strings.EqualFold(f[0], "CAPABILITY") {
			for _, x := range f[1:] {
				c.caps[strings.ToUpper(x)] = true
			}
		}
	}
	return nil
}

// selectBox selects mailbox and returns its EXISTS.
func (c *client) selectBox(mailbox string) (int, error) {
	res, err := c.do(atom("SELECT"), str(mailbox))
	if err != nil {
		return 0, err
	}
	if res.status != "OK" {
		return 0, fmt.Errorf("%s: SELECT %s: %s %s", c.name, mailbox, res.status, res.text)
	}
	for _, l := range res.untagged {
		if f := strings.Fields(string(l)); len(f) == 2 && strings.EqualFold(f[1], "EXISTS") {
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("%s: SELECT %s: no EXISTS", c.name, mailbox)
}

// messageIDs maps every UID of the selected mailbox to its Message-ID
// ("<...>" as sent; the corpus gives every message a unique one), for
// comparing answers across servers.
func (c *client) messageIDs() (map[uint32]string, error) {
	res, err := c.do(atom("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))
	if err != nil {
		return nil, err
	}
	if res.status != "OK" {
		return nil, fmt.Errorf("%s: UID FETCH Message-ID: %s %s", c.name, res.status, res.text)
	}
	ids := make(map[uint32]string, len(res.untagged))
	for _, l := range res.untagged {
		s := string(l)
		i := strings.Index(s, "UID ")
		if i < 0 {
			continue
		}
		j := i + 4
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		uid, err := strconv.ParseUint(s[i+4:j], 10, 32)
		if err != nil {
			continue
		}
		id := ""
		if k := strings.Index(strings.ToLower(s), "message-id:"); k >= 0 {
			v := s[k+len("message-id:"):]
			if lt := strings.IndexByte(v, '<'); lt >= 0 {
				if gt := strings.IndexByte(v[lt:], '>'); gt >= 0 {
					id = v[lt : lt+gt+1]
				}
			}
		}
		ids[uint32(uid)] = id
	}
	return ids, nil
}
