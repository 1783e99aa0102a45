package proto

import (
	"math/bits"
	"sync"
)

// Message buffers come from pools by power-of-two size, shared by all
// connections, so that a connection between messages holds none.
const (
	minBufShift = 10 // 1 KiB
	maxBufShift = 20 // 1 MiB; larger buffers are left to the collector
)

var bufPools [maxBufShift - minBufShift + 1]sync.Pool

func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// getBuf returns an empty buffer with room for at least n bytes.
func getBuf(n int) *[]byte {
	c := bufClass(n)
	if c < len(bufPools) {
		if p, ok := bufPools[c].Get().(*[]byte); ok {
			return p
		}
		b := make([]byte, 0, 1<<(c+minBufShift))
		return &b
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf returns a buffer from getBuf, or one it grew into, to its pool.
func putBuf(p *[]byte) {
	n := cap(*p)
	if n < 1<<minBufShift || n > 1<<maxBufShift || n&(n-1) != 0 {
		return // not a pool size: appending grew it by its own rule
	}
	*p = (*p)[:0]
	bufPools[bufClass(n)].Put(p)
}
