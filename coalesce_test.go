//go:build !js

package wsd_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// Coalescing the replies to a batch of frames delays no one: while a
// handler in the middle of a batch sleeps, both what it sent before and a
// send from another goroutine reach the peer at once; replies and pongs
// keep their order.
func TestCoalescingDelaysNoSend(t *testing.T) {
	const nap = 500 * time.Millisecond
	slow := make(chan *wsd.Conn, 1)
	s := newTestServer(t, nil, func(c *wsd.Conn, rec *recorder) {
		c.OnMessage(func(m wsd.Message) {
			c.SendText("re:" + string(m.Data))
			if string(m.Data) == "slow" {
				slow <- c
				time.Sleep(nap)
			}
		})
	})
	rc := rawDial(t, s.addr)
	rc.handshake()
	s.accept(t)

	// One write: the server reads these together, as one batch.
	var in []byte
	in = append(in, encodeFrame(0x81, []byte("a"), true)...)
	in = append(in, encodeFrame(0x89, []byte("p"), true)...)
	in = append(in, encodeFrame(0x81, []byte("slow"), true)...)
	in = append(in, encodeFrame(0x81, []byte("b"), true)...)
	rc.write(in)
	c := within(t, slow, waitTimeout, "the slow message")
	start := time.Now()
	go c.SendText("from elsewhere")

	want := []struct {
		op   byte
		data string
	}{{opText, "re:a"}, {opPong, "p"}, {opText, "re:slow"}, {opText, "from elsewhere"}}
	for _, w := range want {
		if f := rc.read(); f.op != w.op || !bytes.Equal(f.payload, []byte(w.data)) {
			t.Fatalf("got %v, want %q", f, w.data)
		}
	}
	// Half the nap: far more than the coalescing delay, far less than
	// waiting for the handler.
	if d := time.Since(start); d > nap/2 {
		t.Fatalf("the frames sent during the slow handler took %v, as if they waited for it", d)
	}
	if f := rc.read(); string(f.payload) != "re:b" {
		t.Fatalf("got %v, want the reply to the last frame", f)
	}
}
