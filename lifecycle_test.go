//go:build !js

package wsd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// Tests of the connection's lifecycle under a peer or a handler that
// misbehaves. Like the rest of the suite, they run on both transports.

// serveConns starts a server whose connections get opts, are set up by
// setup (if not nil), and are handed over once started.
func serveConns(t *testing.T, opts *Options, setup func(*Conn)) (*TestHTTPServer, chan *Conn) {
	t.Helper()
	conns := make(chan *Conn, 16)
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, opts)
		if err != nil {
			return
		}
		if setup != nil {
			setup(ws)
		}
		if ws.Start(r.Context()) == nil {
			conns <- ws
		}
	}))
	t.Cleanup(srv.Close)
	return srv, conns
}

// waitFor fails the test unless ch is closed or receives within d.
func waitFor[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
		var zero T
		return zero
	}
}

// maskedFrame is a final frame as a client sends it, with a zero mask.
func maskedFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(b, payload...)
}

// stuckSend starts a send of 64 MiB to a peer that reads nothing, and
// returns its result's channel once the send is blocked.
func stuckSend(t *testing.T, ws *Conn) chan error {
	t.Helper()
	sent := make(chan error, 1)
	go func() { sent <- ws.SendBinary(make([]byte, 64<<20)) }()
	select {
	case err := <-sent:
		t.Fatalf("a 64 MiB send to a peer that reads nothing returned %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	return sent
}

func clientStart(t *testing.T, url string, opts *Options, setup func(*Conn)) *Conn {
	t.Helper()
	c, err := NewClient(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseNow()
		<-c.Done()
	})
	return c
}

func TestCompressedSendGetsItsOwnDeadline(t *testing.T) {
	srv, conns := serveConns(t, &Options{WriteTimeout: 200 * time.Millisecond}, nil)
	got := make(chan string, 2)
	clientStart(t, wsURL(srv), &Options{Compression: CompressionOptions{Mode: CompressionEnabled}}, func(c *Conn) {
		c.OnMessage(func(m Message) { got <- m.String() })
	})
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	if ws.Extensions() == "" {
		t.Fatal("permessage-deflate not agreed")
	}
	if err := ws.SendText("hi"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, got, 5*time.Second, "first message")
	time.Sleep(500 * time.Millisecond) // past the first send's deadline
	big := strings.Repeat("compressible ", 100)
	if err := ws.SendText(big); err != nil {
		t.Fatalf("compressed send after the first send's deadline: %v", err)
	}
	if m := waitFor(t, got, 5*time.Second, "compressed message"); m != big {
		t.Errorf("got %d bytes, want the %d sent", len(m), len(big))
	}
}

func TestKeepaliveWaitsForTheCloseAnswer(t *testing.T) {
	closed := make(chan closeEvent, 1)
	srv, conns := serveConns(t, &Options{CloseTimeout: 5 * time.Second, PingInterval: 150 * time.Millisecond}, func(ws *Conn) {
		ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
	})
	nc, br, _ := rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	start := time.Now()
	ws.Close(CloseNormal, "bye")
	for { // keepalive pings may come first
		f, err := readServerFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if f.op == 0x8 {
			break
		}
	}
	time.Sleep(400 * time.Millisecond)
	nc.Write(maskedFrame(0x8, []byte{0x03, 0xe8}))
	ev := waitClose(t, closed, 5*time.Second)
	if ev.code != CloseNormal {
		t.Errorf("close %+v after %v, want 1000 once the peer answered", ev, time.Since(start))
	}
}

type serverFrame struct {
	op      byte
	payload []byte
}

// readServerFrame reads one unmasked frame with a payload under 64 KiB.
func readServerFrame(br io.Reader) (serverFrame, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		return serverFrame{}, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		if _, err := io.ReadFull(br, h[2:4]); err != nil {
			return serverFrame{}, err
		}
		n = int(h[2])<<8 | int(h[3])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return serverFrame{h[0] & 0x0f, p}, err
}

func TestShutdownIsBoundedByItsContext(t *testing.T) {
	g := &Group{}
	srv, conns := serveConns(t, &Options{Group: g}, nil)
	rawClient(t, srv, "") // never reads
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	sent := stuckSend(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := g.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown with a 500ms context returned after %v", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the context's deadline", err)
	}
	if err := waitFor(t, sent, 5*time.Second, "the blocked send's end"); err == nil {
		t.Error("the blocked send succeeded")
	}
	waitFor(t, ws.Done(), 5*time.Second, "connection end")
	if g.Len() != 0 {
		t.Errorf("group has %d connections after shutdown", g.Len())
	}
}

func TestCloseNowEndsABlockedSend(t *testing.T) {
	closed := make(chan closeEvent, 1)
	srv, conns := serveConns(t, nil, func(ws *Conn) {
		ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
	})
	rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	sent := stuckSend(t, ws)
	ws.CloseNow()
	if err := waitFor(t, sent, 2*time.Second, "the blocked send's end"); err == nil {
		t.Error("the blocked send succeeded")
	}
	if ev := waitClose(t, closed, 2*time.Second); ev.code != CloseAbnormal || ev.reason != "closed by CloseNow" {
		t.Errorf("close %+v, want 1006 closed by CloseNow", ev)
	}
	if err := ws.SendText("late"); !errors.Is(err, ErrClosed) {
		t.Errorf("send after CloseNow: %v, want ErrClosed", err)
	}
}

func TestCloseBehindABlockedSendIsBounded(t *testing.T) {
	closed := make(chan closeEvent, 1)
	srv, conns := serveConns(t, &Options{CloseTimeout: 300 * time.Millisecond}, func(ws *Conn) {
		ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
	})
	rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	sent := stuckSend(t, ws)
	returned := make(chan struct{})
	go func() { ws.Close(CloseGoingAway, ""); close(returned) }()
	waitFor(t, returned, 3*time.Second, "Close behind a blocked send")
	waitFor(t, sent, 3*time.Second, "the blocked send's end")
	if ev := waitClose(t, closed, 3*time.Second); ev.code != CloseAbnormal {
		t.Errorf("close %+v, want 1006", ev)
	}
}

func TestKeepaliveDetectsAPeerThatStoppedReading(t *testing.T) {
	closed := make(chan closeEvent, 1)
	o := &Options{PingInterval: 300 * time.Millisecond, PongTimeout: 300 * time.Millisecond}
	srv, conns := serveConns(t, o, func(ws *Conn) {
		ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
	})
	rawClient(t, srv, "") // sends and reads nothing
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	sent := stuckSend(t, ws)
	ev := waitClose(t, closed, 3*time.Second)
	if ev.code != CloseAbnormal || !strings.HasPrefix(ev.reason, "keepalive") {
		t.Errorf("close %+v, want 1006 from keepalive", ev)
	}
	waitFor(t, sent, 2*time.Second, "the blocked send's end")
}

func TestLivenessTimerStopsWhenFinished(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(proto.Server, &Options{PingInterval: time.Hour, IdleTimeout: time.Hour})
	c.nc = a
	c.started.Store(true)
	c.state.Store(int32(Open))
	c.startLiveness()
	c.finish(CloseAbnormal, "dropped")
	// A callback that was already running when finish stopped the timer.
	c.live.expired()
	if c.live.t.Stop() {
		t.Error("the liveness timer was re-armed on a finished connection")
	}
}

func TestNegotiatedFieldsDuringStart(t *testing.T) {
	srv, _ := serveConns(t, &Options{AcceptProtocols: []string{"chat"}}, nil)
	c, err := NewClient(wsURL(srv), &Options{AcceptProtocols: []string{"chat"}, Compression: CompressionOptions{Mode: CompressionEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _, _, _ = c.Protocol(), c.Extensions(), c.ResponseHeader(), c.RemoteAddr()
		}
	})
	err = c.Start(context.Background())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.CloseNow(); <-c.Done() }()
	if c.Protocol() != "chat" || !strings.HasPrefix(c.Extensions(), "permessage-deflate") || c.ResponseHeader().Get("Upgrade") == "" {
		t.Errorf("after Start: protocol %q, extensions %q, response header %v", c.Protocol(), c.Extensions(), c.ResponseHeader())
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHandlerPanicFailsOnlyItsConnection(t *testing.T) {
	for _, where := range []string{"open", "message", "ping", "close"} {
		t.Run(where, func(t *testing.T) {
			var logged lockedBuffer
			o := &Options{ErrorLog: log.New(&logged, "", 0)}
			srv, _ := serveConns(t, o, func(ws *Conn) {
				ws.OnOpen(func() {
					if where == "open" && ws.RequestHeader().Get("X-Boom") != "" {
						panic("boom in open")
					}
				})
				ws.OnMessage(func(m Message) {
					if where == "message" && m.String() == "boom" {
						panic("boom in message")
					}
					ws.Send(m.Data, SendOptions{Type: m.Type})
				})
				ws.OnPing(func([]byte) {
					if where == "ping" {
						panic("boom in ping")
					}
				})
				ws.OnClose(func(int, string) {
					if where == "close" {
						panic("boom in close")
					}
				})
			})
			codes := make(chan int, 1)
			bad := clientStart(t, wsURL(srv), &Options{AdditionalHeaders: http.Header{"X-Boom": {"1"}}}, func(c *Conn) {
				c.OnClose(func(code int, _ string) { codes <- code })
			})
			echoes := make(chan string, 1)
			good := clientStart(t, wsURL(srv), nil, func(c *Conn) {
				c.OnMessage(func(m Message) { echoes <- m.String() })
			})
			want := CloseInternalError
			switch where {
			case "message":
				bad.SendText("boom")
			case "ping":
				bad.SendPing(nil, nil)
			case "close":
				bad.Close(CloseNormal, "")
				want = CloseNormal
			}
			if code := waitFor(t, codes, 5*time.Second, "close of the panicking connection"); code != want {
				t.Errorf("panicking connection closed with %d, want %d", code, want)
			}
			good.SendText("still here")
			if m := waitFor(t, echoes, 5*time.Second, "echo on the other connection"); m != "still here" {
				t.Errorf("other connection echoed %q", m)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logged.String(), "boom in "+where) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if l := logged.String(); !strings.Contains(l, "boom in "+where) || !strings.Contains(l, "goroutine") {
				t.Errorf("ErrorLog has %q, want the panic and its stack", l)
			}
		})
	}
}

func TestDropReasonSaysWhy(t *testing.T) {
	closed := make(chan closeEvent, 1)
	srv, conns := serveConns(t, nil, func(ws *Conn) {
		ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
	})
	nc, _, _ := rawClient(t, srv, "")
	waitFor(t, conns, 5*time.Second, "server connection")
	nc.(*net.TCPConn).SetLinger(0) // a reset, not an orderly close
	nc.Close()
	ev := waitClose(t, closed, 5*time.Second)
	if ev.code != CloseAbnormal || !strings.Contains(ev.reason, "reset by peer") {
		t.Errorf("close %+v, want 1006 naming the reset", ev)
	}
}

func TestCloseCancelsTheHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, reads, never answers
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		io.Copy(io.Discard, nc)
	}()
	for _, closeNow := range []bool{false, true} {
		c, err := NewClient("ws://"+ln.Addr().String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		started := make(chan error, 1)
		go func() { started <- c.Start(context.Background()) }()
		time.Sleep(100 * time.Millisecond)
		if closeNow {
			c.CloseNow()
		} else {
			c.Close(CloseNormal, "")
		}
		if err := waitFor(t, started, 2*time.Second, "Start after Close"); !errors.Is(err, ErrClosed) {
			t.Errorf("Start: %v, want an error matching ErrClosed", err)
		}
		waitFor(t, c.Done(), time.Second, "Done")
		if c.ReadyState() != Closed {
			t.Errorf("state %v, want closed", c.ReadyState())
		}
	}
}

func TestMiddlewareHeadersGoWithThe101(t *testing.T) {
	conns := make(chan *Conn, 1)
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=1")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Length", "5") // not in a 101
		ws, err := NewServer(w, r, &Options{AdditionalHeaders: http.Header{"X-Extra": {"a"}}})
		if err != nil {
			return
		}
		if ws.Start(r.Context()) == nil {
			conns <- ws
		}
	}))
	defer srv.Close()
	_, _, resp := rawClient(t, srv, "")
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, v := range map[string]string{"Set-Cookie": "session=1", "Access-Control-Allow-Origin": "*", "X-Extra": "a", "Content-Length": ""} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("101 has %s: %q, want %q", k, got, v)
		}
	}
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	if got := ws.ResponseHeader().Get("Set-Cookie"); got != "session=1" {
		t.Errorf("ResponseHeader has Set-Cookie %q", got)
	}
	ws.CloseNow()
}

func TestIdleTimeoutIgnoresKeepalivePongs(t *testing.T) {
	o := &Options{IdleTimeout: time.Second, PingInterval: 100 * time.Millisecond}
	srv, closed := serve(t, o)
	codes := make(chan int, 1)
	c := clientStart(t, wsURL(srv), nil, func(c *Conn) {
		c.OnClose(func(code int, _ string) { codes <- code })
	})
	// Messages keep it open past the timeout...
	for range 15 {
		if err := c.SendText("busy"); err != nil {
			t.Fatalf("connection closed while messages flowed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// ...keepalive's pongs alone do not.
	start := time.Now()
	if code := waitFor(t, codes, 3*time.Second, "idle close"); code != CloseGoingAway {
		t.Errorf("client saw %d, want 1001", code)
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("closed %v after the last message, before the idle timeout", d)
	}
	if ev := waitClose(t, closed, 3*time.Second); ev.code != CloseGoingAway || ev.reason != "idle timeout" {
		t.Errorf("server close %+v", ev)
	}
}

func TestErrorsMatchTheirKinds(t *testing.T) {
	if !errors.Is(&ProtocolError{Code: 1009}, ErrMessageTooBig) || errors.Is(&ProtocolError{Code: 1002}, ErrMessageTooBig) {
		t.Error("ErrMessageTooBig does not match by code")
	}
	if !errors.Is(&ProtocolError{Code: 1007}, ErrInvalidUTF8) {
		t.Error("ErrInvalidUTF8 does not match 1007")
	}
	perrs := make(chan error, 1)
	srv, _ := serveConns(t, &Options{MaxLength: 10}, func(ws *Conn) {
		ws.OnError(func(err error) { perrs <- err })
	})
	c := clientStart(t, wsURL(srv), nil, nil)
	if err := c.SendText("\xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("send of invalid text: %v, want ErrInvalidUTF8", err)
	}
	c.SendText(strings.Repeat("x", 11))
	if err := waitFor(t, perrs, 5*time.Second, "error event"); !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("server error %v, want ErrMessageTooBig", err)
	}
	// A refused handshake.
	refuse := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	rc, _ := NewClient("ws://"+refuse, nil)
	var he *HandshakeError
	if err := rc.Start(context.Background()); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Errorf("refused handshake: %v, want a *HandshakeError with 403", err)
	}
	// A handshake past its time.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		if nc, err := ln.Accept(); err == nil {
			io.Copy(io.Discard, nc)
			nc.Close()
		}
	}()
	sc, _ := NewClient("ws://"+ln.Addr().String(), &Options{HandshakeTimeout: 100 * time.Millisecond})
	if err := sc.Start(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("handshake past HandshakeTimeout: %v, want context.DeadlineExceeded", err)
	}
	// A send past WriteTimeout, to a peer that reads nothing.
	wsrv, conns := serveConns(t, &Options{WriteTimeout: 100 * time.Millisecond}, nil)
	rawClient(t, wsrv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	if err := ws.SendBinary(make([]byte, 64<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("send past WriteTimeout: %v, want os.ErrDeadlineExceeded", err)
	}
}

// httpServer serves h over plain net/http and returns its address.
func httpServer(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}
