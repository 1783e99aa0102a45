package wsclient

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// echoServer starts a wsd echo server; with compress it accepts
// permessage-deflate and compresses every message it sends.
func echoServer(t *testing.T, compress bool) string {
	opts := &wsd.Options{MaxLength: 1 << 24}
	if compress {
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// text returns n bytes of compressible ASCII.
func text(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user %d","ok":true},`, i, i%97)
	}
	return b.Bytes()[:n]
}

// TestDeflateEcho sends compressed and uncompressed messages to a
// compressing wsd server and checks the inflated echoes.
func TestDeflateEcho(t *testing.T) {
	c, err := DialDeflate(echoServer(t, true), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, size := range []int{0, 1, 125, 1000, 1 << 16, 300000} {
		for _, op := range []byte{OpText, OpBinary} {
			p := text(size)
			z, err := Deflate(nil, p, flate.DefaultCompression)
			if err != nil {
				t.Fatal(err)
			}
			for _, compressed := range []bool{true, false} {
				payload := p
				if compressed {
					payload = z
				}
				if err := c.WriteMessage(op, payload, compressed); err != nil {
					t.Fatal(err)
				}
				gotOp, got, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("size %d compressed %v: %v", size, compressed, err)
				}
				if gotOp != op || !bytes.Equal(got, p) {
					t.Fatalf("size %d compressed %v: echo differs (op %d, %d bytes)", size, compressed, gotOp, len(got))
				}
				n, wasCompressed := c.LastWire()
				if !wasCompressed {
					t.Fatalf("size %d: echo was not compressed", size)
				}
				if size >= 1000 && n >= size/2 {
					t.Errorf("size %d: echo took %d bytes on the wire", size, n)
				}
			}
		}
	}
	if err := c.CloseHandshake(); err != nil {
		t.Fatal(err)
	}
}

// TestPlainDialNoExtension checks that Dial offers nothing, so that a
// server able to compress does not.
func TestPlainDialNoExtension(t *testing.T) {
	c, err := Dial(echoServer(t, true), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WritePattern(OpBinary, 1000, 7); err != nil {
		t.Fatal(err)
	}
	_, p, err := c.ReadMessage()
	if err != nil || !Verify(p, 7, false) {
		t.Fatalf("echo: %v", err)
	}
	if _, compressed := c.LastWire(); compressed {
		t.Fatal("echo compressed without an offer")
	}
	if c.WriteMessage(OpBinary, []byte{0}, true) == nil {
		t.Fatal("compressed write allowed without the extension")
	}
}

// TestDeflateDeclined checks that DialDeflate fails when the server
// declines compression.
func TestDeflateDeclined(t *testing.T) {
	opts := &wsd.Options{Compression: wsd.CompressionOptions{Mode: wsd.CompressionDisabled}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws, err := wsd.NewServer(w, r, opts); err == nil {
			ws.Start(r.Context())
		}
	}))
	defer srv.Close()
	c, err := DialDeflate(strings.TrimPrefix(srv.URL, "http://"), nil, 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("DialDeflate succeeded without permessage-deflate")
	}
}

func TestCheckDeflate(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", true},
		{"permessage-deflate;server_no_context_takeover", true},
		{"permessage-deflate; server_no_context_takeover; server_max_window_bits=12", true},
		{`permessage-deflate; server_no_context_takeover; server_max_window_bits="15"`, true},
		{"", false},
		{"permessage-deflate", false},
		{"permessage-deflate; client_no_context_takeover", false},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", false},
		{"permessage-deflate; server_no_context_takeover; client_max_window_bits=15", false},
		{"permessage-deflate; server_no_context_takeover; server_max_window_bits=7", false},
		{"permessage-deflate; server_no_context_takeover; server_max_window_bits", false},
		{"permessage-deflate; server_no_context_takeover=1", false},
		{"permessage-deflate; server_no_context_takeover; foo", false},
		{"permessage-deflate; server_no_context_takeover, permessage-deflate", false},
		{"x-webkit-deflate-frame", false},
	} {
		if err := checkDeflate(tc.value); (err == nil) != tc.ok {
			t.Errorf("checkDeflate(%q) = %v, want ok %v", tc.value, err, tc.ok)
		}
	}
}

// pipeConn returns a client connection on one end of a pipe; the test
// writes server frames to the other end.
func pipeConn(deflate bool) (*Conn, net.Conn) {
	client, server := net.Pipe()
	return &Conn{nc: client, br: bufio.NewReader(client), rng: 1, deflate: deflate}, server
}

// TestReadCompressedFrames checks fragmented compressed messages and the
// rules for the compression bit.
func TestReadCompressedFrames(t *testing.T) {
	p := text(5000)
	z, err := Deflate(nil, p, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	frame := func(b0 byte, payload []byte) []byte {
		return append([]byte{b0, 126, byte(len(payload) >> 8), byte(len(payload))}, payload...)
	}
	half := len(z) / 2
	fragmented := append(frame(0x40|OpBinary, z[:half]), frame(0x80|OpContinuation, z[half:])...)

	c, server := pipeConn(true)
	go server.Write(fragmented)
	op, got, err := c.ReadMessage()
	if err != nil || op != OpBinary || !bytes.Equal(got, p) {
		t.Fatalf("fragmented compressed message: op %d, %d bytes, %v", op, len(got), err)
	}
	if n, compressed := c.LastWire(); n != len(z) || !compressed {
		t.Fatalf("LastWire = %d, %v; want %d, true", n, compressed, len(z))
	}

	for name, tc := range map[string]struct {
		deflate bool
		frames  []byte
	}{
		"RSV1 without the extension":   {false, frame(0xC0|OpText, z)},
		"RSV2":                         {true, frame(0xA0|OpText, p[:10])},
		"RSV1 on a continuation frame": {true, append(frame(0x40|OpBinary, z[:half]), frame(0xC0|OpContinuation, z[half:])...)},
		"RSV1 on a ping":               {true, []byte{0xC0 | OpPing, 0}},
		"corrupt deflate data":         {true, frame(0xC0|OpText, bytes.Repeat([]byte{0xff}, 200))},
	} {
		c, server := pipeConn(tc.deflate)
		go func() { server.Write(tc.frames); server.Close() }()
		if _, _, err := c.ReadMessage(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestAppendMessage unmasks a frame the way a server does.
func TestAppendMessage(t *testing.T) {
	for _, size := range []int{0, 5, 8, 13, 126, 70000} {
		p := text(size)
		f := AppendMessage([]byte("x"), OpText, p, true, 0x01020304)[1:]
		if f[0] != 0xC0|OpText {
			t.Fatalf("first byte %#x", f[0])
		}
		off := map[byte]int{126: 4, 127: 10}[f[1]&0x7f]
		if off == 0 {
			off = 2
		}
		mask, body := f[off:off+4], f[off+4:]
		for i := range body {
			body[i] ^= mask[i%4]
		}
		if !bytes.Equal(body, p) {
			t.Fatalf("size %d: unmasked payload differs", size)
		}
	}
}

// repeater reads the same bytes over and over.
type repeater struct {
	b   []byte
	off int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// TestReadCompressedAllocs checks that reading compressed messages does
// not reallocate buffers once they have grown. compress/flate itself
// allocates a few hundred bytes for each dynamic Huffman table it decodes.
func TestReadCompressedAllocs(t *testing.T) {
	p := text(20000)
	z, err := Deflate(nil, p, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	f := append([]byte{0xC0 | OpText, 126, byte(len(z) >> 8), byte(len(z))}, z...)
	c := &Conn{br: bufio.NewReader(&repeater{b: f}), deflate: true}
	read := func() {
		if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("read: %v", err)
		}
	}
	read()
	read()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100
	for range n {
		read()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 2048 {
		t.Errorf("%d bytes allocated per %d-byte message", per, len(p))
	}
}
