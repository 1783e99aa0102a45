package proto

import (
	"encoding/binary"
	"math/bits"
)

// Mask XORs b in place with the masking key, starting at key offset pos,
// and returns the key offset for the byte after b. Masking twice unmasks.
func Mask(key [4]byte, pos int, b []byte) int {
	end := (pos + len(b)) & 3
	// The key as a little-endian word, turned so that its low byte
	// masks b[0].
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*(pos&3))
	k := uint64(k32) | uint64(k32)<<32
	for len(b) >= 64 {
		q := b[:64:64]
		binary.LittleEndian.PutUint64(q, binary.LittleEndian.Uint64(q)^k)
		binary.LittleEndian.PutUint64(q[8:], binary.LittleEndian.Uint64(q[8:])^k)
		binary.LittleEndian.PutUint64(q[16:], binary.LittleEndian.Uint64(q[16:])^k)
		binary.LittleEndian.PutUint64(q[24:], binary.LittleEndian.Uint64(q[24:])^k)
		binary.LittleEndian.PutUint64(q[32:], binary.LittleEndian.Uint64(q[32:])^k)
		binary.LittleEndian.PutUint64(q[40:], binary.LittleEndian.Uint64(q[40:])^k)
		binary.LittleEndian.PutUint64(q[48:], binary.LittleEndian.Uint64(q[48:])^k)
		binary.LittleEndian.PutUint64(q[56:], binary.LittleEndian.Uint64(q[56:])^k)
		b = b[64:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k)
		k >>= 8
	}
	return end
}
