package wsclient

import (
	"encoding/binary"
	"testing"
	"unicode/utf8"
)

// TestFrameRoundTrip builds frames of several sizes, unmasks them the way a
// server does and checks the payload against the pattern.
func TestFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 100003} {
		for _, op := range []byte{OpText, OpBinary} {
			seed := Seed(3, uint64(size))
			key := uint32(0xA1B2C3D4)
			f := AppendFrame([]byte("junk"), op, size, seed, key)[4:]
			if f[0] != 0x80|op {
				t.Fatalf("size %d: first byte %#x", size, f[0])
			}
			n, off := int(f[1]&0x7f), 2
			switch n {
			case 126:
				n, off = int(binary.BigEndian.Uint16(f[2:])), 4
			case 127:
				n, off = int(binary.BigEndian.Uint64(f[2:])), 10
			}
			if n != size || f[1]&0x80 == 0 {
				t.Fatalf("size %d: header says %d bytes, masked %v", size, n, f[1]&0x80 != 0)
			}
			mask := f[off : off+4]
			p := append([]byte(nil), f[off+4:]...)
			for i := range p {
				p[i] ^= mask[i%4]
			}
			if !Verify(p, seed, op == OpText) {
				t.Fatalf("size %d op %d: payload does not match its pattern", size, op)
			}
			if op == OpText && !utf8.Valid(p) {
				t.Fatalf("size %d: text payload is not UTF-8", size)
			}
			if size > 0 {
				p[size/2] ^= 1
				if Verify(p, seed, op == OpText) {
					t.Fatalf("size %d: a flipped bit was not detected", size)
				}
				p[size/2] ^= 1
				other := make([]byte, size)
				Fill(other, Seed(4, uint64(size)), op == OpText)
				if Verify(other, seed, op == OpText) {
					t.Fatalf("size %d: the pattern of another message matched", size)
				}
			}
		}
	}
}

// TestSeedsDiffer checks that neighbouring messages get different patterns.
func TestSeedsDiffer(t *testing.T) {
	seen := map[uint64]bool{}
	for c := uint64(0); c < 50; c++ {
		for s := uint64(0); s < 50; s++ {
			seed := Seed(c, s)
			if seen[seed] {
				t.Fatalf("seed collision at conn %d seq %d", c, s)
			}
			seen[seed] = true
		}
	}
}
