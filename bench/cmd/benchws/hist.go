package main

import (
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets: exact below 32 ns,
// then 32 buckets per power of two, which bounds the error of a quantile
// to about 3%. Recording never allocates.
type histogram struct {
	counts [64 * histSub]uint64
	total  uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1
	return (e+1)*histSub + int(v>>e) - histSub
}

// histMid returns the middle of bucket b in nanoseconds.
func histMid(b int) float64 {
	if b < histSub {
		return float64(b)
	}
	e := b/histSub - 1
	lower := uint64(b%histSub+histSub) << e
	return float64(lower) + float64(uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histBucket(uint64(d))]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the duration below which a fraction q of the recorded
// values lie, or 0 if nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total))
	if rank >= h.total {
		rank = h.total - 1
	}
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(histMid(b))
		}
	}
	return 0
}
