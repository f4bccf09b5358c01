package jmap

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The capabilities of RFC 8620 and RFC 8887 this package implements itself.
const (
	CapabilityCore      = "urn:ietf:params:jmap:core"
	CapabilityWebSocket = "urn:ietf:params:jmap:websocket"
)

// Invocation is one method call or response: the JSON array
// [name, arguments, method call id] (RFC 8620 §3.2).
type Invocation struct {
	Name   string
	Args   json.RawMessage
	CallID string
}

// MarshalJSON implements json.Marshaler.
func (inv Invocation) MarshalJSON() ([]byte, error) {
	args := inv.Args
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	return json.Marshal([3]any{inv.Name, args, inv.CallID})
}

// UnmarshalJSON implements json.Unmarshaler: exactly three elements, a
// string, an object and a string.
func (inv *Invocation) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	if len(parts) != 3 {
		return fmt.Errorf("an invocation has 3 elements, not %d", len(parts))
	}
	if err := json.Unmarshal(parts[0], &inv.Name); err != nil {
		return fmt.Errorf("method name: %w", err)
	}
	if t := bytes.TrimSpace(parts[1]); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("arguments of %q are not an object", inv.Name)
	}
	inv.Args = parts[1]
	if err := json.Unmarshal(parts[2], &inv.CallID); err != nil {
		return fmt.Errorf("method call id: %w", err)
	}
	return nil
}

// Request is the body of a POST to the API endpoint (RFC 8620 §3.3).
type Request struct {
	Using       []string          `json:"using"`
	MethodCalls []Invocation      `json:"methodCalls"`
	CreatedIDs  map[string]string `json:"createdIds,omitempty"`
}

// Response is what the API endpoint answers (RFC 8620 §3.4).
type Response struct {
	MethodResponses []Invocation      `json:"methodResponses"`
	CreatedIDs      map[string]string `json:"createdIds,omitempty"`
	SessionState    string            `json:"sessionState"`
}

// ResultReference points into the response of an earlier call of the same
// request (RFC 8620 §3.7).
type ResultReference struct {
	ResultOf string `json:"resultOf"`
	Name     string `json:"name"`
	Path     string `json:"path"`
}

// ValidID reports whether s is a JMAP Id (RFC 8620 §1.2): 1 to 255
// characters of the URL- and filename-safe base64 alphabet.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// jsonMarshal is json.Marshal without HTML escaping, for what is written
// as it is (event streams, WebSocket messages).
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// appendJSON encodes the response. The method responses are JSON already
// (marshalled by the methods' own encoders, and so valid and compact):
// they are copied as they are, where encoding/json would parse and
// compact every one of them again.
func (r *Response) appendJSON(b []byte) []byte {
	b = append(b, `{"methodResponses":[`...)
	for i, inv := range r.MethodResponses {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(inv.Name)
		id, _ := json.Marshal(inv.CallID)
		b = append(b, '[')
		b = append(b, name...)
		b = append(b, ',')
		if len(inv.Args) == 0 {
			b = append(b, "{}"...)
		} else {
			b = append(b, inv.Args...)
		}
		b = append(b, ',')
		b = append(b, id...)
		b = append(b, ']')
	}
	b = append(b, ']')
	if r.CreatedIDs != nil {
		created, _ := json.Marshal(r.CreatedIDs)
		b = append(b, `,"createdIds":`...)
		b = append(b, created...)
	}
	state, _ := json.Marshal(r.SessionState)
	b = append(b, `,"sessionState":`...)
	b = append(b, state...)
	return append(b, '}', '\n')
}
