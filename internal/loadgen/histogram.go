package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// histogram estimates latency percentiles in bounded memory: a log-linear
// bucket histogram in the style of HDR Histogram. Values below 128 ns are
// exact; above, every power of two is split into 64 buckets, so an estimate is
// within 1/128 of the true value while the whole range of int64 nanoseconds
// needs at most 3712 counters. Keeping every sample would grow without bound
// on a long run; reservoir sampling would lose the tail that p99 is about.
//
// A histogram is not safe for concurrent use; the recorder serialises it.
type histogram struct {
	counts []uint64 // grown on demand up to the largest bucket seen
	n      uint64
	max    time.Duration
}

const (
	subBits    = 6            // log2 of buckets per power of two
	subBuckets = 1 << subBits // 64
	exactBelow = 2 * subBuckets
)

// bucketOf returns the bucket index of v (v >= 0).
func bucketOf(v uint64) int {
	if v < exactBelow {
		return int(v)
	}
	shift := bits.Len64(v) - (subBits + 1)
	return shift*subBuckets + int(v>>shift)
}

// bucketValue returns a representative value of bucket i: its midpoint, so
// the error is at most half a bucket either way.
func bucketValue(i int) uint64 {
	if i < exactBelow {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	top := uint64(subBuckets + i%subBuckets)
	return top<<shift + (uint64(1)<<shift)/2
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	h.n++
	h.max = max(h.max, d)
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1), never more than
// the exact maximum, or 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return h.max // known exactly
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketValue(i)), h.max)
		}
	}
	return h.max
}
