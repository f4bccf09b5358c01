package jmap

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestEvalPointer(t *testing.T) {
	// The shape of RFC 8620 §3.7's example: Email/get's list, whose
	// threadIds Thread/get takes with "/list/*/threadId".
	var resp any
	json.Unmarshal([]byte(`{"accountId":"A1","state":"s","list":[{"id":"M1","threadId":"T1"},{"id":"M2","threadId":"T2"}],
		"notFound":[],"nested":[{"ids":["a","b"]},{"ids":["c"]}],"odd/key~":1}`), &resp)
	for _, tc := range []struct {
		path string
		want any
		bad  bool
	}{
		{path: "/list/*/threadId", want: []any{"T1", "T2"}},
		{path: "/list/0/id", want: "M1"},
		{path: "/nested/*/ids", want: []any{"a", "b", "c"}}, // arrays flattened
		{path: "/odd~1key~0", want: 1.0},
		{path: "", want: resp},
		{path: "/list/2/id", bad: true},
		{path: "/list/01/id", bad: true},
		{path: "/list/-1", bad: true},
		{path: "/missing", bad: true},
		{path: "/state/x", bad: true},
		{path: "list", bad: true},
	} {
		got, err := evalPointer(resp, tc.path)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error, got %v", tc.path, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.path, got, err, tc.want)
		}
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{"M1": true, "a-b_C9": true, "": false, "a b": false, "a.b": false, "é": false,
		strings.Repeat("a", 255): true, strings.Repeat("a", 256): false} {
		if ValidID(s) != want {
			t.Errorf("ValidID(%q) = %v", s, !want)
		}
	}
}

func TestParseRequest(t *testing.T) {
	for body, want := range map[string]string{
		`{"using":[],"methodCalls":[]}`:             "",
		`{"using":[],"methodCalls":[["a",{},"c"]]}`: "",
		`nope`:         ProblemNotJSON,
		`{"using":[]}`: ProblemNotRequest,
		`{"using":[],"methodCalls":[["a",[],"c"]]}`:                                            ProblemNotRequest,
		`{"using":[],"methodCalls":[["a",{}]]}`:                                                ProblemNotRequest,
		`{"using":[],"methodCalls":[[1,{},"c"]]}`:                                              ProblemNotRequest,
		`{"using":"x","methodCalls":[]}`:                                                       ProblemNotRequest,
		`{"using":[],"methodCalls":[` + strings.Repeat(`["a",{},"c"],`, 64) + `["a",{},"c"]]}`: ProblemLimit,
	} {
		_, p := parseRequest([]byte(body), DefaultLimits)
		got := ""
		if p != nil {
			got = p.Type
		}
		if got != want {
			t.Errorf("%.60s: %q, want %q", body, got, want)
		}
	}
}

// TestRunErrorsAndReferences runs requests through a registry with a
// method that panics and one that adds a response.
func TestRunErrorsAndReferences(t *testing.T) {
	reg := NewRegistry(nil)
	reg.Handle("urn:test", "Test/panic", func(context.Context, *Call) (any, error) { panic("boom") })
	reg.Handle("urn:test", "Test/two", func(_ context.Context, c *Call) (any, error) {
		if err := c.Respond("Test/extra", map[string]int{"n": 2}); err != nil {
			return nil, err
		}
		return map[string]int{"n": 1}, nil
	})
	reg.Handle("urn:test", "Test/args", func(_ context.Context, c *Call) (any, error) {
		var args struct {
			IDs []string `json:"ids"`
		}
		if err := c.Decode(&args); err != nil {
			return nil, err
		}
		return args, nil
	})
	req := &Request{Using: []string{CapabilityCore, "urn:test"}, MethodCalls: []Invocation{
		{Name: "Test/panic", Args: json.RawMessage(`{}`), CallID: "p"},
		{Name: "Test/two", Args: json.RawMessage(`{}`), CallID: "t"},
		{Name: "Core/echo", Args: json.RawMessage(`{"ids":["x","y"]}`), CallID: "e"},
		{Name: "Test/args", Args: json.RawMessage(`{"#ids":{"resultOf":"e","name":"Core/echo","path":"/ids"}}`), CallID: "a"},
		{Name: "Test/args", Args: json.RawMessage(`{"ids":[],"#ids":{"resultOf":"e","name":"Core/echo","path":"/ids"}}`), CallID: "both"},
		{Name: "Test/args", Args: json.RawMessage(`{"#ids":{"resultOf":"e","name":"Test/two","path":"/ids"}}`), CallID: "wrongname"},
		{Name: "Test/args", Args: json.RawMessage(`{"unknown":1}`), CallID: "unknown"},
	}}
	resp, p := reg.Run(context.Background(), User{}, req, DefaultLimits, "s")
	if p != nil {
		t.Fatal(p)
	}
	var got []string
	for _, inv := range resp.MethodResponses {
		got = append(got, inv.Name+" "+inv.CallID+" "+string(inv.Args))
	}
	want := []string{
		`error p {"type":"serverFail","description":"the server could not answer this call; it is logged"}`,
		`Test/two t {"n":1}`,
		`Test/extra t {"n":2}`,
		`Core/echo e {"ids":["x","y"]}`,
		`Test/args a {"ids":["x","y"]}`,
		`error both {"type":"invalidArguments","description":"both \"ids\" and \"#ids\" are given"}`,
		`error wrongname {"type":"invalidResultReference","description":"the response to \"e\" is Core/echo, not Test/two"}`,
		`error unknown {"type":"invalidArguments","description":"json: unknown field \"unknown\""}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("responses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"a":1},"c"]]}`))
	f.Add([]byte(`{"using":[],"methodCalls":[["Core/echo",{"#a":{"resultOf":"c","name":"Core/echo","path":"/a/*/b"}},"d"]]}`))
	reg := NewRegistry(nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, p := parseRequest(body, DefaultLimits)
		if p != nil {
			return
		}
		reg.Run(context.Background(), User{}, req, DefaultLimits, "s")
	})
}

func FuzzEvalPointer(f *testing.F) {
	f.Add(`{"list":[{"id":"a"}]}`, "/list/*/id")
	f.Add(`[[1,[2]],[3]]`, "/*/*")
	f.Fuzz(func(t *testing.T, doc, path string) {
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		evalPointer(v, path)
	})
}

// TestResponseJSON: the response written without re-encoding the method
// responses is the JSON encoding/json makes of it.
func TestResponseJSON(t *testing.T) {
	for _, r := range []*Response{
		{MethodResponses: []Invocation{}, SessionState: "s"},
		{MethodResponses: []Invocation{{Name: "Core/echo", Args: json.RawMessage(`{"a":[1,"<b>"]}`), CallID: `c"1`},
			{Name: "error", Args: json.RawMessage(`{"type":"serverFail"}`), CallID: "2"}}, CreatedIDs: map[string]string{"k": "M1"}, SessionState: "x"},
	} {
		want, _ := json.Marshal(r)
		var a, b any
		if err := json.Unmarshal(r.appendJSON(nil), &a); err != nil {
			t.Fatalf("%s: %v", r.appendJSON(nil), err)
		}
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("got %s, want %s", r.appendJSON(nil), want)
		}
	}
}
