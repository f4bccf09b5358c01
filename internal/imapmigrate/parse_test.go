package imapmigrate

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Source
		err  string
	}{
		{"imaps://ann@mail.example.org", Source{TLS: true, User: "ann", Host: "mail.example.org", Port: 993}, ""},
		{"imap://ann%40example.org@[::1]:1143", Source{User: "ann@example.org", Host: "::1", Port: 1143}, ""},
		{"IMAPS://u@h:10993/", Source{TLS: true, User: "u", Host: "h", Port: 10993}, ""},
		{"pop3://u@h", Source{}, "scheme"},
		{"imaps://h", Source{}, "user name"},
		{"imaps://u:secret@h", Source{}, "password"},
		{"imaps://u@h:0", Source{}, "port"},
		{"imaps://u@h:99999", Source{}, "port"},
		{"imaps://u@h/INBOX", Source{}, "only"},
		{"imaps://u@:993", Source{}, "no host"},
	} {
		got, err := ParseSource(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one about %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if again, err := ParseSource(got.String()); err != nil || again != got {
			t.Errorf("%q: String %q parses to %+v, %v", c.in, got.String(), again, err)
		}
	}
}

func TestOurName(t *testing.T) {
	for _, c := range []struct {
		name   string
		delim  rune
		prefix string
		want   string
	}{
		{"inbox", '/', "", "INBOX"},
		{"INBOX.Sent", '.', "INBOX.", "Sent"},
		{"Work.2021.Q1", '.', "", "Work/2021/Q1"},
		{"a/b.c", '.', "", "a_b/c"},
		{"Lists", 0, "", "Lists"},
		{"x..y", '.', "", "x/_/y"},
	} {
		if got := ourName(c.name, c.delim, c.prefix); got != c.want {
			t.Errorf("ourName(%q, %q, %q) = %q, want %q", c.name, c.delim, c.prefix, got, c.want)
		}
	}
}

// FuzzParseSource: any string gives a source or an error, never a
// crash; a source given prints as a URL that parses back to it.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"imaps://ann@mail.example.org", "imap://a%40b@[::1]:143", "imaps://u:p@h", "imaps://@h", "imap:opaque", "imaps://u@h:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			return
		}
		if src.User == "" || src.Host == "" || src.Port < 1 || src.Port > 65535 {
			t.Fatalf("%q: %+v", s, src)
		}
		if again, err := ParseSource(src.String()); err != nil || again != src {
			t.Fatalf("%q: %+v prints as %q, which parses to %+v, %v", s, src, src.String(), again, err)
		}
	})
}

// FuzzReadMap: a map file is read or refused, never a crash; what is
// read writes back as the same complete lines.
func FuzzReadMap(f *testing.F) {
	for _, s := range []string{"1 10\n2 11\n", "1 10\n2 1", "x\n", "4294967295 4294967295\n", "0 1\n", strings.Repeat("9", 100) + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, valid, err := readMap(bytes.NewReader(b))
		if err != nil {
			return
		}
		if valid > int64(len(b)) || (valid > 0 && b[valid-1] != '\n') {
			t.Fatalf("valid length %d of %q", valid, b)
		}
		for s, o := range m {
			if s == 0 || o == 0 {
				t.Fatalf("zero UID in %v", m)
			}
		}
	})
}

// FuzzParseState: state.json is read or refused; a map file it names is
// always a plain name inside the state directory.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"account":"a@b","source":"imaps://u@h:993","folders":{"INBOX":{"uidvalidity":1,"ours":"INBOX","map":"ab.map"}}}`))
	f.Add([]byte(`{"folders":{"x":{"map":"../../etc/passwd"}}}`))
	f.Add([]byte(`{"folders":{"x":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseState(b)
		if err != nil {
			return
		}
		for _, fs := range s.Folders {
			if strings.ContainsAny(fs.Map, "/\x00") || fs.Map == ".." || fs.Map == "." || fs.Map == "" {
				t.Fatalf("map file name %q accepted", fs.Map)
			}
		}
	})
}
