package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramDistributions compares the estimator with exact nearest-rank
// percentiles of known distributions.
func TestHistogramDistributions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"constant": func() time.Duration { return 1234567 * time.Nanosecond },
		"uniform":  func() time.Duration { return time.Duration(rng.Int64N(int64(100 * time.Millisecond))) },
		"exponential": func() time.Duration {
			return time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond))
		},
		// Mostly fast with a slow tail, as a server under load looks.
		"bimodal": func() time.Duration {
			if rng.IntN(100) < 3 {
				return 500*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second)))
			}
			return 200*time.Microsecond + time.Duration(rng.Int64N(int64(100*time.Microsecond)))
		},
		"tiny": func() time.Duration { return time.Duration(rng.Int64N(100)) },
	}
	for name, gen := range dists {
		var h histogram
		samples := make([]time.Duration, 200000)
		for i := range samples {
			samples[i] = gen()
			h.add(samples[i])
		}
		slices.Sort(samples)
		for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			exact := samples[int(math.Ceil(q*float64(len(samples))))-1]
			got := h.quantile(q)
			if diff := math.Abs(float64(got - exact)); diff > float64(exact)/128+0.5 {
				t.Errorf("%s: q%v = %v, exact %v", name, q, got, exact)
			}
		}
		if h.max != samples[len(samples)-1] {
			t.Errorf("%s: max %v, want %v", name, h.max, samples[len(samples)-1])
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Buckets are monotonic and each value falls in its own bucket's range.
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := bucketOf(v)
		if i < prev {
			t.Errorf("bucketOf(%d) = %d < %d", v, i, prev)
		}
		prev = i
		if mid := bucketValue(i); math.Abs(float64(mid)-float64(v)) > float64(v)/128+0.5 {
			t.Errorf("bucketValue(bucketOf(%d)) = %d", v, mid)
		}
	}
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Error("empty histogram")
	}
	h.add(-time.Second)
	h.add(math.MaxInt64)
	if h.quantile(0.5) != 0 || h.quantile(1) != math.MaxInt64 || len(h.counts) > 3712 {
		t.Errorf("extremes: %v %v %d", h.quantile(0.5), h.quantile(1), len(h.counts))
	}
}
