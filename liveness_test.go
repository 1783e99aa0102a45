//go:build !js

package wsd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawClient opens a TCP connection to srv and completes a handshake by
// hand, so the test controls every byte the peer sends (or does not).
func rawClient(t *testing.T, srv *TestHTTPServer, header string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + strings.TrimPrefix(srv.URL, "http://") + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + header + "\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return nc, br, resp
}

type closeEvent struct {
	code   int
	reason string
}

// serve starts a server whose connections get opts and report their close
// events on the returned channel.
func serve(t *testing.T, opts *Options) (*TestHTTPServer, chan closeEvent) {
	t.Helper()
	closed := make(chan closeEvent, 16)
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m Message) { ws.Send(m.Data, SendOptions{Type: m.Type}) })
		ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
		ws.Start(r.Context())
	}))
	t.Cleanup(srv.Close)
	return srv, closed
}

func waitClose(t *testing.T, ch chan closeEvent, within time.Duration) closeEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(within):
		t.Fatal("no close event")
		return closeEvent{}
	}
}

func TestOriginCheck(t *testing.T) {
	srv, _ := serve(t, &Options{OriginPatterns: []string{"*.example.org"}})
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"", 101},
		{"http://" + host, 101},
		{"https://app.example.org", 101},
		{"https://evil.example.com", 403},
		{"null", 403},
	} {
		h := ""
		if tc.origin != "" {
			h = "Origin: " + tc.origin + "\r\n"
		}
		_, _, resp := rawClient(t, srv, h)
		if resp.StatusCode != tc.status {
			t.Errorf("Origin %q: status %d, want %d", tc.origin, resp.StatusCode, tc.status)
		}
	}
}

func TestKeepaliveDropsSilentPeer(t *testing.T) {
	srv, closed := serve(t, &Options{PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond})
	nc, br, resp := rawClient(t, srv, "")
	if resp.StatusCode != 101 {
		t.Fatal(resp.Status)
	}
	// The peer reads the ping but never answers.
	var hdr [2]byte
	if _, err := br.Read(hdr[:]); err != nil || hdr[0] != 0x89 {
		t.Fatalf("want a ping frame, got %x, %v", hdr, err)
	}
	ev := waitClose(t, closed, 5*time.Second)
	if ev.code != CloseAbnormal || !strings.Contains(ev.reason, "keepalive") {
		t.Errorf("close %+v, want 1006 keepalive", ev)
	}
	nc.Close()
}

func TestKeepaliveKeepsAnsweringPeer(t *testing.T) {
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, nil)
		if err == nil {
			ws.Start(r.Context())
		}
	}))
	defer srv.Close()
	c, err := NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), &Options{PingInterval: 50 * time.Millisecond, PongTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pongs := make(chan struct{}, 100)
	c.OnPong(func([]byte) { pongs <- struct{}{} })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Pings come an interval after the last pong, not after PongTimeout.
	deadline := time.After(3 * time.Second)
	for range 3 {
		select {
		case <-pongs:
		case <-deadline:
			t.Fatal("keepalive sent too few pings, or got no pongs")
		}
	}
	if c.ReadyState() != Open {
		t.Errorf("state %v after pongs, want open", c.ReadyState())
	}
	c.Close(1000, "")
	<-c.Done()
}

func TestIdleTimeout(t *testing.T) {
	srv, closed := serve(t, &Options{IdleTimeout: 100 * time.Millisecond, CloseTimeout: 200 * time.Millisecond})
	_, br, _ := rawClient(t, srv, "")
	var hdr [4]byte
	if _, err := br.Read(hdr[:]); err != nil || hdr[0] != 0x88 || hdr[2] != 0x03 || hdr[3] != 0xe9 {
		t.Fatalf("want a close frame with 1001, got %x, %v", hdr, err)
	}
	start := time.Now()
	if ev := waitClose(t, closed, 5*time.Second); ev.code != CloseAbnormal || ev.reason != "no answer to the close frame" {
		t.Errorf("close %+v, want 1006 after the unanswered close", ev)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("dropped after %v, before the close timeout", d)
	}
}

func TestWriteTimeout(t *testing.T) {
	sent := make(chan error, 1)
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, &Options{WriteTimeout: 100 * time.Millisecond})
		if err != nil {
			return
		}
		ws.OnOpen(func() {
			go func() {
				big := make([]byte, 1<<20)
				for range 64 { // far more than socket buffers hold
					if err := ws.SendBinary(big); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
		})
		ws.Start(r.Context())
	}))
	defer srv.Close()
	rawClient(t, srv, "") // never reads
	select {
	case err := <-sent:
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("send to a peer that does not read: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("send blocked despite WriteTimeout")
	}
}

func TestGroupShutdown(t *testing.T) {
	g := &Group{}
	srv, closed := serve(t, &Options{Group: g})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var clients []*Conn
	codes := make(chan int, 3)
	for range 3 {
		c, _ := NewClient(url, nil)
		c.OnClose(func(code int, _ string) { codes <- code })
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.Len() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if g.Len() != 3 {
		t.Fatalf("group has %d connections, want 3", g.Len())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if g.Len() != 0 {
		t.Errorf("group has %d connections after shutdown", g.Len())
	}
	for range 3 {
		if code := <-codes; code != CloseGoingAway {
			t.Errorf("client saw %d, want 1001", code)
		}
		waitClose(t, closed, time.Second)
	}
	// A connection that starts after shutdown is closed at once.
	c, _ := NewClient(url, nil)
	c.OnClose(func(code int, _ string) { codes <- code })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-codes:
		if code != CloseGoingAway {
			t.Errorf("late client saw %d, want 1001", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("late connection stayed open")
	}
}

func TestSendRejectsInvalidUTF8(t *testing.T) {
	srv, _ := serve(t, nil)
	c, _ := NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(1000, ""); <-c.Done() }()
	if err := c.SendText("ok \xff"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("SendText of invalid UTF-8: %v", err)
	}
	if err := c.Send([]byte{0xc0, 0x80}, SendOptions{Type: TextMessage}); err == nil {
		t.Error("text Send of an overlong encoding succeeded")
	}
	if err := c.Close(1000, "\xed\xa0\x80"); err == nil || c.ReadyState() != Open {
		t.Errorf("Close with a surrogate in its reason: %v, state %v", err, c.ReadyState())
	}
	if err := c.SendBinary([]byte{0xff}); err != nil {
		t.Errorf("binary data need not be UTF-8: %v", err)
	}
}

// A peer that floods pings and reads nothing cannot make the server queue
// pongs: the server stops reading once its pongs cannot be written, and
// the flood stalls on full socket buffers.
func TestPingFloodIsBounded(t *testing.T) {
	srv, _ := serve(t, nil)
	nc, _, resp := rawClient(t, srv, "")
	if resp.StatusCode != 101 {
		t.Fatal(resp.Status)
	}
	// A masked ping with the largest payload, 131 bytes on the wire.
	ping := append([]byte{0x89, 0x80 | 125, 1, 2, 3, 4}, make([]byte, 125)...)
	batch := bytes.Repeat(ping, 1000)
	nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	written := 0
	for written < 256<<20 {
		n, err := nc.Write(batch)
		written += n
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				// Stalled: the server held back, as it should, once
				// socket buffers (a few MiB each way) were full.
				if written > 64<<20 {
					t.Fatalf("%d MiB of pings taken before the flood stalled", written>>20)
				}
				t.Logf("stalled after %d KiB", written>>10)
				return
			}
			t.Fatalf("after %d bytes of pings: %v", written, err)
		}
	}
	t.Fatalf("wrote %d MiB of pings without reading a pong: the server buffers them", written>>20)
}
