//go:build !js

package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEchoDeflate talks to the echo server by hand: an uncompressed
// "Hello" comes back compressed (RSV1 set) when the extension was agreed,
// and plain when the server runs with -deflate=false.
func TestEchoDeflate(t *testing.T) {
	for _, deflate := range []bool{true, false} {
		srv := httptest.NewServer(echoHandler(echoOptions("", deflate)))
		nc, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"))
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); (got != "") != deflate {
			t.Errorf("deflate %v: extensions %q", deflate, got)
		}
		// A masked "Hello" with a zero key.
		nc.Write([]byte{0x81, 0x85, 0, 0, 0, 0, 'H', 'e', 'l', 'l', 'o'})
		var hdr [2]byte
		if _, err := br.Read(hdr[:1]); err != nil {
			t.Fatal(err)
		}
		want := byte(0x81)
		if deflate {
			want = 0xc1
		}
		if hdr[0] != want {
			t.Errorf("deflate %v: echo starts with %#x, want %#x", deflate, hdr[0], want)
		}
		nc.Close()
		srv.Close()
	}
}
