package main

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// TestDeflatePayloads checks the messages of the deflate scenario: exact
// sizes, text, the same in every run, distinct, and compressible.
func TestDeflatePayloads(t *testing.T) {
	sizes := []int{1, 1 << 10, 64 << 10}
	all, err := makeDeflatePayloads(sizes)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := makeDeflatePayloads(sizes)
	for _, size := range sizes {
		vs := all[size]
		if len(vs) != deflateVariants {
			t.Fatalf("size %d: %d variants", size, len(vs))
		}
		for i, v := range vs {
			if len(v.plain) != size || !utf8.Valid(v.plain) {
				t.Fatalf("size %d variant %d: %d bytes, UTF-8 %v", size, i, len(v.plain), utf8.Valid(v.plain))
			}
			if !bytes.Equal(v.plain, again[size][i].plain) || !bytes.Equal(v.z, again[size][i].z) {
				t.Fatalf("size %d variant %d differs between runs", size, i)
			}
			if size >= 1<<10 && (i > 0 && bytes.Equal(v.plain, vs[i-1].plain) || len(v.z) > size*6/10) {
				t.Errorf("size %d variant %d: a repeat, or %d bytes compressed", size, i, len(v.z))
			}
		}
		t.Logf("size %d: compressed to %d bytes (%.0f%%)", size, len(vs[0].z), 100*float64(len(vs[0].z))/float64(size))
	}
}
