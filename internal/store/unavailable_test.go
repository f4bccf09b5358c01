package store

import (
	"errors"
	"fmt"
	"testing"
)

type sqlStateError string

func (e sqlStateError) Error() string    { return "database error " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestIsUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{ErrNotFound, false},
		{fmt.Errorf("select: %w", ErrUnavailable), true},
		{fmt.Errorf("query: %w", sqlStateError("57P01")), true}, // admin_shutdown
		{sqlStateError("57P03"), true},                          // cannot_connect_now
		{sqlStateError("08006"), true},                          // connection_failure
		{sqlStateError("53300"), true},                          // too_many_connections
		{sqlStateError("23505"), false},                         // unique_violation
		{sqlStateError("40001"), false},                         // serialization_failure: the backend retries
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
