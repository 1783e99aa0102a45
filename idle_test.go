//go:build !js

package wsd

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestPackHeader(t *testing.T) {
	for _, h := range []http.Header{
		{},
		{"A": {"1"}},
		{"Sec-Websocket-Protocol": {"chat", "superchat"}, "Empty": {""}, "Odd": {"\x00\xff\r" + strings.Repeat("x", 300)}},
	} {
		if got := unpackHeader(packHeader(h)); !reflect.DeepEqual(got, h) {
			t.Errorf("round trip of %q gave %q", h, got)
		}
	}
}

// A server keeps no header maps and no channel while idle, yet gives the
// same answers.
func TestServerHeadersAndDone(t *testing.T) {
	got := make(chan *Conn, 1)
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, &Options{AcceptProtocols: []string{"chat"}, AdditionalHeaders: http.Header{"X-A": {"b"}}})
		if err != nil {
			return
		}
		if ws.ResponseHeader() != nil {
			t.Error("response header before Start")
		}
		if err := ws.Start(r.Context()); err == nil {
			got <- ws
		}
	}))
	defer srv.Close()
	c, err := NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), &Options{AcceptProtocols: []string{"chat"}, AdditionalHeaders: http.Header{"X-C": {"d", "e"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ws := <-got
	if ws.done != nil {
		t.Error("an idle connection holds its Done channel")
	}
	if h := ws.RequestHeader(); !reflect.DeepEqual(h["X-C"], []string{"d", "e"}) || h.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("request header %v", h)
	}
	h := ws.ResponseHeader()
	want := c.ResponseHeader()
	for _, k := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "X-A"} {
		if h.Get(k) == "" || h.Get(k) != want.Get(k) {
			t.Errorf("server's %s %q, client saw %q", k, h.Get(k), want.Get(k))
		}
	}
	c.Close(1000, "")
	<-c.Done()
	select {
	case <-ws.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server Done not closed")
	}
	// Asked after the end, Done is closed at once.
	fresh, _ := NewClient("ws://127.0.0.1:1", nil)
	fresh.Close(1000, "")
	select {
	case <-fresh.Done():
	default:
		t.Error("Done of a connection closed before Start is open")
	}
}

// A Conn fits the 512-byte size class: a byte more and the allocator
// rounds every idle connection up to 576 bytes, with a header.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 512 {
		t.Errorf("Conn is %d bytes, over 512", n)
	}
}
