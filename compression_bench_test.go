//go:build !js

package wsd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd/internal/deflate"
	"github.com/wsd-go/wsd/internal/proto"
)

// TestSendZeroAlloc: sending a small message allocates nothing, whether
// or not permessage-deflate was agreed (the message is under the
// threshold), and neither does receiving it.
func TestSendZeroAlloc(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("counts allocations across goroutines, which the race detector changes")
	}
	for _, mode := range []CompressionMode{CompressionDisabled, CompressionEnabled} {
		got := make(chan struct{}, 1)
		srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := NewServer(w, r, nil)
			if err != nil {
				return
			}
			ws.OnMessage(func(Message) { got <- struct{}{} })
			ws.Start(r.Context())
		}))
		c, err := NewClient(wsURL(srv), &Options{Compression: CompressionOptions{Mode: mode}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if (c.Extensions() != "") != (mode == CompressionEnabled) {
			t.Fatalf("mode %d: extensions %q", mode, c.Extensions())
		}
		msg := []byte("a small message")
		for range 10 {
			c.SendBinary(msg)
			<-got
		}
		allocs := testing.AllocsPerRun(200, func() {
			c.SendBinary(msg)
			<-got
		})
		if allocs > 0.1 { // rare runtime allocations aside
			t.Errorf("mode %d: %.2f allocations per message, want 0", mode, allocs)
		}
		c.Close(1000, "")
		<-c.Done()
		srv.Close()
	}
}

// The modes of BenchmarkMemoryPerConn: what the client offers, and the
// server's options.
var memModes = []struct {
	name  string
	offer string
	opts  CompressionOptions
}{
	{"no-compression", "", CompressionOptions{}},
	// A wsd client's default offer: no context takeover either way.
	{"deflate-no-takeover", "permessage-deflate; client_no_context_takeover; client_max_window_bits", CompressionOptions{}},
	// A browser's offer: the client keeps its context, so the server
	// keeps a 32 KiB window.
	{"deflate-client-takeover", "permessage-deflate; client_max_window_bits", CompressionOptions{}},
	// The same with the client's window limited to 2^10 bytes.
	{"deflate-client-takeover-1k-window", "permessage-deflate; client_max_window_bits", CompressionOptions{PeerWindowBits: 10}},
	// Both sides keep their context.
	{"deflate-takeover-both", "permessage-deflate; client_max_window_bits", CompressionOptions{ContextTakeover: true}},
}

// BenchmarkMemoryPerConn measures the memory a server keeps for each idle
// connection, in each compression mode: 1000 connections from raw
// clients, each of which sends one 1 KiB message, compressed when the
// extension was agreed, and reads its echo (compressed too). The figure
// is the growth of heap and stacks, after garbage collection, divided by
// the number of connections, and so includes the raw client sockets.
// Run it with -benchtime=1x.
func BenchmarkMemoryPerConn(b *testing.B) {
	const conns = 1000
	msg := randomText(1024, 9)
	for _, mode := range memModes {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				perConn := memoryPerConn(b, conns, mode.offer, mode.opts, msg)
				b.ReportMetric(perConn, "B/conn")
			}
		})
	}
}

func memoryPerConn(b *testing.B, conns int, offer string, opts CompressionOptions, msg []byte) float64 {
	srv := ServeForTest(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, &Options{Compression: opts})
		if err != nil {
			return
		}
		ws.OnMessage(func(m Message) { ws.Send(m.Data, SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	// The frame each client sends: msg, compressed if the extension is
	// agreed, masked.
	client := proto.NewMachine(proto.Config{Role: proto.Client})
	var plain, packed []byte
	plain = client.AppendFrame(nil, proto.OpText, true, 0, msg)
	var z strings.Builder
	deflate.NewCompressor(1, 15, false).Compress(&z, msg)
	packed = client.AppendFrame(nil, proto.OpText, true, proto.RSV1, []byte(strings.TrimSuffix(z.String(), string(deflate.Tail[:]))))

	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	clients := make([]net.Conn, 0, conns)
	defer func() {
		for _, nc := range clients {
			nc.Close()
		}
	}()
	buf := make([]byte, 64<<10)
	for i := range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		if offer != "" {
			req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
		}
		nc.Write([]byte(req + "\r\n"))
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			b.Fatalf("connection %d: %v %v", i, resp, err)
		}
		agreed := resp.Header.Get("Sec-WebSocket-Extensions") != ""
		if agreed != (offer != "") {
			b.Fatalf("offer %q answered with %q", offer, resp.Header.Get("Sec-WebSocket-Extensions"))
		}
		frame := plain
		if agreed {
			frame = packed
		}
		nc.Write(frame)
		// Read the echo's header and payload.
		h, n := proto.Header{}, 0
		got := 0
		for {
			k, err := br.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += k
			if h, n, err = proto.ParseHeader(buf[:got]); n > 0 && int64(got-n) >= h.Length {
				break
			}
		}
		if agreed != (h.Rsv == proto.RSV1) {
			b.Fatalf("echo RSV %#x with extension %v", h.Rsv, agreed)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc+after.StackInuse) - int64(before.HeapAlloc+before.StackInuse)
	return float64(used) / float64(conns)
}

// BenchmarkSendCompressed measures sending one message through the whole
// write path to a server that discards it, per mode and size.
func BenchmarkSendCompressed(b *testing.B) {
	for _, takeover := range []bool{false, true} {
		for _, n := range []int{256, 4 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("takeover=%v/%d", takeover, n), func(b *testing.B) {
				got := make(chan struct{}, 1)
				srv := ServeForTest(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ws, err := NewServer(w, r, &Options{Compression: CompressionOptions{ContextTakeover: true}})
					if err != nil {
						return
					}
					ws.OnMessage(func(Message) { got <- struct{}{} })
					ws.Start(r.Context())
				}))
				defer srv.Close()
				c, err := NewClient(wsURL(srv), &Options{Compression: CompressionOptions{Mode: CompressionEnabled, ContextTakeover: takeover, Threshold: -1}})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				defer func() { c.Close(1000, ""); <-c.Done() }()
				msgs := [][]byte{randomText(n, 1), randomText(n, 2), randomText(n, 3)}
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					c.SendBinary(msgs[i%3])
					<-got
				}
			})
		}
	}
}
