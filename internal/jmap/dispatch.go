package jmap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
)

// Limits are the core capability's limits (RFC 8620 §2), advertised in the
// session resource and enforced: the request-level ones by the API
// endpoint, the per-method ones by the methods (Call.Limits).
type Limits struct {
	MaxSizeUpload         int64    `json:"maxSizeUpload"`
	MaxConcurrentUpload   int      `json:"maxConcurrentUpload"`
	MaxSizeRequest        int64    `json:"maxSizeRequest"`
	MaxConcurrentRequests int      `json:"maxConcurrentRequests"`
	MaxCallsInRequest     int      `json:"maxCallsInRequest"`
	MaxObjectsInGet       int      `json:"maxObjectsInGet"`
	MaxObjectsInSet       int      `json:"maxObjectsInSet"`
	CollationAlgorithms   []string `json:"collationAlgorithms"`
}

// DefaultLimits are what a server advertises unless configured otherwise:
// the RFC's suggested minimums, raised where a web client benefits
// (a page of 500 messages in one Email/get).
var DefaultLimits = Limits{
	MaxSizeUpload:         50 << 20,
	MaxConcurrentUpload:   4,
	MaxSizeRequest:        10_000_000,
	MaxConcurrentRequests: 4,
	MaxCallsInRequest:     64,
	MaxObjectsInGet:       1000,
	MaxObjectsInSet:       1000,
	CollationAlgorithms:   []string{"i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"},
}

// User is who a request is made by, as the caller's Authenticator found.
type User struct {
	AccountID int64
	Email     string
}

// Method answers one method call: the response arguments (marshalled to
// JSON), or an error. A *MethodError is answered as it is; any other error
// is logged and answered as serverFail.
type Method func(ctx context.Context, c *Call) (any, error)

type methodEntry struct {
	capability string
	fn         Method
}

// Registry holds the capabilities and methods a server offers. Register
// everything before serving; it is read-only afterwards.
type Registry struct {
	methods      map[string]methodEntry
	capabilities map[string]any
	log          *slog.Logger
}

// NewRegistry returns a registry with JMAP Core (Core/echo).
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{methods: map[string]methodEntry{}, capabilities: map[string]any{}, log: log}
	r.Handle(CapabilityCore, "Core/echo", func(_ context.Context, c *Call) (any, error) {
		return c.Args, nil
	})
	return r
}

// Capability declares a capability with the object the session resource
// shows for it (its server-wide properties; per-account ones come from
// the accounts).
func (r *Registry) Capability(uri string, value any) {
	if value == nil {
		value = struct{}{}
	}
	r.capabilities[uri] = value
}

// Handle registers a method of a capability.
func (r *Registry) Handle(capability, name string, m Method) {
	if _, ok := r.capabilities[capability]; !ok && capability != CapabilityCore {
		r.capabilities[capability] = struct{}{}
	}
	r.methods[name] = methodEntry{capability: capability, fn: m}
}

// Capabilities returns the capability URIs, sorted.
func (r *Registry) Capabilities() []string {
	out := make([]string, 0, len(r.capabilities)+1)
	out = append(out, CapabilityCore)
	for k := range r.capabilities {
		if k != CapabilityCore {
			out = append(out, k)
		}
	}
	sort.Strings(out[1:])
	return out
}

// Call is one method call being answered.
type Call struct {
	Name   string
	CallID string
	// Args are the arguments, with every result reference resolved.
	Args   json.RawMessage
	User   User
	Limits Limits
	req    *requestState
}

// requestState is what the calls of one request share.
type requestState struct {
	using     map[string]bool
	created   map[string]string
	responses []Invocation
	decoded   map[int]any // responses decoded for result references, by index
}

// Decode unmarshals the arguments into v, refusing unknown properties:
// an error is an invalidArguments MethodError naming the problem.
func (c *Call) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(ErrInvalidArguments, err.Error())
	}
	return nil
}

// Using reports whether the request declared the capability.
func (c *Call) Using(capability string) bool { return c.req.using[capability] }

// CreatedID returns the id an earlier /set or /copy of this request (or
// the request's createdIds) gave the creation id (without its "#").
func (c *Call) CreatedID(creationID string) (string, bool) {
	id, ok := c.req.created[creationID]
	return id, ok
}

// Created records that the object with creation id got id.
func (c *Call) Created(creationID, id string) { c.req.created[creationID] = id }

// ResolveID returns id, or the id its creation reference ("#cid") stands for.
func (c *Call) ResolveID(id string) (string, bool) {
	if cid, ok := strings.CutPrefix(id, "#"); ok {
		return c.CreatedID(cid)
	}
	return id, true
}

// Respond adds a response after this call's own (RFC 8620 §5.4: the
// implicit Email/set of Email/copy's onSuccessDestroyOriginal).
func (c *Call) Respond(name string, args any) error {
	b, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("jmap: marshal %s response: %w", name, err)
	}
	c.req.responses = append(c.req.responses, Invocation{Name: name, Args: b, CallID: c.CallID})
	return nil
}

// Run answers a request: a request-level Problem, or the responses of its
// method calls, run in order. Limits on the request as a whole
// (MaxCallsInRequest) are checked here; its size by the HTTP handler.
func (r *Registry) Run(ctx context.Context, u User, req *Request, limits Limits, sessionState string) (*Response, *Problem) {
	if len(req.MethodCalls) > limits.MaxCallsInRequest {
		return nil, limitProblem("maxCallsInRequest", fmt.Sprintf("%d method calls; at most %d are allowed", len(req.MethodCalls), limits.MaxCallsInRequest))
	}
	ctx = WithMemo(ctx)
	st := &requestState{using: map[string]bool{}, created: map[string]string{}, decoded: map[int]any{}}
	for _, u := range req.Using {
		if _, ok := r.capabilities[u]; !ok && u != CapabilityCore {
			return nil, &Problem{Type: ProblemUnknownCapability, Status: http.StatusBadRequest, Detail: fmt.Sprintf("the server does not support %q", u)}
		}
		st.using[u] = true
	}
	for k, v := range req.CreatedIDs {
		st.created[k] = v
	}
	for _, inv := range req.MethodCalls {
		if err := ctx.Err(); err != nil {
			break
		}
		r.runCall(ctx, u, limits, st, inv)
	}
	resp := &Response{MethodResponses: st.responses, SessionState: sessionState}
	if resp.MethodResponses == nil {
		resp.MethodResponses = []Invocation{}
	}
	if req.CreatedIDs != nil {
		resp.CreatedIDs = st.created
	}
	return resp, nil
}

func (r *Registry) runCall(ctx context.Context, u User, limits Limits, st *requestState, inv Invocation) {
	fail := func(err *MethodError) {
		b, _ := json.Marshal(err)
		st.responses = append(st.responses, Invocation{Name: "error", Args: b, CallID: inv.CallID})
	}
	m, ok := r.methods[inv.Name]
	if !ok || !st.using[m.capability] {
		fail(Errorf(ErrUnknownMethod, fmt.Sprintf("no method %q among the capabilities in use", inv.Name)))
		return
	}
	args, merr := st.resolveReferences(inv.Args)
	if merr != nil {
		fail(merr)
		return
	}
	c := &Call{Name: inv.Name, CallID: inv.CallID, Args: args, User: u, Limits: limits, req: st}
	// The call's own response goes before any it adds with Respond.
	at := len(st.responses)
	st.responses = append(st.responses, Invocation{})
	res, err := r.call(ctx, m.fn, c)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(res); err == nil {
			st.responses[at] = Invocation{Name: inv.Name, Args: b, CallID: inv.CallID}
			return
		}
		err = fmt.Errorf("marshal response: %w", err)
	}
	me, ok := AsMethodError(err)
	if !ok {
		r.log.Error("jmap: method failed", "method", inv.Name, "account", u.Email, "err", err)
		me = Errorf(ErrServerFail, "the server could not answer this call; it is logged")
	}
	// A failed call's extra responses are dropped with it.
	st.responses = st.responses[:at]
	fail(me)
}

// call runs one method, turning a panic into an error: one call fails,
// never the session or the server.
func (r *Registry) call(ctx context.Context, fn Method, c *Call) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("jmap: panic in method", "method", c.Name, "panic", p, "stack", string(debug.Stack()))
			res, err = nil, errors.New("panic")
		}
	}()
	return fn(ctx, c)
}

// resolveReferences replaces every "#name": ResultReference argument by
// the value it points to (RFC 8620 §3.7).
func (st *requestState) resolveReferences(args json.RawMessage) (json.RawMessage, *MethodError) {
	if !bytes.Contains(args, []byte(`"#`)) {
		return args, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil {
		return nil, Errorf(ErrInvalidArguments, err.Error())
	}
	changed := false
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "#")
		if !ok {
			continue
		}
		if _, both := m[name]; both {
			return nil, Errorf(ErrInvalidArguments, fmt.Sprintf("both %q and %q are given", name, k))
		}
		var ref ResultReference
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ref); err != nil {
			return nil, Errorf(ErrInvalidResultReference, fmt.Sprintf("%s: %v", k, err))
		}
		val, merr := st.lookup(ref)
		if merr != nil {
			return nil, merr
		}
		b, err := json.Marshal(val)
		if err != nil {
			return nil, Errorf(ErrInvalidResultReference, err.Error())
		}
		delete(m, k)
		m[name] = b
		changed = true
	}
	if !changed {
		return args, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, Errorf(ErrInvalidArguments, err.Error())
	}
	return b, nil
}

// lookup evaluates a reference against the responses so far: only earlier
// calls can be referred to, so references cannot form a cycle.
func (st *requestState) lookup(ref ResultReference) (any, *MethodError) {
	for i, resp := range st.responses {
		if resp.CallID != ref.ResultOf {
			continue
		}
		if resp.Name != ref.Name {
			return nil, Errorf(ErrInvalidResultReference, fmt.Sprintf("the response to %q is %s, not %s", ref.ResultOf, resp.Name, ref.Name))
		}
		v, ok := st.decoded[i]
		if !ok {
			if err := json.Unmarshal(resp.Args, &v); err != nil {
				return nil, Errorf(ErrInvalidResultReference, err.Error())
			}
			st.decoded[i] = v
		}
		out, err := evalPointer(v, ref.Path)
		if err != nil {
			return nil, Errorf(ErrInvalidResultReference, fmt.Sprintf("%s of %q: %v", ref.Path, ref.ResultOf, err))
		}
		return out, nil
	}
	return nil, Errorf(ErrInvalidResultReference, fmt.Sprintf("no earlier response with id %q", ref.ResultOf))
}
