package main

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
	} {
		got := h.quantile(c.q)
		if diff := float64(got-c.want) / float64(c.want); diff < -0.04 || diff > 0.04 {
			t.Errorf("quantile(%v) = %v, want about %v", c.q, got, c.want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 997 {
		b := histBucket(v)
		if mid := histMid(b); mid < float64(v)*0.95-1 || mid > float64(v)*1.05+1 {
			t.Fatalf("value %d lands in bucket %d with middle %v", v, b, mid)
		}
	}
}
