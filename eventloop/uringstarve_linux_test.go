//go:build linux

package eventloop_test

import (
	"fmt"
	"testing"

	"github.com/wsd-go/wsd/eventloop"
)

// More connections receive at once than a loop has buffers: the receives
// that find none wait for their turn, and every message is echoed.
func TestUringBuffersRunOut(t *testing.T) {
	if !eventloop.UringAvailable() {
		t.Skip("io_uring unavailable")
	}
	defer eventloop.SetRingBufs(4)()
	url := serveEventloop(t, echoHandler(nil), func(s *eventloop.Server) { s.Engine = "uring" })
	clients := make([]*client, 100)
	for i := range clients {
		clients[i] = dial(t, url, nil)
	}
	for round := range 5 {
		for i, c := range clients {
			if err := c.SendText(fmt.Sprintf("round %d from %d", round, i)); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range clients {
			if m, want := c.next(t), fmt.Sprintf("round %d from %d", round, i); string(m.Data) != want {
				t.Fatalf("got %q, want %q", m.Data, want)
			}
		}
	}
}
