//go:build !js

package wsd

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// loopConn is a net.Conn whose reads replay the same bytes forever and
// whose writes are discarded: the transport and core without the kernel.
type loopConn struct {
	in  []byte
	off int
}

func (l *loopConn) Read(p []byte) (int, error) {
	n := copy(p, l.in[l.off:])
	l.off = (l.off + n) % len(l.in)
	return n, nil
}
func (l *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (l *loopConn) Close() error                     { return nil }
func (l *loopConn) LocalAddr() net.Addr              { return nil }
func (l *loopConn) RemoteAddr() net.Addr             { return nil }
func (l *loopConn) SetDeadline(time.Time) error      { return nil }
func (l *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (l *loopConn) SetWriteDeadline(time.Time) error { return nil }

var benchSizes = []int{32, 1 << 10, 4 << 10, 64 << 10}

// BenchmarkServerRead measures the server's whole read path: socket read,
// frame parse, unmask, dispatch to OnMessage.
func BenchmarkServerRead(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			client := proto.NewMachine(proto.Config{Role: proto.Client})
			var in []byte
			for range max(1, (1<<20)/n) {
				in = client.AppendFrame(in, proto.OpBinary, true, 0, make([]byte, n))
			}
			c := newConn(proto.Server, nil)
			c.nc = &loopConn{in: in}
			c.state.Store(int32(Open))
			got := 0
			c.OnMessage(func(m Message) { got++ })
			buf := make([]byte, readBufferSize)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for got < b.N {
				k, _ := c.nc.Read(buf)
				if c.feed(buf[:k]) {
					b.Fatal("connection ended")
				}
			}
		})
	}
}

// BenchmarkWrite measures the whole write path of each side; a client's
// also masks.
func BenchmarkWrite(b *testing.B) {
	for _, role := range []proto.Role{proto.Server, proto.Client} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", map[proto.Role]string{proto.Server: "server", proto.Client: "client"}[role], n), func(b *testing.B) {
				c := newConn(role, nil)
				c.nc = &loopConn{}
				c.state.Store(int32(Open))
				msg := make([]byte, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.SendBinary(msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, n := range []int{32, 1 << 10, 4 << 10} {
		client := proto.NewMachine(proto.Config{Role: proto.Client})
		frame := client.AppendFrame(nil, proto.OpText, true, 0, make([]byte, n))
		c := newConn(proto.Server, nil)
		c.nc = &loopConn{}
		c.state.Store(int32(Open))
		c.OnMessage(func(m Message) { c.Send(m.Data, SendOptions{Type: m.Type}) })
		in := make([]byte, len(frame))
		// Whole frames, then the same frames split in two reads.
		for _, split := range []int{len(frame), len(frame) / 2} {
			allocs := testing.AllocsPerRun(200, func() {
				copy(in, frame)
				c.feed(in[:split])
				c.feed(in[split:])
			})
			if allocs != 0 {
				t.Errorf("echo of %d bytes (split at %d): %v allocations per message, want 0", n, split, allocs)
			}
		}
	}
}
