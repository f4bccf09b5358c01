package sendas

import (
	"context"
	"errors"
	"testing"

	"mailroom/internal/address"
	"mailroom/internal/store"
)

// dir is a directory of aliases: the table the rule reads, not a copy of
// any behaviour of ours.
type dir map[string][]string

func (d dir) LookupAddress(_ context.Context, a string) (store.AddressInfo, error) {
	if a == "broken@example.org" {
		return store.AddressInfo{}, errors.New("store away")
	}
	return store.AddressInfo{LocalDomain: true, AliasTargets: d[a]}, nil
}

func TestCheck(t *testing.T) {
	d := dir{
		"sales@example.org": {"ann@example.org", "bob@example.org"},
		"boss@example.org":  {"carol@example.org"},
	}
	grants := []store.Delegation{
		{Owner: "carol@example.org", Mode: store.SendOnBehalf},
		{Owner: "carol@example.org", Mode: store.SendAs},
		{Owner: "dave@example.org", Mode: store.SendOnBehalf},
	}
	calls := 0
	lazy := func() ([]store.Delegation, error) { calls++; return grants, nil }
	for _, tc := range []struct {
		addr string
		own  bool
		mode store.DelegationMode
	}{
		{"ann@example.org", true, 0},
		{"Ann+lists@Example.org", true, 0}, // plus-address, any case
		{"sales@example.org", true, 0},     // an alias that delivers to ann
		{"carol@example.org", false, store.SendAs},
		{"boss@example.org", false, store.SendAs}, // an alias of a delegating owner
		{"dave+x@example.org", false, store.SendOnBehalf},
		{"eve@example.org", false, 0},
	} {
		a, err := address.Parse(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Check(context.Background(), d, "+", "ANN@example.org", a, lazy)
		if err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		if r.Own != tc.own || r.Grant.Mode != tc.mode || r.Allowed() != (tc.own || tc.mode != 0) {
			t.Errorf("%s: %+v, want own %v mode %v", tc.addr, r, tc.own, tc.mode)
		}
	}
	// Own addresses need no delegations: the lazy read happens only for
	// the others (4 of them above).
	if calls != 4 {
		t.Errorf("delegations read %d times, want 4", calls)
	}
	a, _ := address.Parse("broken@example.org")
	if _, err := Check(context.Background(), d, "+", "ann@example.org", a, lazy); err == nil {
		t.Error("a store failure is not an answer")
	}
}
