package pgstore

import (
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// Two nodes (two stores, two connection pools) on one database race
// counter increments, file creations, one lease and login counts.
func TestSharedTwoNodes(t *testing.T) {
	storetest.RunSharedNodes(t, func(t *testing.T) (a, b storetest.SharedStore) {
		dsn := pgtest.NewDatabase(t)
		return openStore(t, dsn), openStore(t, dsn)
	})
}
