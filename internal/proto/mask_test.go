package proto

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveMask is RFC 6455 section 5.3 as written: octet i is XORed with
// octet (i MOD 4) of the key, i counted from the start of the payload.
func naiveMask(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
}

func TestMaskMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	backing := make([]byte, 256)
	// Every key offset, every length up to 100, every alignment of the
	// slice in memory up to 8.
	for pos := range 8 {
		for length := 0; length <= 100; length++ {
			for align := range 8 {
				for i := range backing {
					backing[i] = byte(rng.Uint32())
				}
				orig := bytes.Clone(backing)
				want := bytes.Clone(backing[align : align+length])
				naiveMask(key, pos, want)
				next := Mask(key, pos, backing[align:align+length])
				if !bytes.Equal(backing[align:align+length], want) {
					t.Fatalf("Mask(pos %d, len %d, align %d) = %x, want %x", pos, length, align, backing[align:align+length], want)
				}
				if next != (pos+length)%4 {
					t.Fatalf("Mask(pos %d, len %d) returned %d, want %d", pos, length, next, (pos+length)%4)
				}
				if !bytes.Equal(backing[:align], orig[:align]) || !bytes.Equal(backing[align+length:], orig[align+length:]) {
					t.Fatalf("Mask(pos %d, len %d, align %d) wrote outside its slice", pos, length, align)
				}
			}
		}
	}
}

func TestMaskRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 600 {
		var key [4]byte
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		n := rng.IntN(5000)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		orig := bytes.Clone(b)
		want := bytes.Clone(b)
		naiveMask(key, 0, want)

		// In one go.
		got := bytes.Clone(b)
		Mask(key, 0, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("Mask(key %x, %d bytes) differs from the naive loop", key, n)
		}
		// In random pieces, carrying the returned offset, as a payload
		// split across reads is unmasked.
		got = bytes.Clone(b)
		pos := 0
		for rest := got; len(rest) > 0; {
			k := 1 + rng.IntN(min(len(rest), 70))
			pos = Mask(key, pos, rest[:k])
			rest = rest[k:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Mask in pieces (key %x, %d bytes) differs from the naive loop", key, n)
		}
		// Masking twice restores the data.
		Mask(key, 0, got)
		if !bytes.Equal(got, orig) {
			t.Fatalf("masking twice did not restore %d bytes", n)
		}
	}
}

// Offsets beyond 3 are taken modulo 4.
func TestMaskOffsetWraps(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for pos := range 16 {
		got := make([]byte, 13)
		want := make([]byte, 13)
		next := Mask(key, pos, got)
		naiveMask(key, pos, want)
		if !bytes.Equal(got, want) || next != (pos+13)%4 {
			t.Errorf("Mask(pos %d) = %x, %d; want %x, %d", pos, got, next, want, (pos+13)%4)
		}
	}
}

// RFC 6455 section 5.3: the masking key "MUST be unpredictable" and
// fresh for each frame.
func TestNewMaskKey(t *testing.T) {
	seen := make(map[[4]byte]bool)
	const n = 3000 // spans several refills of the key buffer
	for range n {
		seen[NewMaskKey()] = true
	}
	// 3000 random 32-bit keys collide with probability about 0.1%.
	if len(seen) < n-2 {
		t.Errorf("%d distinct keys out of %d", len(seen), n)
	}
	c := NewMachine(Config{Role: Client})
	a := c.AppendFrame(nil, OpText, true, 0, []byte("x"))
	b := c.AppendFrame(nil, OpText, true, 0, []byte("x"))
	if bytes.Equal(a[2:6], b[2:6]) {
		t.Errorf("two frames were masked with the same key %x", a[2:6])
	}
}
