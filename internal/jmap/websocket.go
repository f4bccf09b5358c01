package jmap

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// JMAP over WebSocket (RFC 8887): the subprotocol "jmap"; the client sends
// Request objects and WebSocketPushEnable/Disable, the server answers
// Response or RequestError objects and pushes StateChange objects.

// wsMessage is any client message; "@type" says which.
type wsMessage struct {
	Type string `json:"@type"`
	// Request
	ID          *string           `json:"id,omitempty"`
	Using       []string          `json:"using"`
	MethodCalls []Invocation      `json:"methodCalls"`
	CreatedIDs  map[string]string `json:"createdIds,omitempty"`
	// WebSocketPushEnable
	DataTypes []string `json:"dataTypes"`
	PushState string   `json:"pushState"`
}

type wsResponse struct {
	Type      string  `json:"@type"`
	RequestID *string `json:"requestId,omitempty"`
	*Response
}

type wsRequestError struct {
	Type      string  `json:"@type"`
	RequestID *string `json:"requestId"`
	*Problem
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	var origins []string
	for _, o := range s.opts.AllowedOrigins {
		// coder/websocket matches the origin's host against patterns.
		if _, host, ok := strings.Cut(o, "://"); ok {
			origins = append(origins, host)
		}
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"jmap"}, OriginPatterns: origins})
	if err != nil {
		return // Accept answered the client
	}
	defer c.CloseNow()
	if c.Subprotocol() != "jmap" {
		c.Close(websocket.StatusPolicyViolation, `the subprotocol "jmap" is required`)
		return
	}
	c.SetReadLimit(s.opts.Limits.MaxSizeRequest)
	ws := &wsConn{s: s, c: c, u: u, r: r}
	ws.serve(r.Context())
}

type wsConn struct {
	s  *Server
	c  *websocket.Conn
	u  User
	r  *http.Request
	mu sync.Mutex // one writer at a time

	pushMu   sync.Mutex
	pushStop context.CancelFunc
}

func (ws *wsConn) write(ctx context.Context, v any) error {
	b, err := jsonMarshal(v)
	if err != nil {
		return err
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.c.Write(ctx, websocket.MessageText, b)
}

func (ws *wsConn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer ws.disablePush()
	for {
		typ, data, err := ws.c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) || ctx.Err() != nil {
				return
			}
			if strings.Contains(err.Error(), "read limited") {
				_ = ws.write(ctx, wsRequestError{Type: "RequestError", Problem: limitProblem("maxSizeRequest", "the message is over the request size limit")})
				ws.c.Close(websocket.StatusMessageTooBig, "message too big")
			}
			return
		}
		if typ != websocket.MessageText {
			ws.c.Close(websocket.StatusUnsupportedData, "JMAP messages are text")
			return
		}
		if err := ws.handle(ctx, data); err != nil {
			return
		}
	}
}

func (ws *wsConn) handle(ctx context.Context, data []byte) error {
	if !json.Valid(data) {
		return ws.write(ctx, wsRequestError{Type: "RequestError", Problem: &Problem{Type: ProblemNotJSON, Status: http.StatusBadRequest, Detail: "the message is not valid JSON"}})
	}
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return ws.write(ctx, wsRequestError{Type: "RequestError", Problem: &Problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: err.Error()}})
	}
	switch m.Type {
	case "Request":
		return ws.request(ctx, m)
	case "WebSocketPushEnable":
		return ws.enablePush(ctx, m)
	case "WebSocketPushDisable":
		ws.disablePush()
		return nil
	default:
		return ws.write(ctx, wsRequestError{Type: "RequestError", RequestID: m.ID, Problem: &Problem{Type: ProblemNotRequest, Status: http.StatusBadRequest,
			Detail: `"@type" is Request, WebSocketPushEnable or WebSocketPushDisable`}})
	}
}

func (ws *wsConn) request(ctx context.Context, m wsMessage) error {
	fail := func(p *Problem) error {
		return ws.write(ctx, wsRequestError{Type: "RequestError", RequestID: m.ID, Problem: p})
	}
	if m.Using == nil || m.MethodCalls == nil {
		return fail(&Problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: "a Request has the properties using and methodCalls"})
	}
	done, ok := ws.s.admit(ws.u.AccountID, false)
	if !ok {
		return fail(limitProblem("maxConcurrentRequests", "too many requests at once"))
	}
	defer done()
	ctx = WithMemo(ctx)
	state, err := ws.s.sessionState(ctx, ws.r, ws.u)
	if err != nil {
		ws.s.log.Error("jmap: session state", "err", err)
		return fail(&Problem{Type: ProblemNotRequest, Status: http.StatusServiceUnavailable, Detail: "the server could not list the accounts"})
	}
	resp, p := ws.s.opts.Registry.Run(ctx, ws.u, &Request{Using: m.Using, MethodCalls: m.MethodCalls, CreatedIDs: m.CreatedIDs}, ws.s.opts.Limits, state)
	if p != nil {
		return fail(p)
	}
	return ws.write(ctx, wsResponse{Type: "Response", RequestID: m.ID, Response: resp})
}

// pushState encodes the states a push reported, so that a client that
// reconnects with it hears of every change since (RFC 8887 §4.3.5.2).
func encodePushState(states map[string]map[string]string) string {
	b, _ := json.Marshal(states)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePushState(s string) map[string]map[string]string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	var states map[string]map[string]string
	if json.NewDecoder(bytes.NewReader(b)).Decode(&states) != nil {
		return nil
	}
	return states
}

func (ws *wsConn) enablePush(ctx context.Context, m wsMessage) error {
	ws.disablePush()
	var types map[string]bool
	if m.DataTypes != nil {
		types = map[string]bool{}
		for _, t := range m.DataTypes {
			types[t] = true
		}
	}
	var since map[string]map[string]string
	if m.PushState != "" {
		since = decodePushState(m.PushState)
	}
	p, err := ws.s.newPusher(ctx, ws.u, types, since)
	if err != nil {
		return ws.write(ctx, wsRequestError{Type: "RequestError", Problem: &Problem{Type: ProblemNotRequest, Status: http.StatusServiceUnavailable, Detail: "the server could not read the states"}})
	}
	pctx, cancel := context.WithCancel(ctx)
	ws.pushMu.Lock()
	ws.pushStop = cancel
	ws.pushMu.Unlock()
	go func() {
		defer p.stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-p.wake:
			}
			changed, err := p.diff(pctx)
			if err != nil || changed == nil {
				continue
			}
			if ws.write(pctx, StateChange{Type: "StateChange", Changed: changed, PushState: encodePushState(p.last)}) != nil {
				return
			}
		}
	}()
	return nil
}

func (ws *wsConn) disablePush() {
	ws.pushMu.Lock()
	defer ws.pushMu.Unlock()
	if ws.pushStop != nil {
		ws.pushStop()
		ws.pushStop = nil
	}
}
