package loadgen

import (
	"slices"
	"testing"
)

func TestUsersOf(t *testing.T) {
	o, err := Options{Addr: "x:1", Users: "u%d@example.test", Clients: 3, UserCount: 7, Cycles: 1}.normalized()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"u1@example.test", "u4@example.test", "u7@example.test"},
		{"u2@example.test", "u5@example.test"},
		{"u3@example.test", "u6@example.test"},
	}
	for i, w := range want {
		if got := o.usersOf(i); !slices.Equal(got, w) {
			t.Errorf("client %d: %q, want %q", i, got, w)
		}
	}

	// Fewer users than clients: they share.
	o, _ = Options{Addr: "x:1", Users: "u%d", Clients: 3, UserFirst: 10, UserCount: 2, Cycles: 1}.normalized()
	for i, w := range []string{"u10", "u11", "u10"} {
		if got := o.usersOf(i); !slices.Equal(got, []string{w}) {
			t.Errorf("client %d: %q, want %q", i, got, w)
		}
	}

	// Defaults: one user per client from 1.
	o, _ = Options{Addr: "x:1", Users: "u%d", Clients: 2, Cycles: 1}.normalized()
	if got := append(o.usersOf(0), o.usersOf(1)...); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Errorf("defaults: %q", got)
	}
}
