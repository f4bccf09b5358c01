package pgstore

import (
	"context"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
)

// BenchmarkJunkModels reads what classifying one message for two
// recipients needs: their models and the base model, 300 token hashes
// each, against models of 5,000 tokens.
func BenchmarkJunkModels(b *testing.B) {
	ctx := context.Background()
	st := openStore(b, pgtest.NewDatabase(b))
	var ids []int64
	for _, email := range []string{"a@example.test", "b@example.test"} {
		if _, err := st.CreateDomain(ctx, "example.test"); err != nil && ids == nil {
			b.Fatal(err)
		}
		acct, err := st.CreateAccount(ctx, email, testCred)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, acct.ID)
	}
	ids = append(ids, store.JunkBaseModel)
	corpus := make([]uint64, 5000)
	for i := range corpus {
		corpus[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	for _, id := range ids {
		if _, err := st.TrainJunk(ctx, []store.JunkTraining{{AccountID: id, As: store.JunkSpam, Hashes: corpus}}); err != nil {
			b.Fatal(err)
		}
	}
	msg := make([]uint64, 300)
	for i := range msg {
		msg[i] = corpus[i*7] + uint64(i%2) // half known, half not
	}
	b.ResetTimer()
	for b.Loop() {
		ms, err := st.JunkModels(ctx, ids, msg)
		if err != nil {
			b.Fatal(err)
		}
		if len(ms) != 3 || len(ms[0].Counts) != 150 {
			b.Fatalf("%d models, %d counts", len(ms), len(ms[0].Counts))
		}
	}
}
