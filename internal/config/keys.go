package config

import (
	"bufio"
	"bytes"
	"reflect"
	"regexp"
	"strings"
)

// Keys lists every configuration key ("listen.imaps"), derived from the
// struct tags so it cannot drift from Config.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

var (
	tableRe = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]`)
	keyRe   = regexp.MustCompile(`^\s*([A-Za-z0-9_.\-]+)\s*=`)
)

// keyLine finds the line that sets a dotted key, 0 if none does (the
// default is in force, or the key is a table).
func keyLine(data []byte, key string) int {
	if key == "" {
		return 0
	}
	table := ""
	line := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line++
		text := sc.Text()
		if m := tableRe.FindStringSubmatch(text); m != nil {
			table = m[1]
			if table == key {
				return line
			}
			continue
		}
		if m := keyRe.FindStringSubmatch(text); m != nil {
			full := m[1]
			if table != "" {
				full = table + "." + m[1]
			}
			if full == key {
				return line
			}
		}
	}
	return 0
}
