//go:build !js

package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistQuantiles compares the histogram's quantiles with exact ones
// over random durations spread across several orders of magnitude.
func TestHistQuantiles(t *testing.T) {
	var h hist
	var exact []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := time.Duration(r.ExpFloat64() * float64(time.Duration(r.IntN(3)+1)*time.Millisecond))
		h.record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := exact[int(q*float64(len(exact)))-1]
		got := h.quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.01 || diff < -0.01 {
			t.Errorf("p%v: %v, exact %v", q*100, got, want)
		}
	}
	if got := h.quantile(1); got != exact[len(exact)-1] {
		t.Errorf("max %v, exact %v", got, exact[len(exact)-1])
	}
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 1000, 1 << 20, 1<<40 - 1} {
		if b := bucketValue(bucket(v)); float64(b) < float64(v)*0.99 || float64(b) > float64(v)*1.01+1 {
			t.Errorf("value %d falls in a bucket worth %d", v, b)
		}
	}
}
