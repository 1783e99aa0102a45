//go:build linux

package eventloop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
	"github.com/wsd-go/wsd/internal/transport"
)

func TestSlowHandlerDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("late"))
	})
	mux.Handle("/", echoHandler(nil))
	_, url := startEventloop(t, mux, func(s *eventloop.Server) { s.Workers = 4 })
	for range 2 {
		go http.Get(httpURL(url) + "/slow")
	}
	time.Sleep(50 * time.Millisecond)
	for i := range 20 {
		c := dial(t, url, nil)
		c.SendText(fmt.Sprint(i))
		if m := c.next(t); m.String() != fmt.Sprint(i) {
			t.Fatalf("echo %q", m.Data)
		}
	}
}

func TestSlowMessageHandlerDoesNotStallOthers(t *testing.T) {
	block := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(block) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) {
			if m.String() == "block" {
				<-block
			}
			ws.Send(m.Data, wsd.SendOptions{Type: m.Type})
		})
		ws.Start(r.Context())
	})
	_, url := startEventloop(t, h, func(s *eventloop.Server) { s.Workers = 4 })
	slow := dial(t, url, nil)
	slow.SendText("block")
	slow.SendText("after")
	for i := range 10 {
		c := dial(t, url, nil)
		c.SendText(fmt.Sprint(i))
		if m := c.next(t); m.String() != fmt.Sprint(i) {
			t.Fatalf("echo %q", m.Data)
		}
	}
	once.Do(func() { close(block) })
	if m := slow.next(t); m.String() != "block" {
		t.Fatalf("got %q", m.Data)
	}
	if m := slow.next(t); m.String() != "after" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestManyConnections(t *testing.T) {
	const n = 2000
	var open atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnOpen(func() { open.Add(1) })
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.OnClose(func(int, string) { open.Add(-1) })
		ws.Start(r.Context())
	})
	_, url := startEventloop(t, h, nil)
	clients := make([]*client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c, err := dialErr(url, nil)
				if err != nil {
					errs <- err
					return
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, c := range clients {
		c.SendText(fmt.Sprint(i))
	}
	for i, c := range clients {
		if m := c.next(t); m.String() != fmt.Sprint(i) {
			t.Fatalf("client %d got %q", i, m.Data)
		}
	}
	if got := open.Load(); got != n {
		t.Errorf("%d open on the server, want %d", got, n)
	}
	for _, c := range clients {
		c.Close(1000, "")
	}
	for _, c := range clients {
		c.waitClose(t)
	}
	waitFor(t, "server close events", func() bool { return open.Load() == 0 })
}

func TestTLSRefused(t *testing.T) {
	s := &eventloop.Server{Handler: echoHandler(nil), TLSConfig: &tls.Config{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, eventloop.ErrTLS) {
		t.Errorf("Serve with TLSConfig: %v", err)
	}
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	tln := tls.NewListener(ln, &tls.Config{})
	if err := (&eventloop.Server{}).Serve(tln); !errors.Is(err, eventloop.ErrTLS) {
		t.Errorf("Serve on a TLS listener: %v", err)
	}
	if err := (&eventloop.Server{}).ListenAndServeTLS("127.0.0.1:0", "cert.pem", "key.pem"); !errors.Is(err, eventloop.ErrTLS) {
		t.Errorf("ListenAndServeTLS: %v", err)
	}
	if msg := eventloop.ErrTLS.Error(); !strings.Contains(msg, "net/http") {
		t.Errorf("ErrTLS does not point to net/http: %q", msg)
	}
}

func TestServeRejectsOtherListeners(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	err := (&eventloop.Server{}).Serve(wrapped{ln})
	if err == nil || runtime.GOOS == "linux" && !strings.Contains(err.Error(), "TCPListener") {
		t.Errorf("Serve on a wrapped listener: %v", err)
	}
}

type wrapped struct{ net.Listener }

func TestShutdownAndLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String()
	var mu sync.Mutex
	var conns []*wsd.Conn
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		mu.Lock()
		conns = append(conns, ws)
		mu.Unlock()
		ws.Start(r.Context())
	})
	s := &eventloop.Server{Handler: h, ErrorLog: quietLog}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	var clients []*client
	for range 5 {
		c, err := dialErr(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	idle := dialRaw(t, url) // connected, no request yet
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, eventloop.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	idle.eof()
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after Shutdown")
	}
	// WebSocket connections go on after Shutdown, like hijacked ones,
	// until the application closes them.
	clients[0].SendText("still open")
	if m := clients[0].next(t); m.String() != "still open" {
		t.Errorf("echo %q", m.Data)
	}
	mu.Lock()
	for _, ws := range conns {
		ws.Close(1001, "server shutting down")
	}
	mu.Unlock()
	for _, c := range clients {
		if ev := c.waitClose(t); ev.code != 1001 {
			t.Errorf("close %+v", ev)
		}
	}
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= base })
}

func TestCloseDropsConnections(t *testing.T) {
	base := runtime.NumGoroutine()
	closed := make(chan int, 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnClose(func(code int, _ string) { closed <- code })
		ws.Start(r.Context())
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &eventloop.Server{Handler: h}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c, err := dialErr("ws://"+ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if code := <-closed; code != 1006 {
		t.Errorf("server close %d, want 1006", code)
	}
	if ev := c.waitClose(t); ev.code != 1006 {
		t.Errorf("client close %+v", ev)
	}
	<-served
	if err := s.Serve(ln); !errors.Is(err, eventloop.ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= base })
}

// The client does not read for a while: the server's writes queue, then
// wait, and everything arrives in order once it reads.
func TestWriteBackPressure(t *testing.T) {
	const n, size = 384, 64 << 10 // 24 MiB: more than loopback socket buffers hold
	sent := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(wsd.Message) {
			go func() {
				for i := range n {
					if err := ws.SendBinary(bytes.Repeat([]byte{byte(i)}, size)); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
		})
		ws.Start(r.Context())
	})
	_, url := startEventloop(t, h, func(s *eventloop.Server) { s.MaxQueuedBytes = 16 << 10 })
	r := dialRaw(t, url)
	r.upgrade()
	r.write(frame(true, 1, []byte("go")))
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-sent:
		t.Fatalf("24 MiB sent to a client that does not read: %v", err)
	default:
	}
	for i := range n {
		op, p := r.readFrame()
		if op != 2 || len(p) != size || p[0] != byte(i) || p[size-1] != byte(i) {
			t.Fatalf("frame %d: op %d, %d bytes starting %d", i, op, len(p), p[0])
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// A client that never reads makes writes fail after WriteTimeout, and the
// connection is dropped.
func TestWriteTimeout(t *testing.T) {
	result := make(chan error, 1)
	closed := make(chan int, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnOpen(func() {
			go func() {
				for {
					if err := ws.SendBinary(make([]byte, 64<<10)); err != nil {
						result <- err
						return
					}
				}
			}()
		})
		ws.OnClose(func(code int, _ string) { closed <- code })
		ws.Start(r.Context())
	})
	_, url := startEventloop(t, h, func(s *eventloop.Server) { s.WriteTimeout = 200 * time.Millisecond })
	r := dialRaw(t, url)
	r.upgrade()
	select {
	case err := <-result:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("write error: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writes to a client that does not read never failed")
	}
	if code := <-closed; code != 1006 {
		t.Errorf("close %d, want 1006", code)
	}
}

// A client that sends faster than its handler runs: the engine stops
// reading it, and all messages are handled, in order.
func TestReadBackPressure(t *testing.T) {
	const n = 2000
	got := make(chan int, n)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		handled := 0
		ws.OnMessage(func(m wsd.Message) {
			if handled++; handled <= 10 {
				time.Sleep(20 * time.Millisecond)
			}
			i, _ := strconv.Atoi(string(m.Data[:8]))
			got <- i
		})
		ws.Start(r.Context())
	})
	_, url := startEventloop(t, h, func(s *eventloop.Server) { s.MaxPendingBytes = 4 << 10 })
	c := dial(t, url, nil)
	pad := strings.Repeat(" ", 1000)
	for i := range n {
		if err := c.SendText(fmt.Sprintf("%08d", i) + pad); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case j := <-got:
			if j != i {
				t.Fatalf("message %d handled as %d", i, j)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not handled", i)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnixListener(t *testing.T) {
	path := t.TempDir() + "/ws.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Skip(err)
	}
	s := &eventloop.Server{Handler: echoHandler(nil), ErrorLog: quietLog}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	defer func() {
		s.Close()
		<-served
	}()
	opts := &wsd.Options{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}
	c := dial(t, "ws://localhost/", opts)
	c.SendText("over a unix socket")
	if m := c.next(t); m.String() != "over a unix socket" {
		t.Errorf("echo %q", m.Data)
	}
}

// Closing the engine's net.Conn wakes a write that waits for room, rather
// than leave it to WriteTimeout. (A wsd.Conn's own Close waits for the
// write in progress on either transport, so the seam is used directly.)
func TestCloseWakesBlockedWrite(t *testing.T) {
	result := make(chan error, 1)
	attached := make(chan net.Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, err := w.(transport.Attacher).Attach(nopConn{}, []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
		if err != nil {
			t.Error(err)
			return
		}
		attached <- nc
		go func() {
			for {
				if _, err := nc.Write(make([]byte, 64<<10)); err != nil {
					result <- err
					return
				}
			}
		}()
	})
	_, url := startEventloop(t, h, func(s *eventloop.Server) { s.WriteTimeout = time.Minute })
	r := dialRaw(t, url)
	r.write([]byte(handshakeRequest))
	nc := <-attached
	time.Sleep(300 * time.Millisecond) // the writer fills the socket and waits
	select {
	case err := <-result:
		t.Fatalf("write failed before Close: %v", err)
	default:
	}
	start := time.Now()
	nc.Close()
	select {
	case err := <-result:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("write error %v, want net.ErrClosed", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("blocked write failed after %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked write still waiting after Close")
	}
}

type nopConn struct{}

func (nopConn) Opened()          {}
func (nopConn) Feed([]byte) bool { return false }
func (nopConn) Dropped(error)    {}

// A large answer to a slow reader is written in full, not cut at the
// linger timeout.
func TestLargeHTTPAnswerToSlowReader(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	_, url := startEventloop(t, h, nil)
	r := dialRaw(t, url)
	r.nc.SetDeadline(time.Now().Add(20 * time.Second))
	r.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	time.Sleep(2500 * time.Millisecond) // past the linger timeout
	resp := r.response()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(body), err)
	}
}

// Clients come and go in every way at once, with -race: the engine must
// neither lose a close event nor leave anything behind.
func TestChurn(t *testing.T) {
	base := runtime.NumGoroutine()
	var opened, closed atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, &wsd.Options{CloseTimeout: 100 * time.Millisecond})
		if err != nil {
			return
		}
		ws.OnOpen(func() { opened.Add(1) })
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.OnClose(func(int, string) { closed.Add(1) })
		ws.Start(r.Context())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &eventloop.Server{Handler: h, ErrorLog: quietLog, ReadHeaderTimeout: 200 * time.Millisecond,
		MaxPendingBytes: 2048, MaxQueuedBytes: 2048, WriteTimeout: 300 * time.Millisecond}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()
	deadline := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				churnOnce(addr, (g+i)%8)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every open connection closed", func() bool {
		// Connections still open (idle ones, say) are closed by Close
		// below; here only check that nothing is counted twice.
		return closed.Load() <= opened.Load()
	})
	s.Close()
	<-served
	waitFor(t, "a close event for every open event", func() bool { return closed.Load() == opened.Load() })
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= base })
	t.Logf("%d connections opened and closed", opened.Load())
}

func churnOnce(addr string, kind int) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	req := []byte(handshakeRequest)
	switch kind {
	case 0: // leave in the middle of the request
		nc.Write(req[:len(req)/2])
		return
	case 1: // a request that never ends: the server times it out
		nc.Write(req[:len(req)-2])
		io.Copy(io.Discard, nc)
		return
	}
	nc.Write(req)
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		return
	}
	switch kind {
	case 2: // echo, then a proper close
		nc.Write(frame(true, 1, []byte("hello")))
		nc.Write(frame(true, 8, []byte{0x03, 0xe8}))
		io.Copy(io.Discard, br)
	case 3: // half a frame, then gone
		nc.Write(frame(true, 2, make([]byte, 300))[:100])
	case 4: // a protocol error
		nc.Write(unmaskedFrame(1, []byte("x")))
		io.Copy(io.Discard, br)
	case 5: // half-close after a message
		nc.Write(frame(true, 1, []byte("bye")))
		nc.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, br)
	case 6: // much to echo, read nothing, reset
		for range 20 {
			nc.Write(frame(true, 2, make([]byte, 4000)))
		}
		nc.(*net.TCPConn).SetLinger(0)
	case 7: // messages in one write, with a ping, read some
		b := append(frame(true, 1, []byte("a")), frame(true, 9, nil)...)
		b = append(b, frame(false, 1, []byte("b"))...)
		b = append(b, frame(true, 0, []byte("c"))...)
		nc.Write(b)
		br.Peek(3)
	}
}

// Workers started for a burst end once idle, even while light traffic
// goes on: work goes to the worker that waited last.
func TestIdleWorkersEnd(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	_, url := startEventloop(t, mux, func(s *eventloop.Server) { s.Workers = 8 })
	// One request first, so that the engine's loops are running.
	if resp, err := http.Get(httpURL(url) + "/"); err == nil {
		resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.Get(httpURL(url) + "/slow"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	if n := runtime.NumGoroutine(); n < base+4 {
		t.Fatalf("%d goroutines after the burst, from %d: the burst did not start workers", n, base)
	}
	deadline := time.Now().Add(8 * time.Second)
	for runtime.NumGoroutine() > base+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, from %d before the burst: idle workers did not end", runtime.NumGoroutine(), base)
		}
		if resp, err := http.Get(httpURL(url) + "/"); err == nil {
			resp.Body.Close()
		}
		http.DefaultClient.CloseIdleConnections()
		time.Sleep(100 * time.Millisecond)
	}
}

// One large send to a peer that reads nothing queues at most
// MaxQueuedBytes; the rest waits in the sender's own slice.
func TestQueueBoundsOneLargeSend(t *testing.T) {
	big := make([]byte, 32<<20)
	started := make(chan struct{})
	sent := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnOpen(func() {
			go func() {
				close(started)
				sent <- ws.SendBinary(big)
			}()
		})
		ws.Start(r.Context())
	})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s, url := startEventloop(t, h, func(s *eventloop.Server) { s.MaxQueuedBytes = 64 << 10 })
	r := dialRaw(t, url)
	r.upgrade()
	<-started
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-sent:
		t.Fatalf("32 MiB sent to a client that does not read: %v", err)
	default:
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("heap grew by %d KiB while one send was blocked, with MaxQueuedBytes 64 KiB", grew>>10)
	}
	s.Close()
	if err := <-sent; err == nil {
		t.Error("the blocked send succeeded after Close")
	}
}
