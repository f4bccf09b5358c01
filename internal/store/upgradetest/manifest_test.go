package upgradetest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// manifest is what the old version's IMAP server showed, as
// scripts/schema-fixture-client.py wrote it.
type manifest struct {
	accounts  []accountLine
	mailboxes map[string][]mailboxLine // by account
	messages  map[string][]messageLine // by account NUL mailbox
	queued    string                   // a recipient the queue holds mail for
	// pop3 lists, by account, the messages as POP3 showed them (the
	// versions before IMAP).
	pop3 map[string][]pop3Line
}

type pop3Line struct {
	uidl   string
	size   int64
	sha256 string
}

type accountLine struct{ email, password string }

type mailboxLine struct {
	name                 string
	uidvalidity, uidnext uint32
	highestModSeq        uint64
}

type messageLine struct {
	uid          uint32
	size         int64
	sha256       string
	internalDate time.Time
	flags        []string
	modseq       uint64
}

func (m *manifest) password(email string) string {
	for _, a := range m.accounts {
		if a.email == email {
			return a.password
		}
	}
	return ""
}

func (m *manifest) mailbox(email, name string) *mailboxLine {
	for i, mb := range m.mailboxes[email] {
		if mb.name == name {
			return &m.mailboxes[email][i]
		}
	}
	return nil
}

func readManifest(t *testing.T, file string) *manifest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(string(data))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

// parseManifest reads lines of "kind fields… key=value…".
func parseManifest(text string) (*manifest, error) {
	m := &manifest{mailboxes: map[string][]mailboxLine{}, messages: map[string][]messageLine{}, pop3: map[string][]pop3Line{}}
	var err error
	for n, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: too short: %q", n+1, line)
		}
		kv := map[string]string{}
		for _, x := range f[3:] {
			k, v, ok := strings.Cut(x, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not key=value", n+1, x)
			}
			kv[k] = v
		}
		num := func(k string, bits int) uint64 {
			v, e := strconv.ParseUint(kv[k], 10, bits)
			if e != nil && err == nil {
				err = fmt.Errorf("line %d: %s=%q: %v", n+1, k, kv[k], e)
			}
			return v
		}
		switch f[0] {
		case "account":
			m.accounts = append(m.accounts, accountLine{f[1], f[2]})
		case "mailbox":
			mb := mailboxLine{name: f[2], uidvalidity: uint32(num("uidvalidity", 32)), uidnext: uint32(num("uidnext", 32))}
			if _, ok := kv["highestmodseq"]; ok {
				mb.highestModSeq = num("highestmodseq", 64)
			}
			m.mailboxes[f[1]] = append(m.mailboxes[f[1]], mb)
		case "message":
			msg := messageLine{uid: uint32(num("uid", 32)), size: int64(num("size", 62)), sha256: kv["sha256"]}
			if _, ok := kv["modseq"]; ok {
				msg.modseq = num("modseq", 64)
			}
			d, e := time.Parse("02-Jan-2006 15:04:05 -0700", strings.ReplaceAll(kv["internaldate"], "_", " "))
			if e != nil {
				return nil, fmt.Errorf("line %d: internaldate: %v", n+1, e)
			}
			msg.internalDate = d
			if kv["flags"] != "" {
				msg.flags = strings.Split(kv["flags"], ",")
			}
			m.messages[f[1]+"\x00"+f[2]] = append(m.messages[f[1]+"\x00"+f[2]], msg)
		case "pop3":
			m.pop3[f[1]] = append(m.pop3[f[1]], pop3Line{uidl: kv["uidl"], size: int64(num("size", 62)), sha256: kv["sha256"]})
		case "queued":
			m.queued = f[2]
		default:
			return nil, fmt.Errorf("line %d: unknown kind %q", n+1, f[0])
		}
		if err != nil {
			return nil, err
		}
	}
	if len(m.accounts) == 0 {
		return nil, fmt.Errorf("no accounts")
	}
	return m, nil
}

// FuzzParseManifest: any text gives a manifest or an error, never a crash.
func FuzzParseManifest(f *testing.F) {
	f.Add("account a@example.org pw\nmailbox a@example.org INBOX uidvalidity=1 uidnext=2 highestmodseq=3\n" +
		"message a@example.org INBOX uid=1 size=10 sha256=00 internaldate=07-Dec-2026_14:36:11_+0000 flags=\\Seen modseq=2\n" +
		"queued a@example.org b@example.net\n")
	f.Add("message a b uid=x")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := parseManifest(text)
		if err == nil && len(m.accounts) == 0 {
			t.Fatal("a manifest without accounts")
		}
	})
}
