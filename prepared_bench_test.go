//go:build !js

package wsd

import (
	"testing"

	"github.com/wsd-go/wsd/internal/deflate"
	"github.com/wsd-go/wsd/internal/proto"
)

func openServerConn(opts *Options) *Conn {
	c := newConn(proto.Server, opts)
	c.nc = &loopConn{}
	c.state.Store(int32(Open))
	return c
}

// Sending a prepared message costs a server connection no allocation,
// compressed or not.
func TestSendPreparedAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	small, _ := NewPreparedMessage(TextMessage, []byte("hello, everyone"))
	large, _ := NewPreparedMessage(BinaryMessage, make([]byte, 4<<10))
	for _, z := range []bool{false, true} {
		c := openServerConn(nil)
		if z {
			c.z = &compression{cz: deflate.NewCompressor(0, 15, false)}
		}
		c.SendPrepared(small, large) // makes the compressed frames
		allocs := testing.AllocsPerRun(200, func() {
			if err := c.SendPrepared(small, large, small); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("SendPrepared (compressed %v): %v allocations, want 0", z, allocs)
		}
	}
}

// BenchmarkSendPrepared is the cost for one receiver of one message
// already prepared, without the kernel.
func BenchmarkSendPrepared(b *testing.B) {
	p, _ := NewPreparedMessage(TextMessage, make([]byte, 128))
	c := openServerConn(nil)
	b.ReportAllocs()
	for b.Loop() {
		c.SendPrepared(p)
	}
}
