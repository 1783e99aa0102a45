//go:build !js

package wsd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsd-go/wsd/internal/handshake"
)

// countingConn counts the bytes a client reads and writes on the wire.
type countingConn struct {
	net.Conn
	read, written *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// echoServer starts a server that sends every message back, with opts,
// and reports the server connection's Extensions on ext.
func echoServer(t testing.TB, opts *Options, ext chan<- string) *TestHTTPServer {
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m Message) { ws.Send(m.Data, SendOptions{Type: m.Type}) })
		if ext != nil {
			ext <- ws.Extensions()
		}
		ws.Start(r.Context())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *TestHTTPServer) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

type testClient struct {
	*Conn
	msgs          chan Message
	closed        chan [2]any
	read, written atomic.Int64
}

func dialTest(t testing.TB, url string, opts *Options) (*testClient, error) {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	tc := &testClient{msgs: make(chan Message, 100), closed: make(chan [2]any, 1)}
	o := *opts
	o.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{nc, &tc.read, &tc.written}, nil
	}
	if TestClientOptions != nil {
		TestClientOptions(&o)
	}
	c, err := NewClient(url, &o)
	if err != nil {
		return nil, err
	}
	tc.Conn = c
	c.OnMessage(func(m Message) { tc.msgs <- Message{m.Type, bytes.Clone(m.Data)} })
	c.OnClose(func(code int, reason string) { tc.closed <- [2]any{code, reason} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close(1000, ""); <-c.Done() })
	return tc, nil
}

func (tc *testClient) next(t testing.TB) Message {
	t.Helper()
	select {
	case m := <-tc.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
	}
	return Message{}
}

func randomText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 4))
	words := []string{"permessage", "deflate", "window", "bits", "takeover", "context", "LZ77", "{\"id\":", "},", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestCompressionEcho round-trips messages through a compressing echo
// server in every mode: context takeover on and off on each side, and
// window sizes from 8 to 15 on each side.
func TestCompressionEcho(t *testing.T) {
	type mode struct {
		name           string
		server, client CompressionOptions
		ext            string
	}
	modes := []mode{
		{"defaults", CompressionOptions{}, CompressionOptions{},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"takeover both", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true},
			"permessage-deflate"},
		{"server takeover only", CompressionOptions{ContextTakeover: true}, CompressionOptions{},
			"permessage-deflate; client_no_context_takeover"},
		{"client takeover only", CompressionOptions{}, CompressionOptions{ContextTakeover: true},
			"permessage-deflate; server_no_context_takeover"},
		{"client refuses server takeover", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true, PeerNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover"},
		{"server refuses client takeover", CompressionOptions{ContextTakeover: true, PeerNoContextTakeover: true}, CompressionOptions{ContextTakeover: true},
			"permessage-deflate; client_no_context_takeover"},
		{"level 9", CompressionOptions{Level: 9, ContextTakeover: true}, CompressionOptions{Level: 9}, "permessage-deflate; client_no_context_takeover"},
		{"huffman only", CompressionOptions{Level: -2}, CompressionOptions{Level: -2},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	}
	for bits := 8; bits <= 15; bits++ {
		b := fmt.Sprint(bits)
		modes = append(modes,
			mode{"server window " + b, CompressionOptions{ContextTakeover: true, WindowBits: bits}, CompressionOptions{ContextTakeover: true},
				"permessage-deflate; server_max_window_bits=" + b},
			mode{"client window " + b, CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true, WindowBits: bits},
				"permessage-deflate; client_max_window_bits=" + b},
			mode{"server asks client window " + b, CompressionOptions{ContextTakeover: true, PeerWindowBits: bits}, CompressionOptions{ContextTakeover: true},
				"permessage-deflate; client_max_window_bits=" + b},
			mode{"client asks server window " + b, CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true, PeerWindowBits: bits},
				"permessage-deflate; server_max_window_bits=" + b},
		)
	}
	msgs := [][]byte{nil, []byte("Hello"), randomText(300, 1), randomText(5000, 2), randomText(300, 1), randomBytes(3000, 3), randomText(200000, 4), randomBytes(100000, 5), randomText(5000, 2)}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			m.server.Threshold, m.client.Threshold = -1, -1
			m.client.Mode = CompressionEnabled
			ext := make(chan string, 1)
			srv := echoServer(t, &Options{Compression: m.server}, ext)
			c, err := dialTest(t, wsURL(srv), &Options{Compression: m.client})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Extensions(); got != m.ext {
				t.Errorf("client Extensions() = %q, want %q", got, m.ext)
			}
			if got := <-ext; got != m.ext {
				t.Errorf("server Extensions() = %q, want %q", got, m.ext)
			}
			for i, msg := range msgs {
				typ := TextMessage
				if i == 5 || i == 7 {
					typ = BinaryMessage
				}
				if err := c.Send(msg, SendOptions{Type: typ}); err != nil {
					t.Fatal(err)
				}
				got := c.next(t)
				if got.Type != typ || !bytes.Equal(got.Data, msg) {
					t.Fatalf("message %d: got %v of %d bytes, want %v of %d", i, got.Type, len(got.Data), typ, len(msg))
				}
			}
			// The 200 kB of text crossed the wire compressed both ways.
			if r, w := c.read.Load(), c.written.Load(); w > 300000 || r > 300000 {
				t.Errorf("%d bytes written and %d read for 614 kB of messages each way: not compressed", w, r)
			}
		})
	}
}

// TestCompressionThreshold checks the size threshold and the per-message
// override, by the bytes the client writes.
func TestCompressionThreshold(t *testing.T) {
	srv := echoServer(t, nil, nil)
	c, err := dialTest(t, wsURL(srv), &Options{Compression: CompressionOptions{Mode: CompressionEnabled, Threshold: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	small, large := bytes.Repeat([]byte("a"), 900), bytes.Repeat([]byte("a"), 1100)
	tests := []struct {
		data       []byte
		choice     CompressChoice
		compressed bool
	}{
		{small, CompressDefault, false},
		{large, CompressDefault, true},
		{small, CompressAlways, true},
		{large, CompressNever, false},
	}
	for i, tt := range tests {
		before := c.written.Load()
		if err := c.Send(tt.data, SendOptions{Compress: tt.choice}); err != nil {
			t.Fatal(err)
		}
		wrote := c.written.Load() - before
		if compressed := wrote < int64(len(tt.data)); compressed != tt.compressed {
			t.Errorf("case %d: %d bytes written for %d: compressed %v, want %v", i, wrote, len(tt.data), compressed, tt.compressed)
		}
		if got := c.next(t); !bytes.Equal(got.Data, tt.data) {
			t.Errorf("case %d: echo differs", i)
		}
	}
	// Control frames are never compressed, even when asked.
	if err := c.Send(bytes.Repeat([]byte("p"), 100), SendOptions{Type: PingMessage, Compress: CompressAlways}); err != nil {
		t.Fatal(err)
	}
}

func TestCompressionModes(t *testing.T) {
	tests := []struct {
		name           string
		server, client CompressionMode
		ext            bool
	}{
		{"client does not offer by default", CompressionDefault, CompressionDefault, false},
		{"client enabled, server default", CompressionDefault, CompressionEnabled, true},
		{"client enabled, server enabled", CompressionEnabled, CompressionEnabled, true},
		{"server disabled", CompressionDisabled, CompressionEnabled, false},
		{"client disabled", CompressionDefault, CompressionDisabled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := make(chan string, 1)
			srv := echoServer(t, &Options{Compression: CompressionOptions{Mode: tt.server}}, ext)
			c, err := dialTest(t, wsURL(srv), &Options{Compression: CompressionOptions{Mode: tt.client}})
			if err != nil {
				t.Fatal(err)
			}
			se := <-ext
			if (c.Extensions() != "") != tt.ext || (se != "") != tt.ext {
				t.Errorf("client %q, server %q; want the extension: %v", c.Extensions(), se, tt.ext)
			}
			offered := c.RequestHeader().Get("Sec-WebSocket-Extensions")
			if (offered != "") != (tt.client == CompressionEnabled) {
				t.Errorf("offer %q with mode %d", offered, tt.client)
			}
			c.SendText("hi")
			if got := c.next(t); got.String() != "hi" {
				t.Errorf("echo %q", got.String())
			}
		})
	}
}

func TestCompressionBadOptions(t *testing.T) {
	for _, o := range []CompressionOptions{{Level: 10}, {Level: -1}, {WindowBits: 7}, {PeerWindowBits: 16}} {
		if _, err := NewClient("ws://127.0.0.1:1/", &Options{Compression: o}); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// fakeServer answers every handshake with a 101 whose
// Sec-WebSocket-Extensions is ext, then waits.
func fakeServer(t *testing.T, ext string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n",
					handshake.AcceptKey(req.Header.Get("Sec-WebSocket-Key")), ext)
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				nc.Read(make([]byte, 1))
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// TestCompressionClientFailsBadResponse: a client fails the connection
// when the server's answer has anything it did not offer, or is invalid.
func TestCompressionClientFailsBadResponse(t *testing.T) {
	tests := []struct {
		ext  string
		mode CompressionMode
		ok   bool
	}{
		{"permessage-deflate", CompressionEnabled, true},
		{"permessage-deflate; server_no_context_takeover; client_max_window_bits=9", CompressionEnabled, true},
		{"permessage-deflate", CompressionDefault, false},
		{"x-foo", CompressionEnabled, false},
		{"permessage-deflate, permessage-deflate", CompressionEnabled, false},
		{"permessage-deflate; foo", CompressionEnabled, false},
		{"permessage-deflate; client_max_window_bits", CompressionEnabled, false},
		{"permessage-deflate; server_max_window_bits=7", CompressionEnabled, false},
		{"permessage-deflate; server_max_window_bits", CompressionEnabled, false},
		{"permessage-deflate; client_no_context_takeover=1", CompressionEnabled, false},
		{"permessage-deflate; =", CompressionEnabled, false},
	}
	for _, tt := range tests {
		t.Run(tt.ext, func(t *testing.T) {
			c, err := dialTest(t, fakeServer(t, tt.ext), &Options{Compression: CompressionOptions{Mode: tt.mode}})
			if tt.ok {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if c.Extensions() != tt.ext {
					t.Errorf("Extensions() = %q", c.Extensions())
				}
				return
			}
			if _, ok := err.(*HandshakeError); !ok {
				t.Fatalf("got %v, want a *HandshakeError", err)
			}
		})
	}
}

// TestCompressionMaxLength: a small compressed message that inflates past
// the server's MaxLength closes the connection with 1009.
func TestCompressionMaxLength(t *testing.T) {
	srv := echoServer(t, &Options{MaxLength: 64 << 10}, nil)
	c, err := dialTest(t, wsURL(srv), &Options{Compression: CompressionOptions{Mode: CompressionEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	ok := make([]byte, 64<<10)
	c.SendBinary(ok)
	if got := c.next(t); len(got.Data) != len(ok) {
		t.Fatalf("message at the limit: echo of %d bytes", len(got.Data))
	}
	before := c.written.Load()
	c.SendBinary(make([]byte, 10<<20))
	if sent := c.written.Load() - before; sent > 64<<10 {
		t.Errorf("10 MiB of zeros took %d bytes on the wire", sent)
	}
	select {
	case cl := <-c.closed:
		if cl[0] != 1009 {
			t.Errorf("closed with %v, want 1009", cl)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not closed")
	}
}
