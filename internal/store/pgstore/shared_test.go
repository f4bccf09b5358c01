package pgstore

import (
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// Shared files and leases pass the conformance tests every backend passes.
func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) storetest.SharedStore {
		return openStore(t, pgtest.NewDatabase(t))
	})
}

// Two nodes (two stores, two connection pools) on one database race
// counter increments, file creations and one lease.
func TestSharedTwoNodes(t *testing.T) {
	storetest.RunSharedNodes(t, func(t *testing.T) (a, b storetest.SharedStore) {
		dsn := pgtest.NewDatabase(t)
		return openStore(t, dsn), openStore(t, dsn)
	})
}
