//go:build !js

package wsd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Tests of Write, Writer, and of sends made before the connection opens;
// they run on both transports.

// readClientFrame reads one masked frame as a server receives it.
func readClientFrame(br *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(br, l[:])
		n = int(l[0])<<8 | int(l[1])
	case 127:
		var l [8]byte
		_, err = io.ReadFull(br, l[:])
		n = 0
		for _, b := range l {
			n = n<<8 | int(b)
		}
	}
	var key [4]byte
	if err == nil && h[1]&0x80 != 0 {
		_, err = io.ReadFull(br, key[:])
	}
	payload = make([]byte, n)
	if err == nil {
		_, err = io.ReadFull(br, payload)
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return
}

func TestWriterFragmentsAndLetsControlFramesThrough(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	nc, br, _ := rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	w, err := ws.Writer(context.Background(), TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	part := strings.Repeat("x", fragmentSize)
	w.Write([]byte(part)) // one full fragment goes out
	ws.SendPing([]byte("between"), nil)
	other := make(chan error, 1)
	go func() { other <- ws.SendText("after") }() // waits for the Writer
	select {
	case err := <-other:
		t.Fatalf("a message went out while a Writer was open: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	w.Write([]byte("tail"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, other, 5*time.Second, "the other message"); err != nil {
		t.Fatal(err)
	}
	type fr struct {
		fin bool
		op  byte
		n   int
	}
	var got []fr
	for len(got) < 4 {
		f, err := readServerFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fr{true, f.op, len(f.payload)})
	}
	want := []fr{{true, 0x1, fragmentSize}, {true, 0x9, 7}, {true, 0x0, 4}, {true, 0x1, 5}}
	for i := range want {
		if got[i].op != want[i].op || got[i].n != want[i].n {
			t.Errorf("frame %d: op %x, %d bytes; want op %x, %d bytes (all: %v)", i, got[i].op, got[i].n, want[i].op, want[i].n, got)
		}
	}
	nc.Close()
}

func TestWriterLeftOpenWhenTheConnectionCloses(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	nc, _, _ := rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	w, err := ws.Writer(context.Background(), BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("start"))
	waiting := make(chan error, 1)
	go func() { waiting <- ws.SendText("queued behind the writer") }()
	nc.Close()
	waitFor(t, ws.Done(), 5*time.Second, "connection end")
	if _, err := w.Write(make([]byte, 2*fragmentSize)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after the end: %v, want ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after the end: %v, want ErrClosed", err)
	}
	if err := waitFor(t, waiting, 5*time.Second, "the send behind the writer"); !errors.Is(err, ErrClosed) {
		t.Errorf("send behind the writer: %v, want ErrClosed", err)
	}
}

func TestWriteContextEndsFailTheConnection(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	_, br, _ := rawClient(t, srv, "") // reads one byte, no more
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The context ends once the write is under way: the peer has its
	// first byte. (A deadline could pass before a slow machine begins.)
	go func() {
		br.ReadByte()
		cancel()
	}()
	err := ws.Write(ctx, BinaryMessage, make([]byte, 64<<20))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write past its context: %v, want context.Canceled", err)
	}
	waitFor(t, ws.Done(), 5*time.Second, "connection end")
	// A context done before the write leaves the connection alone.
	srv2, conns2 := serveConns(t, nil, nil)
	clientStart(t, wsURL(srv2), nil, func(c *Conn) { c.OnMessage(func(Message) {}) })
	ws2 := waitFor(t, conns2, 5*time.Second, "server connection")
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := ws2.Write(done, TextMessage, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a done context: %v", err)
	}
	if err := ws2.Write(context.Background(), TextMessage, []byte("x")); err != nil {
		t.Errorf("Write after a refused one: %v", err)
	}
}

func TestSendsBeforeOpenAreQueued(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	c, err := NewClient(wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.OnMessage(func(Message) {})
	var calls []error
	c.SendText("one")
	c.Send([]byte("two"), SendOptions{Type: BinaryMessage, Callback: func(err error) { calls = append(calls, err) }})
	c.SendPing([]byte("p"), nil)
	written := make(chan error, 1)
	go func() { written <- c.Write(context.Background(), TextMessage, []byte("three")) }()
	time.Sleep(50 * time.Millisecond) // let Write queue its message
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { c.CloseNow(); <-c.Done() }()
	if err := waitFor(t, written, 5*time.Second, "the queued Write"); err != nil {
		t.Errorf("queued Write: %v", err)
	}
	c.SendText("four") // after the open: after the queue
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	for _, want := range []string{"one", "two", "three", "four"} {
		_, m, err := ws.Read(context.Background())
		if err != nil || string(m) != want {
			t.Fatalf("got %q, %v; want %q", m, err, want)
		}
	}
	if len(calls) != 1 || calls[0] != nil {
		t.Errorf("callback of the queued send: %v, want one nil", calls)
	}
}

func TestSendsBeforeOpenFailWithTheHandshake(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer refuse.Close()
	c, _ := NewClient("ws"+strings.TrimPrefix(refuse.URL, "http"), &Options{MaxPendingSends: 10})
	got := make(chan error, 2)
	c.Send([]byte("12345"), SendOptions{Callback: func(err error) { got <- err }})
	if err := c.Send([]byte("123456"), SendOptions{}); !errors.Is(err, ErrPendingFull) {
		t.Errorf("send past MaxPendingSends: %v, want ErrPendingFull", err)
	}
	startErr := c.Start(context.Background())
	var he *HandshakeError
	if !errors.As(startErr, &he) {
		t.Fatalf("Start: %v, want a refused handshake", startErr)
	}
	if err := waitFor(t, got, time.Second, "the queued send's callback"); err != startErr {
		t.Errorf("queued send's callback got %v, want the handshake's error %v", err, startErr)
	}
	if err := c.SendText("late"); !errors.Is(err, ErrClosed) {
		t.Errorf("send after the failed handshake: %v, want ErrClosed", err)
	}
	// Close before Start fails what was queued.
	c2, _ := NewClient(wsURL(&TestHTTPServer{URL: refuse.URL}), nil)
	c2.Send([]byte("x"), SendOptions{Callback: func(err error) { got <- err }})
	c2.Close(CloseNormal, "")
	if err := waitFor(t, got, time.Second, "callback after Close"); !errors.Is(err, ErrClosed) {
		t.Errorf("queued send after Close: %v, want ErrClosed", err)
	}
}

func TestIsWebSocket(t *testing.T) {
	good := func() *http.Request {
		r := httptest.NewRequest("GET", "/chat", nil)
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		return r
	}
	tests := []struct {
		name   string
		change func(r *http.Request)
		want   bool
	}{
		{"valid", func(*http.Request) {}, true},
		{"valid, with a foreign origin", func(r *http.Request) { r.Header.Set("Origin", "https://elsewhere.example") }, true},
		{"plain GET", func(r *http.Request) { r.Header = http.Header{} }, false},
		{"POST", func(r *http.Request) { r.Method = "POST" }, false},
		{"no Upgrade", func(r *http.Request) { r.Header.Del("Upgrade") }, false},
		{"no Connection upgrade", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, false},
		{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, false},
		{"bad key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "short") }, false},
		{"HTTP/1.0", func(r *http.Request) { r.ProtoMajor, r.ProtoMinor = 1, 0 }, false},
		{"RFC 8441 CONNECT over HTTP/2", func(r *http.Request) {
			r.ProtoMajor, r.ProtoMinor, r.Method = 2, 0, http.MethodConnect
			r.Header = http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}}
		}, true},
		{"HTTP/2 CONNECT without :protocol", func(r *http.Request) {
			r.ProtoMajor, r.ProtoMinor, r.Method = 2, 0, http.MethodConnect
			r.Header = http.Header{"Sec-Websocket-Version": {"13"}}
		}, false},
		{"HTTP/2 GET", func(r *http.Request) { r.ProtoMajor, r.ProtoMinor = 2, 0 }, false},
	}
	for _, tt := range tests {
		r := good()
		tt.change(r)
		w := httptest.NewRecorder()
		if got := IsWebSocket(r); got != tt.want {
			t.Errorf("%s: IsWebSocket = %v, want %v", tt.name, got, tt.want)
		}
		if w.Body.Len() != 0 || len(w.Header()) != 0 {
			t.Errorf("%s: IsWebSocket wrote a response", tt.name)
		}
	}
}

func TestOnePathServesAPageAndAWebSocket(t *testing.T) {
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsWebSocket(r) {
			io.WriteString(w, "<p>the page</p>")
			return
		}
		ws, err := NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m Message) { ws.Send(m.Data, SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("the page")) {
		t.Errorf("page: %q", body)
	}
	c := clientStart(t, wsURL(srv), nil, nil)
	c.Write(context.Background(), TextMessage, []byte("hi"))
	if _, m, err := c.Read(context.Background()); err != nil || string(m) != "hi" {
		t.Errorf("echo: %q, %v", m, err)
	}
}
