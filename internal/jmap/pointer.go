package jmap

import (
	"fmt"
	"strconv"
	"strings"
)

// evalPointer evaluates a JSON Pointer (RFC 6901) with JMAP's extension
// (RFC 8620 §3.7) on a decoded JSON value: a "*" token over an array
// applies the rest of the path to every item, and where those results
// are arrays they are flattened into one.
func evalPointer(v any, path string) (any, error) {
	if path == "" {
		return v, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q does not start with /", path)
	}
	return evalTokens(v, strings.Split(path[1:], "/"))
}

func evalTokens(v any, tokens []string) (any, error) {
	for i, raw := range tokens {
		tok := strings.NewReplacer("~1", "/", "~0", "~").Replace(raw)
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("no property %q", tok)
			}
			v = next
		case []any:
			if tok == "*" {
				out := make([]any, 0, len(x))
				for _, item := range x {
					r, err := evalTokens(item, tokens[i+1:])
					if err != nil {
						return nil, err
					}
					if arr, ok := r.([]any); ok {
						out = append(out, arr...)
					} else {
						out = append(out, r)
					}
				}
				return out, nil
			}
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(x) || (len(tok) > 1 && tok[0] == '0') {
				return nil, fmt.Errorf("no array index %q", tok)
			}
			v = x[n]
		default:
			return nil, fmt.Errorf("cannot descend into a %T with %q", v, tok)
		}
	}
	return v, nil
}
