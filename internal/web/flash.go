package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// maxFlashes bounds the status messages a session keeps waiting to be
// shown: a message is shown once, on the page a redirect leads to, and
// the oldest gives way when a script posts many forms without reading the
// pages.
const maxFlashes = 8

// flashKeep: a session's messages not shown after this long are dropped
// (the redirect that shows one follows within a second), which bounds
// the memory of browsers that never come back.
const flashKeep = 10 * time.Minute

// flashBox holds a session's status messages ("Folder created.") between
// the POST that sets one and the page that shows it. The URL carries only
// a random id: text in the URL would let any link make the webmail say
// anything ("?flash=Your password expired, enter it at ...").
//
// Unlike the session itself, the box lives in this process's memory,
// keyed by the session's token hash: a message not yet shown is lost at
// a restart, or when a load balancer sends the redirect's page to another
// node. That is acceptable: a flash only confirms what the page itself
// shows (the new folder is in the list), and keeping it here spares the
// store a write and a delete for every form posted. The fields are
// guarded by Sessions.mu.
type flashBox struct {
	accountID int64
	touched   time.Time
	msgs      []flashMsg
}

type flashMsg struct{ id, text string }

// addFlash stores text for the session's next page and returns the id to
// put in the redirect.
func (s *Session) addFlash(text string) string {
	var b [12]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	ss := s.ss
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for k, box := range ss.flashes { // the map holds the boxes of the last minutes only
		if now.Sub(box.touched) > flashKeep {
			delete(ss.flashes, k)
		}
	}
	box := ss.flashes[s.hash]
	if box == nil {
		box = &flashBox{accountID: s.AccountID}
		ss.flashes[s.hash] = box
	}
	box.touched = now
	if len(box.msgs) == maxFlashes {
		box.msgs = box.msgs[1:]
	}
	box.msgs = append(box.msgs, flashMsg{id, text})
	return id
}

// takeFlash returns the session's message with this id and forgets it,
// or "".
func (s *Session) takeFlash(id string) string {
	if id == "" {
		return ""
	}
	ss := s.ss
	ss.mu.Lock()
	defer ss.mu.Unlock()
	box := ss.flashes[s.hash]
	if box == nil {
		return ""
	}
	for i, m := range box.msgs {
		if m.id == id {
			box.msgs = append(box.msgs[:i], box.msgs[i+1:]...)
			if len(box.msgs) == 0 {
				delete(ss.flashes, s.hash)
			}
			return m.text
		}
	}
	return ""
}

// dropFlashes forgets the boxes of sessions that ended.
func (ss *Sessions) dropFlashes(ended func(hash [sha256.Size]byte, box *flashBox) bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, box := range ss.flashes {
		if ended(k, box) {
			delete(ss.flashes, k)
		}
	}
}
