package sieve

import (
	"net/textproto"
	"strings"
	"sync"
)

// MaxBody bounds what body tests (RFC 5173) read of a message: its first
// MaxBody octets. Larger messages are tested on that much, so that a
// script never makes a delivery hold a whole large message in memory.
const MaxBody = 4 << 20

// NewMessage is a Message made of a parsed header (keys in canonical
// form, as net/mail and net/textproto give them), the message's size,
// and a function that reads its body, called at most once and only if a
// body test needs it.
func NewMessage(header map[string][]string, size int, body func() ([]byte, error)) Message {
	return &message{header: header, size: size, read: body}
}

type message struct {
	header map[string][]string
	size   int

	read func() ([]byte, error)
	once sync.Once
	body []byte
	err  error
}

func (m *message) HeaderGet(key string) ([]string, error) {
	return m.header[textproto.CanonicalMIMEHeaderKey(key)], nil
}

func (m *message) MessageSize() int { return m.size }

func (m *message) BodyRaw() ([]byte, bool, error) {
	if m.read == nil {
		return nil, false, nil
	}
	m.once.Do(func() { m.body, m.err = m.read() })
	return m.body, m.err == nil && len(m.body) > 0, m.err
}

// nowField is the header field the runner answers with the delivery's
// time, for currentdate.
const nowField = "X-Mailroom-Sieve-Now"

// receivedDateField is the header field the runner answers with the
// dates of the message's Received fields, for the date test.
const receivedDateField = "X-Mailroom-Sieve-Received-Date"

// nowMessage answers nowField with the delivery's time and
// receivedDateField with the Received fields' dates, whatever the message
// itself holds.
type nowMessage struct {
	Message
	now string
}

func (m nowMessage) HeaderGet(key string) ([]string, error) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case nowField:
		return []string{m.now}, nil
	case receivedDateField:
		vals, err := m.Message.HeaderGet("Received")
		if err != nil {
			return nil, err
		}
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = strings.TrimSpace(v[strings.LastIndexByte(v, ';')+1:])
		}
		return out, nil
	}
	return m.Message.HeaderGet(key)
}
