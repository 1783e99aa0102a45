package servers_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"testing"
	"time"

	"github.com/wsd-go/wsd/bench/internal/wsclient"
	"github.com/wsd-go/wsd/bench/servers"
)

// TestDeflate checks every server with Deflate: it accepts the offer, and
// echoes compressed messages, compressed, whatever their size.
func TestDeflate(t *testing.T) {
	var msg bytes.Buffer
	for i := 0; msg.Len() < 70000; i++ {
		fmt.Fprintf(&msg, `{"id":%d,"name":"user %d"},`, i, i%89)
	}
	for _, name := range servers.Names() {
		t.Run(name, func(t *testing.T) {
			start, _ := servers.Get(name)
			addr, stop, err := start("127.0.0.1:0", servers.Options{Deflate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c, err := wsclient.DialDeflate(addr, nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			for i, size := range []int{1, 1000, 65536, 70000} {
				p := msg.Bytes()[:size]
				z, err := wsclient.Deflate(nil, p, flate.DefaultCompression)
				if err != nil {
					t.Fatal(err)
				}
				op := byte(wsclient.OpText)
				if i%2 == 0 {
					op = wsclient.OpBinary
				}
				if err := c.WriteMessage(op, z, true); err != nil {
					t.Fatal(err)
				}
				gotOp, got, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				if gotOp != op || !bytes.Equal(got, p) {
					t.Fatalf("size %d: echo differs", size)
				}
				if _, compressed := c.LastWire(); !compressed {
					t.Fatalf("size %d: echo not compressed", size)
				}
			}
			if err := c.CloseHandshake(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPlain checks that without Deflate every server echoes and negotiates
// no extension (wsclient.Dial fails on any).
func TestPlain(t *testing.T) {
	for _, name := range servers.Names() {
		t.Run(name, func(t *testing.T) {
			start, _ := servers.Get(name)
			addr, stop, err := start("127.0.0.1:0", servers.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c, err := wsclient.Dial(addr, nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.WritePattern(wsclient.OpBinary, 1000, 42); err != nil {
				t.Fatal(err)
			}
			_, p, err := c.ReadMessage()
			if err != nil || !wsclient.Verify(p, 42, false) {
				t.Fatalf("echo: %v", err)
			}
		})
	}
}
