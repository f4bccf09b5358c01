package jmap

import (
	"context"
	"sync"
)

// A request's method calls often need the same things (the accounts a
// user reaches, with their folders): the memo computes each once per
// request. It lives in the context of the request's handling.

type memoKey struct{}

type memo struct {
	mu     sync.Mutex
	values map[any]any
}

// WithMemo returns a context carrying a new, empty request memo.
func WithMemo(ctx context.Context) context.Context {
	if _, ok := ctx.Value(memoKey{}).(*memo); ok {
		return ctx
	}
	return context.WithValue(ctx, memoKey{}, &memo{values: map[any]any{}})
}

// Memo returns what fn computed for key earlier in this request, or
// computes it now (errors are not kept). Without a memo in ctx it just
// calls fn.
func Memo[T any](ctx context.Context, key any, fn func() (T, error)) (T, error) {
	m, ok := ctx.Value(memoKey{}).(*memo)
	if !ok {
		return fn()
	}
	m.mu.Lock()
	v, ok := m.values[key]
	m.mu.Unlock()
	if ok {
		return v.(T), nil
	}
	t, err := fn()
	if err != nil {
		return t, err
	}
	m.mu.Lock()
	m.values[key] = t
	m.mu.Unlock()
	return t, nil
}

// Forget drops key from the request's memo: after a call changed what it
// held (a Mailbox created, say).
func Forget(ctx context.Context, key any) {
	if m, ok := ctx.Value(memoKey{}).(*memo); ok {
		m.mu.Lock()
		delete(m.values, key)
		m.mu.Unlock()
	}
}
