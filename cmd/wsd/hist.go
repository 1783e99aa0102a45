//go:build !js

package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a log-linear histogram of durations in the manner of HDR
// histograms: 128 linear sub-buckets per power of two of nanoseconds,
// so a recorded value is known to within 1%. Safe for concurrent use.
type hist struct {
	counts [(maxExp + 2) << subBits]atomic.Uint64
	n, sum atomic.Uint64
	max    atomic.Int64
}

const (
	subBits = 7
	maxExp  = 40 - subBits // values up to 2^40 ns, about 18 minutes
)

func bucket(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1
	if e > maxExp {
		return (maxExp+2)<<subBits - 1
	}
	return (e+1)<<subBits + int(v>>e) - 1<<subBits
}

// bucketValue is the middle of bucket i's range.
func bucketValue(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	e := i>>subBits - 1
	low := uint64(i&(1<<subBits-1)+1<<subBits) << e
	return low + (1<<e)/2
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d))].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the value under which a fraction q of the values lie.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	target := uint64(q*float64(n) + 0.5)
	target = max(target, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= target {
			// A bucket's middle may lie above the largest value seen.
			return min(time.Duration(bucketValue(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

func (h *hist) mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}
