package mtasts

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	p, err := Parse([]byte("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Example.NET.\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != Enforce || p.MaxAge != 604800*time.Second ||
		strings.Join(p.MX, ",") != "mail.example.com,*.example.net,backupmx.example.com" {
		t.Errorf("parsed %+v", p)
	}
	if got := strings.Join(p.Lines(), "|"); got != "version: STSv1|mode: enforce|mx: mail.example.com|mx: *.Example.NET.|mx: backupmx.example.com|max_age: 604800" {
		t.Errorf("Lines = %q", got)
	}

	// LF only, unknown keys, a repeated key keeps its first value, a
	// max_age over a year is capped.
	p, err = Parse([]byte("version: STSv1\nmode: testing\nmode: enforce\nfoo: bar\nmx: mx.example.org\nmax_age: 99999999999\n"))
	if err == nil {
		t.Errorf("11-digit max_age accepted: %+v", p)
	}
	p, err = Parse([]byte("version: STSv1\nmode: testing\nmode: enforce\nfoo: bar\nmx: mx.example.org\nmax_age: 9999999999\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != Testing || p.MaxAge != MaxMaxAge {
		t.Errorf("parsed %+v", p)
	}
	// Mode none needs no mx.
	if p, err := Parse([]byte("version: STSv1\nmode: none\nmax_age: 86400\n")); err != nil || p.Mode != None {
		t.Errorf("mode none: %+v, %v", p, err)
	}

	for _, bad := range []string{
		"",
		"mode: enforce\nmx: a.example\nmax_age: 1\n",                       // no version
		"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",       // wrong version
		"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",        // unknown mode
		"version: STSv1\nmode: enforce\nmax_age: 1\n",                      // no mx
		"version: STSv1\nmode: enforce\nmx: a.example\n",                   // no max_age
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",      // negative
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\n",      // not digits
		"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n",     // double wildcard
		"version: STSv1\nmode: enforce\nmx: mail\nmax_age: 1\n",            // one label
		"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",      // empty label
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\njunk\n", // no colon
		"<html><body>Not found</body></html>",
		"version: STSv1\n" + strings.Repeat("mx: a.example\n", MaxPolicySize/14+1) + "mode: enforce\nmax_age: 1\n",
	} {
		if p, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%.60q) = %+v, want an error", bad, p)
		}
	}
}

func TestMatches(t *testing.T) {
	p := &Policy{MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com":    true,
		"MAIL.Example.com.":   true,
		"example.com":         false,
		"x.mail.example.com":  false,
		"mx1.example.net":     true,
		"example.net":         false,
		"a.mx1.example.net":   false,
		".example.net":        false,
		"mail.example.com.au": false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		txts []string
		id   string
		ok   bool
	}{
		{[]string{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z", true},
		{[]string{"v=STSv1;id=abc"}, "abc", true},
		{[]string{"v=spf1 -all", "v=STSv1; id=abc"}, "abc", true},
		{[]string{"v=STSv1; id=abc", "v=STSv1; id=def"}, "", false}, // two records: none
		{[]string{"v=STSv10; id=abc"}, "", false},
		{[]string{"v=STSv1"}, "", false},
		{[]string{"v=STSv1; id="}, "", false},
		{[]string{"v=STSv1; id=a-b"}, "", false},
		{[]string{"v=STSv1; id=" + strings.Repeat("a", 33)}, "", false},
		{nil, "", false},
	} {
		id, ok := ParseRecord(tc.txts)
		if id != tc.id || ok != tc.ok {
			t.Errorf("ParseRecord(%q) = %q, %v; want %q, %v", tc.txts, id, ok, tc.id, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"))
	f.Add([]byte("version: STSv1\nmode: none\nmax_age: 0\n"))
	f.Add([]byte("version:STSv1\nmode:testing\nmx:*.a.b\nmax_age:9999999999"))
	f.Add([]byte("v=STSv1; id=abc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.MaxAge < 0 || p.MaxAge > MaxMaxAge {
			t.Errorf("max_age %v out of range", p.MaxAge)
		}
		if p.Mode != None && len(p.MX) == 0 {
			t.Error("policy without mx accepted")
		}
		for _, pat := range p.MX {
			p.Matches(strings.TrimPrefix(pat, "*."))
			p.Matches("x." + strings.TrimPrefix(pat, "*."))
		}
		ParseRecord([]string{string(data)})
	})
}
