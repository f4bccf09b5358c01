package web

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
)

// maxFlashes bounds the status messages a session keeps waiting to be
// shown: a message is shown once, on the page a redirect leads to, and
// the oldest gives way when a script posts many forms without reading the
// pages.
const maxFlashes = 8

// flashBox holds a session's status messages ("Folder created.") between
// the POST that sets one and the page that shows it. The URL carries only
// a random id: text in the URL would let any link make the webmail say
// anything ("?flash=Your password expired, enter it at ...").
type flashBox struct {
	mu   sync.Mutex
	msgs []flashMsg
}

type flashMsg struct{ id, text string }

// add stores text and returns the id to put in the redirect.
func (f *flashBox) add(text string) string {
	var b [12]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.msgs) == maxFlashes {
		f.msgs = f.msgs[1:]
	}
	f.msgs = append(f.msgs, flashMsg{id, text})
	return id
}

// take returns the message with this id and forgets it, or "".
func (f *flashBox) take(id string) string {
	if id == "" {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.msgs {
		if m.id == id {
			f.msgs = append(f.msgs[:i], f.msgs[i+1:]...)
			return m.text
		}
	}
	return ""
}
