package mime

import (
	"sort"
	"strconv"
	"strings"
)

// Parsing of Content-Type and Content-Disposition values and their
// parameters (RFC 2045 section 5.1, RFC 2183, RFC 2231). Tolerant of what
// real mail contains: missing or doubled semicolons, unquoted values with
// spaces, comments, unterminated quotes, continuations out of order.

// maxParamSections bounds RFC 2231 continuation numbers, so that
// "name*99999999=" cannot make us allocate.
const maxParamSections = 1000

// parseMediaType splits "type/subtype; params" into lower-case type and
// subtype and the raw rest. ok is false if the media type is malformed.
func parseMediaType(v string) (typ, sub, rest string, ok bool) {
	v = strings.TrimLeft(v, " \t")
	i := strings.IndexByte(v, ';')
	mt := v
	if i >= 0 {
		mt, rest = v[:i], v[i:]
	}
	mt = stripComments(mt)
	typ, sub, found := strings.Cut(mt, "/")
	typ = strings.ToLower(strings.TrimSpace(typ))
	sub = strings.ToLower(strings.TrimSpace(sub))
	if !found || !isToken(typ) || !isToken(sub) {
		return "", "", rest, false
	}
	return typ, sub, rest, true
}

// parseDisposition splits "attachment; params" into the lower-case
// disposition type and its parameters.
func parseDisposition(v string) (string, []Param) {
	v = strings.TrimLeft(v, " \t")
	i := strings.IndexByte(v, ';')
	d, rest := v, ""
	if i >= 0 {
		d, rest = v[:i], v[i:]
	}
	d = strings.ToLower(strings.TrimSpace(stripComments(d)))
	if !isToken(d) {
		d = ""
	}
	return d, parseParams(rest)
}

// stripComments removes (comments) outside quoted strings.
func stripComments(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (inQuote || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case inQuote:
			if c == '"' {
				inQuote = false
			}
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		default:
			if c == '"' {
				inQuote = true
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// rawParam is one name=value pair before RFC 2231 assembly.
type rawParam struct {
	base    string // lower-case name without "*N" / "*"
	section int    // continuation number, -1 if none
	ext     bool   // value is charset'lang'%-encoded (name ended with '*')
	value   string
}

// parseParams parses "; a=b; c="d"" into parameters in order of first
// appearance, with RFC 2231 continuations joined and extended values
// decoded to UTF-8 (unknown charsets: bytes left as they are). For a name
// given both plainly and as name*, the RFC 2231 form wins.
func parseParams(s string) []Param {
	raws := scanParams(s)
	if len(raws) == 0 {
		return nil
	}
	var order []string
	groups := make(map[string][]rawParam)
	for _, r := range raws {
		if _, seen := groups[r.base]; !seen {
			order = append(order, r.base)
		}
		groups[r.base] = append(groups[r.base], r)
	}
	out := make([]Param, 0, len(order))
	for _, name := range order {
		out = append(out, Param{Name: name, Value: assembleParam(groups[name])})
	}
	return out
}

// assembleParam picks the value of one parameter from its raw pieces:
// RFC 2231 continuations (name*0, name*1*, ...) if any, else an extended
// name*, else the first plain value.
func assembleParam(rs []rawParam) string {
	var secs []rawParam
	var ext, plain *rawParam
	for i := range rs {
		r := &rs[i]
		switch {
		case r.section >= 0:
			secs = append(secs, *r)
		case r.ext:
			if ext == nil {
				ext = r
			}
		default:
			if plain == nil {
				plain = r
			}
		}
	}
	if len(secs) > 0 {
		sort.SliceStable(secs, func(i, j int) bool { return secs[i].section < secs[j].section })
		var buf []byte
		cs := ""
		next := 0
		for _, r := range secs {
			if r.section != next {
				if r.section < next {
					continue // duplicate section: keep the first
				}
				break // a gap: RFC 2231 says stop
			}
			next++
			v := r.value
			if r.ext {
				if r.section == 0 {
					cs, v = splitExtValue(v)
				}
				buf = append(buf, percentDecode(v)...)
			} else {
				buf = append(buf, v...)
			}
		}
		if next > 0 {
			return extToString(cs, buf)
		}
	}
	if ext != nil {
		cs, v := splitExtValue(ext.value)
		return extToString(cs, percentDecode(v))
	}
	if plain != nil {
		return plain.value
	}
	return ""
}

// splitExtValue splits "charset'lang'value"; a value without the two
// quotes is taken as having no charset.
func splitExtValue(v string) (cs, rest string) {
	i := strings.IndexByte(v, '\'')
	if i < 0 {
		return "", v
	}
	j := strings.IndexByte(v[i+1:], '\'')
	if j < 0 {
		return "", v
	}
	return v[:i], v[i+1+j+1:]
}

func extToString(cs string, b []byte) string {
	if out, ok := toUTF8(cs, b); ok {
		return string(out)
	}
	return string(b)
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// scanParams tokenizes the parameter list.
func scanParams(s string) []rawParam {
	var out []rawParam
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',':
			i++
			continue
		case c == '(':
			j, _ := scanComment(s, i)
			i = j
			continue
		}
		// name
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ';' && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		name := strings.ToLower(s[i:j])
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			// a name without value: skip to the next ';'
			k := strings.IndexByte(s[j:], ';')
			if k < 0 {
				return out
			}
			i = j + k + 1
			continue
		}
		j++ // '='
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n') {
			j++
		}
		var value string
		if j < len(s) && s[j] == '"' {
			var end int
			end, value = scanQuoted(s, j)
			j = end
			// junk between the closing quote and the next ';' is dropped
			if k := strings.IndexByte(s[j:], ';'); k >= 0 {
				j += k
			} else {
				j = len(s)
			}
		} else {
			k := strings.IndexByte(s[j:], ';')
			if k < 0 {
				k = len(s) - j
			}
			// unquoted values with spaces ("name=my file.pdf") are common;
			// keep them whole, minus trailing whitespace and comments
			value = strings.TrimSpace(stripComments(s[j : j+k]))
			j += k
		}
		i = j
		if name == "" {
			continue
		}
		out = append(out, splitParamName(name, value))
	}
	return out
}

// splitParamName decodes the RFC 2231 name syntax: name, name*, name*N,
// name*N*.
func splitParamName(name, value string) rawParam {
	r := rawParam{base: name, section: -1, value: value}
	n := name
	if strings.HasSuffix(n, "*") {
		r.ext = true
		n = n[:len(n)-1]
	}
	if k := strings.LastIndexByte(n, '*'); k > 0 {
		if sec, err := strconv.Atoi(n[k+1:]); err == nil && sec >= 0 && sec < maxParamSections && isDigits(n[k+1:]) {
			r.base = n[:k]
			r.section = sec
			return r
		}
	}
	if r.ext {
		if n == "" {
			return rawParam{base: name, section: -1, value: value}
		}
		r.base = n
	}
	return r
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
