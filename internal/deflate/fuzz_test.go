package deflate

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wsd-go/wsd/internal/proto"
)

// compressed returns p as a permessage-deflate payload, without the tail.
func compressed(t testing.TB, p []byte) []byte {
	c := NewCompressor(1, 15, false)
	defer c.Release()
	return compress(t, c, p)
}

// FuzzDecompress feeds arbitrary payloads to the inflater: it never
// panics, never produces more than the limit, fails only with ErrTooBig or
// ErrCorrupt, and what it inflates, compressed again, inflates the same.
func FuzzDecompress(f *testing.F) {
	f.Add(compressed(f, []byte("Hello")), int64(100))
	f.Add(compressed(f, bytes.Repeat([]byte("a"), 1<<16)), int64(1000))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, int64(5)) // RFC 7692 7.2.3.1
	f.Add([]byte{0xff, 0xff}, int64(10))
	f.Fuzz(func(t *testing.T, src []byte, limit int64) {
		if limit < 0 || limit > 1<<20 {
			limit = 1 << 20
		}
		d := NewDecompressor(15, false)
		out, err := d.Decompress(nil, src, limit)
		if int64(len(out)) > limit {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
		if err != nil {
			if !errors.Is(err, proto.ErrTooBig) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		again, err := NewDecompressor(15, false).Decompress(nil, compressed(t, out), limit)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-compressed message does not round-trip: %v", err)
		}
	})
}
