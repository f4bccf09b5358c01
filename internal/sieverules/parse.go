package sieverules

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Parse gives back the model of a script Generate wrote, and false for
// any other script: one without the model's comment line, or one changed
// since (by hand, over ManageSieve), whose changes the model would drop.
// Line breaks do not count (a browser's text area sends CRLF).
func Parse(script string) (Rules, bool) {
	script = strings.ReplaceAll(script, "\r\n", "\n")
	var line string
	for l := range strings.SplitSeq(script, "\n") {
		if rest, ok := strings.CutPrefix(l, modelPrefix); ok {
			line = rest
			break
		}
	}
	if line == "" {
		return Rules{}, false
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil || dec.More() {
		return Rules{}, false
	}
	again, err := Generate(r)
	if err != nil || again != script {
		return Rules{}, false
	}
	return r.Normalized(), true
}
