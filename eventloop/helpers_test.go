//go:build !js

package eventloop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
)

// A transport serves a handler and returns its ws:// base URL; the server
// stops when the test ends.
type transportKind struct {
	name  string
	serve func(t *testing.T, h http.Handler, cfg func(*eventloop.Server)) string
}

// testEngine is the engine the tests' servers use: "" (epoll), or
// "uring" in the run of TestUringEngine.
var testEngine = os.Getenv(engineEnv)

const engineEnv = "WSD_TEST_ENGINE"

var transports = []transportKind{
	{"goroutine", serveNetHTTP},
	{"epoll", serveEventloop},
}

// forEach runs f as a subtest on each transport.
func forEach(t *testing.T, f func(t *testing.T, serve func(h http.Handler) string)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			f(t, func(h http.Handler) string { return tr.serve(t, h, nil) })
		})
	}
}

func serveNetHTTP(t *testing.T, h http.Handler, cfg func(*eventloop.Server)) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = eventloop.DefaultMaxHeaderBytes
	srv.Config.ErrorLog = quietLog
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws://" + srv.Listener.Addr().String()
}

var quietLog = log.New(io.Discard, "", 0)

func serveEventloop(t *testing.T, h http.Handler, cfg func(*eventloop.Server)) string {
	t.Helper()
	s, url := startEventloop(t, h, cfg)
	_ = s
	return url
}

func startEventloop(t *testing.T, h http.Handler, cfg func(*eventloop.Server)) (*eventloop.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &eventloop.Server{Handler: h, Loops: 2, Workers: 16, ErrorLog: quietLog, Engine: testEngine}
	if cfg != nil {
		cfg(s)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-served:
			if !errors.Is(err, eventloop.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return s, "ws://" + ln.Addr().String()
}

// echoHandler echoes every message with its type.
func echoHandler(opts *wsd.Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
}

// client is a wsd client whose events land in channels.
type client struct {
	*wsd.Conn
	msgs   chan wsd.Message
	closed chan closeEvent
}

type closeEvent struct {
	code   int
	reason string
}

func dial(t *testing.T, url string, opts *wsd.Options) *client {
	t.Helper()
	c, err := dialErr(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(1000, "") })
	return c
}

func dialErr(url string, opts *wsd.Options) (*client, error) {
	ws, err := wsd.NewClient(url, opts)
	if err != nil {
		return nil, err
	}
	c := &client{Conn: ws, msgs: make(chan wsd.Message, 1024), closed: make(chan closeEvent, 1)}
	ws.OnMessage(func(m wsd.Message) { c.msgs <- wsd.Message{Type: m.Type, Data: bytes.Clone(m.Data)} })
	ws.OnClose(func(code int, reason string) { c.closed <- closeEvent{code, reason} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *client) next(t *testing.T) wsd.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
		return wsd.Message{}
	}
}

func (c *client) waitClose(t *testing.T) closeEvent {
	t.Helper()
	select {
	case ev := <-c.closed:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no close event")
		return closeEvent{}
	}
}

// A raw connection speaks frames by hand, to break the protocol on
// purpose and control how bytes are cut.
type raw struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

const handshakeRequest = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

func dialRaw(t *testing.T, url string) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// response reads an HTTP response.
func (r *raw) response() *http.Response {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	return resp
}

// upgrade sends the handshake and checks the 101.
func (r *raw) upgrade() {
	r.t.Helper()
	r.write([]byte(handshakeRequest))
	if resp := r.response(); resp.StatusCode != 101 {
		r.t.Fatalf("status %d, want 101", resp.StatusCode)
	}
}

// frame encodes a masked client frame.
func frame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{1, 2, 3, 4}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// unmaskedFrame encodes a frame without a mask, which a server must refuse.
func unmaskedFrame(op byte, payload []byte) []byte {
	return append([]byte{0x80 | op, byte(len(payload))}, payload...)
}

// readFrame reads one server frame.
func (r *raw) readFrame() (op byte, payload []byte) {
	r.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		r.t.Fatalf("read frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(r.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(r.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, payload); err != nil {
		r.t.Fatalf("read payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// closeCode reads frames up to a close frame and returns its code.
func (r *raw) closeCode() int {
	r.t.Helper()
	for {
		op, p := r.readFrame()
		if op == 8 {
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// eof checks that the server closes the connection.
func (r *raw) eof() {
	r.t.Helper()
	if _, err := io.Copy(io.Discard, r.br); err != nil {
		r.t.Fatalf("want EOF, got %v", err)
	}
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

// isEpoll reports whether t runs on the engine proper (elsewhere than
// Linux, Server falls back to net/http).
func isEpoll(t *testing.T) bool {
	return runtime.GOOS == "linux" && strings.HasSuffix(t.Name(), "/epoll")
}
