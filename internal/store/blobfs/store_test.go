package blobfs

import (
	"testing"

	"mailroom/internal/store/blob"
	"mailroom/internal/store/blob/blobtest"
)

// The files pass the conformance suite every blob store passes.
func TestBlobConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		fs, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return fs.Blobs()
	})
}
