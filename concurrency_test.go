//go:build !js

package wsd_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

const (
	senders    = 8
	perSender  = 30
	pingsToo   = 20
	minPayload = 5
)

// sizes cycles through the framing boundaries and both write paths
// (small messages copied next to their header, large ones not).
var sizes = []int{minPayload, 125, 126, 1000, 65535, 65536, 16 << 10, 16<<10 + 1, 70000}

// concurrentPayload is message i of sender g: its identity, then bytes
// derived from it, so a frame mixed with another cannot pass.
func concurrentPayload(g, i int) []byte {
	n := sizes[(g+i)%len(sizes)]
	b := make([]byte, n)
	b[0] = byte(g)
	binary.BigEndian.PutUint32(b[1:], uint32(i))
	for j := minPayload; j < n; j++ {
		b[j] = byte('a' + (g*31+i*7+j)%26) // ASCII, so valid as text too
	}
	return b
}

// frameChecker verifies that frames read from the wire are whole
// messages from the senders, each sender's in order.
type frameChecker struct {
	next  [senders]int
	pongs int
}

func (fc *frameChecker) check(f frame) error {
	if !f.fin || f.rsv != 0 {
		return fmt.Errorf("%v: want a final frame without reserved bits", f)
	}
	if f.op == opPong {
		if string(f.payload) != "concurrent ping" {
			return fmt.Errorf("pong %q", f.payload)
		}
		fc.pongs++
		return nil
	}
	if len(f.payload) < minPayload {
		return fmt.Errorf("%v: too short", f)
	}
	g, i := int(f.payload[0]), int(binary.BigEndian.Uint32(f.payload[1:]))
	if g >= senders {
		return fmt.Errorf("%v: sender %d", f, g)
	}
	wantOp := byte(opBinary)
	if g%2 == 0 {
		wantOp = opText
	}
	if f.op != wantOp {
		return fmt.Errorf("%v: sender %d sends opcode %d", f, g, wantOp)
	}
	if i != fc.next[g] {
		return fmt.Errorf("sender %d: message %d, want %d", g, i, fc.next[g])
	}
	fc.next[g]++
	if want := concurrentPayload(g, i); string(f.payload) != string(want) {
		return fmt.Errorf("sender %d message %d: payload of %d bytes differs from what was sent (%d bytes): frames interleaved", g, i, len(f.payload), len(want))
	}
	return nil
}

func (fc *frameChecker) done() bool {
	for _, n := range fc.next {
		if n != perSender {
			return false
		}
	}
	return fc.pongs == pingsToo
}

// sendConcurrently sends perSender messages from each of senders
// goroutines; even senders send text, odd ones binary.
func sendConcurrently(t *testing.T, c *wsd.Conn) {
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range perSender {
				p := concurrentPayload(g, i)
				var err error
				if g%2 == 0 {
					err = c.Send(p, wsd.SendOptions{Type: wsd.TextMessage})
				} else {
					err = c.SendBinary(p)
				}
				if err != nil {
					t.Errorf("sender %d message %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Concurrent sends from a server, with pongs written by the connection's
// own goroutine at the same time, never interleave their frames.
func TestConcurrentSendsServer(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)

	pinged := make(chan error, 1)
	go func() {
		var err error
		for range pingsToo {
			b := encodeFrame(0x89, []byte("concurrent ping"), true)
			rc.nc.SetWriteDeadline(time.Now().Add(waitTimeout))
			if _, err = rc.nc.Write(b); err != nil {
				break
			}
		}
		pinged <- err
	}()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		sendConcurrently(t, sc.c)
	}()
	var fc frameChecker
	for !fc.done() {
		f := rc.read()
		if err := fc.check(f); err != nil {
			t.Fatal(err)
		}
	}
	within(t, sent, waitTimeout, "senders")
	if err := within(t, pinged, waitTimeout, "pings"); err != nil {
		t.Fatal(err)
	}
	sc.c.Close(1000, "")
	rc.expectClose(1000)
}

// The same from a client, whose frames are masked one by one.
func TestConcurrentSendsClient(t *testing.T) {
	result := make(chan error, 1)
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.accept101(req)
		go func() {
			for range pingsToo {
				rc.nc.Write(encodeFrame(0x89, []byte("concurrent ping"), false))
			}
		}()
		var fc frameChecker
		for !fc.done() {
			rc.nc.SetReadDeadline(time.Now().Add(waitTimeout))
			f, err := readFrame(rc.br)
			if err == nil && !f.masked {
				err = fmt.Errorf("%v: unmasked frame from a client", f)
			}
			if err == nil {
				err = fc.check(f)
			}
			if err != nil {
				result <- err
				return
			}
		}
		result <- nil
		rc.expectClose(1000)
		rc.send(0x88, string(closePayload(1000, "")))
	})
	c, rec := dialClient(t, fs.url, nil, nil)
	rec.expect(t, "open")
	sendConcurrently(t, c)
	if err := within(t, result, waitTimeout, "fake server"); err != nil {
		t.Fatal(err)
	}
	c.Close(1000, "")
	for {
		e := rec.next(t)
		if e.kind == "close" {
			if e.code != 1000 {
				t.Fatalf("%v, want close 1000", e)
			}
			break
		}
		if e.kind != "ping" {
			t.Fatalf("event %v", e)
		}
	}
	rec.expectDone(t)
}

// Sends racing with Close: every frame before the close frame is whole,
// and nothing follows the close frame (section 5.5.1).
func TestSendsRacingClose(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range senders {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := sc.c.SendBinary(concurrentPayload(g, i%perSender))
				if errors.Is(err, wsd.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("sender %d: %v", g, err)
					return
				}
			}
		})
	}
	var closers sync.WaitGroup
	for range 20 {
		f := rc.read()
		if f.op != opBinary || !f.fin {
			t.Fatalf("got %v", f)
		}
	}
	for range 3 {
		closers.Go(func() { sc.c.Close(1000, "enough") })
	}
	for {
		f := rc.read()
		if f.op == opClose {
			if f.closeCode() != 1000 || string(f.payload[2:]) != "enough" {
				t.Fatalf("close frame %q", f.payload)
			}
			break
		}
		if f.op != opBinary || !f.fin || len(f.payload) < minPayload {
			t.Fatalf("got %v", f)
		}
		g, i := int(f.payload[0]), int(binary.BigEndian.Uint32(f.payload[1:]))
		if string(f.payload) != string(concurrentPayload(g, i)) {
			t.Fatalf("frame from sender %d message %d corrupted", g, i)
		}
	}
	closers.Wait()
	// Senders now fail with ErrClosed.
	within(t, waitGroupDone(&wg), waitTimeout, "senders to stop")
	close(stop)
	rc.send(0x88, string(closePayload(1000, "")))
	rc.expectEOF()
	sc.rec.expect(t, "open")
	sc.rec.expectClose(t, 1000, "")
}

func waitGroupDone(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// Handlers may be replaced while the connection runs, and a handler may
// send and close from within.
func TestHandlersOnConnectionGoroutine(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	replies := make(chan string, 100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				srv.c.OnPong(func([]byte) {})
			}
		})
	}
	srv.c.OnMessage(func(m wsd.Message) {
		if m.String() == "close me" {
			srv.c.Close(4444, "from handler")
			return
		}
		srv.c.SendText("re: " + m.String())
	})
	cli.c.OnMessage(func(m wsd.Message) { replies <- m.String() })
	for i := range 20 {
		cli.c.SendText(fmt.Sprint(i))
	}
	for i := range 20 {
		if got := within(t, replies, waitTimeout, "reply"); got != fmt.Sprintf("re: %d", i) {
			t.Fatalf("reply %q, want \"re: %d\"", got, i)
		}
	}
	wg.Wait()
	cli.c.SendText("close me")
	cli.rec.expectClose(t, 4444, "from handler")
	srv.rec.expectClose(t, 4444, "from handler")
}
