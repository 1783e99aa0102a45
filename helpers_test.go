//go:build !js

package wsd_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 5 * time.Second

// TestMain fails the run if goroutines outlive the tests: every
// connection, server and fake peer must have wound down.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if report := waitForGoroutines(base, 5*time.Second); report != "" {
			fmt.Fprint(os.Stderr, report)
			code = 1
		}
	}
	os.Exit(code)
}

// waitForGoroutines polls until no more than base goroutines run, or
// returns a report with every goroutine's stack once limit has passed.
func waitForGoroutines(base int, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return ""
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Sprintf("goroutine leak: %d goroutines remain after the tests, %d before them:\n\n%s\n", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// event is one call of a connection's handlers.
type event struct {
	kind string // open, message, error, close, ping, pong
	typ  wsd.MessageType
	data string
	code int
	err  error
}

func (e event) String() string {
	data := e.data
	if len(data) > 40 {
		data = fmt.Sprintf("%.40q...(%d bytes)", data, len(data))
	} else {
		data = fmt.Sprintf("%q", data)
	}
	switch e.kind {
	case "message":
		return fmt.Sprintf("message(%v, %s)", e.typ, data)
	case "error":
		return fmt.Sprintf("error(%v)", e.err)
	case "close":
		return fmt.Sprintf("close(%d, %s)", e.code, data)
	case "ping", "pong":
		return fmt.Sprintf("%s(%s)", e.kind, data)
	}
	return e.kind
}

// recorder records the events of one connection, in order.
type recorder struct {
	c    *wsd.Conn
	ch   chan event
	echo bool // send each message back, as it came
	// onError, if set, runs in the error handler before it records.
	onError func(error)
}

func record(c *wsd.Conn) *recorder {
	r := &recorder{c: c, ch: make(chan event, 4096)}
	c.OnOpen(func() { r.push(event{kind: "open"}) })
	c.OnMessage(func(m wsd.Message) {
		r.push(event{kind: "message", typ: m.Type, data: string(m.Data)})
		if r.echo {
			if err := c.Send(m.Data, wsd.SendOptions{Type: m.Type}); err != nil && !errors.Is(err, wsd.ErrClosed) {
				r.push(event{kind: "echo failed", err: err})
			}
		}
	})
	c.OnError(func(err error) {
		if r.onError != nil {
			r.onError(err)
		}
		r.push(event{kind: "error", err: err})
	})
	c.OnClose(func(code int, reason string) { r.push(event{kind: "close", code: code, data: reason}) })
	c.OnPing(func(p []byte) { r.push(event{kind: "ping", data: string(p)}) })
	c.OnPong(func(p []byte) { r.push(event{kind: "pong", data: string(p)}) })
	return r
}

func (r *recorder) push(e event) {
	select {
	case r.ch <- e:
	default:
		panic("event recorder overflow")
	}
}

// next returns the next event, failing the test if none comes in time.
func (r *recorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(waitTimeout):
		t.Fatalf("no event within %v", waitTimeout)
		return event{}
	}
}

// expect returns the next event, which must be of kind.
func (r *recorder) expect(t *testing.T, kind string) event {
	t.Helper()
	e := r.next(t)
	if e.kind != kind {
		t.Fatalf("event %v, want %s", e, kind)
	}
	return e
}

func (r *recorder) expectMessage(t *testing.T, typ wsd.MessageType, data string) {
	t.Helper()
	e := r.expect(t, "message")
	if e.typ != typ || e.data != data {
		t.Fatalf("got %v, want %v", e, event{kind: "message", typ: typ, data: data})
	}
}

func (r *recorder) expectClose(t *testing.T, code int, reason string) {
	t.Helper()
	e := r.expect(t, "close")
	if e.code != code || e.data != reason {
		t.Fatalf("got %v, want close(%d, %q)", e, code, reason)
	}
}

// expectProtocolError checks the end of a failed connection: the error
// event with a *ProtocolError of code, then the close event with code.
func (r *recorder) expectProtocolError(t *testing.T, code int) {
	t.Helper()
	e := r.expect(t, "error")
	var pe *wsd.ProtocolError
	if !errors.As(e.err, &pe) {
		t.Fatalf("error %v (%T), want *wsd.ProtocolError", e.err, e.err)
	}
	if pe.Code != code {
		t.Fatalf("ProtocolError code %d (%v), want %d", pe.Code, pe, code)
	}
	c := r.expect(t, "close")
	if c.code != code {
		t.Fatalf("close event %v after protocol error, want code %d", c, code)
	}
	r.expectDone(t)
}

// expectDone waits for the connection to end and checks no event follows
// the close event.
func (r *recorder) expectDone(t *testing.T) {
	t.Helper()
	select {
	case <-r.c.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("connection not done within %v", waitTimeout)
	}
	if st := r.c.ReadyState(); st != wsd.Closed {
		t.Errorf("ReadyState %v after Done, want closed", st)
	}
	select {
	case e := <-r.ch:
		t.Fatalf("event %v after the close event", e)
	default:
	}
}

// closeAndWait closes c and waits for it to end.
func closeAndWait(t *testing.T, c *wsd.Conn) {
	t.Helper()
	c.Close(1001, "")
	select {
	case <-c.Done():
	case <-time.After(2 * waitTimeout):
		t.Errorf("connection not done within %v of Close", 2*waitTimeout)
	}
}

// serverSide is a connection accepted by a testServer.
type serverSide struct {
	c   *wsd.Conn
	rec *recorder
}

// testServer is an httptest server whose handler makes a wsd server
// connection of every request.
type testServer struct {
	ts    *httptest.Server // nil when the suite runs on another transport
	url   string           // ws:// URL of the server
	addr  string
	conns chan serverSide
	errs  chan error // from NewServer and Start
}

func newTestServer(t *testing.T, opts *wsd.Options, setup func(c *wsd.Conn, rec *recorder)) *testServer {
	return startTestServer(t, opts, setup, false, nil)
}

// startTestServer starts a testServer over TLS if useTLS is set, after
// letting configure, if not nil, change its http.Server. Without either it
// runs on the transport under test.
func startTestServer(t *testing.T, opts *wsd.Options, setup func(c *wsd.Conn, rec *recorder), useTLS bool, configure func(*http.Server)) *testServer {
	s := &testServer{conns: make(chan serverSide, 64), errs: make(chan error, 64)}
	var mu sync.Mutex
	var all []*wsd.Conn
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, opts)
		if err != nil {
			s.errs <- err
			return
		}
		rec := record(c)
		if setup != nil {
			setup(c, rec)
		}
		mu.Lock()
		all = append(all, c)
		mu.Unlock()
		if c.HTTP2() {
			// Start returns only once the connection has closed.
			s.conns <- serverSide{c, rec}
		}
		if err := c.Start(r.Context()); err != nil {
			s.errs <- err
			return
		}
		if !c.HTTP2() {
			s.conns <- serverSide{c, rec}
		}
	})
	var stop func()
	if useTLS || configure != nil {
		s.ts = httptest.NewUnstartedServer(h)
		s.ts.Config.ErrorLog = log.New(io.Discard, "", 0) // failed TLS handshakes are expected
		if configure != nil {
			configure(s.ts.Config)
		}
		if useTLS {
			s.ts.StartTLS()
		} else {
			s.ts.Start()
		}
		s.url = "ws" + strings.TrimPrefix(s.ts.URL, "http")
		s.addr = s.ts.Listener.Addr().String()
		stop = s.ts.Close
	} else {
		hs := wsd.ServeForTest(t, h)
		s.url, s.addr, stop = suiteScheme+"://"+hs.Addr, hs.Addr, hs.Close
	}
	t.Cleanup(func() {
		mu.Lock()
		cs := all
		mu.Unlock()
		for _, c := range cs {
			closeAndWait(t, c)
		}
		stop()
	})
	return s
}

// accept returns the next connection the server started.
func (s *testServer) accept(t *testing.T) serverSide {
	t.Helper()
	select {
	case sc := <-s.conns:
		return sc
	case err := <-s.errs:
		t.Fatalf("server: %v", err)
	case <-time.After(waitTimeout):
		t.Fatalf("server: no connection within %v", waitTimeout)
	}
	return serverSide{}
}

// dialClient starts a client to url and closes it at the end of the test.
func dialClient(t *testing.T, url string, opts *wsd.Options, setup func(c *wsd.Conn, rec *recorder)) (*wsd.Conn, *recorder) {
	t.Helper()
	opts = suiteClientOptions(url, opts)
	c, err := wsd.NewClient(url, opts)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", url, err)
	}
	rec := record(c)
	if setup != nil {
		setup(c, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeAndWait(t, c) })
	return c, rec
}

// pair starts a server and a client connected to it.
func pair(t *testing.T, sopts, copts *wsd.Options, ssetup, csetup func(c *wsd.Conn, rec *recorder)) (srv serverSide, cli serverSide) {
	t.Helper()
	s := newTestServer(t, sopts, ssetup)
	c, rec := dialClient(t, s.url, copts, csetup)
	srv = s.accept(t)
	srv.rec.expect(t, "open")
	rec.expect(t, "open")
	return srv, serverSide{c, rec}
}

// Raw peers: a frame codec and a connection written independently of
// the library, to see exactly what it puts on the wire.

const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + guid))
	return base64.StdEncoding.EncodeToString(h[:])
}

// frame is one frame read from the wire, unmasked.
type frame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

func (f frame) String() string {
	return fmt.Sprintf("frame(fin=%v rsv=%x op=%x masked=%v %d bytes %.40q)", f.fin, f.rsv, f.op, f.masked, len(f.payload), f.payload)
}

// closeCode returns the status code of a close frame, 1005 if it has none.
func (f frame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// encodeFrame encodes one frame with the first byte b0 (FIN, RSV,
// opcode) and a payload, masked with a random key if mask is set.
func encodeFrame(b0 byte, payload []byte, mask bool) []byte {
	var out []byte
	var m byte
	if mask {
		m = 0x80
	}
	out = append(out, b0)
	switch n := len(payload); {
	case n <= 125:
		out = append(out, m|byte(n))
	case n <= 0xffff:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !mask {
		return append(out, payload...)
	}
	key := [4]byte{byte(rand.Uint32()), byte(rand.Uint32()), byte(rand.Uint32()), byte(rand.Uint32())}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// readFrame reads one frame from r.
func readFrame(r io.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		if n < 126 {
			return f, fmt.Errorf("16-bit length %d is not minimal", n)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
		if n <= 0xffff || n>>63 != 0 {
			return f, fmt.Errorf("64-bit length %d is not minimal or has its MSB set", n)
		}
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// rawConn is a raw WebSocket peer over TCP.
type rawConn struct {
	t      *testing.T
	nc     net.Conn
	br     *bufio.Reader
	client bool // a client masks what it sends and expects unmasked frames
	fatal  func(format string, args ...any)
}

func newRawConn(t *testing.T, nc net.Conn, client bool, fatal func(string, ...any)) *rawConn {
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc), client: client, fatal: fatal}
}

// rawDial connects a raw client to addr, closed at the end of the test.
// Only the test's goroutine may use it.
func rawDial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return newRawConn(t, nc, true, t.Fatalf)
}

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

// handshakeRequest is a valid opening handshake with extra header lines.
func handshakeRequest(path string, extra ...string) string {
	lines := []string{
		"GET " + path + " HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13",
	}
	return strings.Join(append(lines, extra...), "\r\n") + "\r\n\r\n"
}

// handshake sends a valid opening handshake and checks the 101 answer.
func (rc *rawConn) handshake(extra ...string) *http.Response {
	rc.t.Helper()
	rc.write([]byte(handshakeRequest("/", extra...)))
	resp := rc.readResponse()
	if resp.StatusCode != 101 {
		rc.fatal("handshake answered %s, want 101", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(sampleKey) {
		rc.fatal("Sec-WebSocket-Accept %q, want %q", got, acceptKey(sampleKey))
	}
	return resp
}

func (rc *rawConn) readResponse() *http.Response {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: "GET"})
	if err != nil {
		rc.fatal("read response: %v", err)
	}
	if resp.StatusCode != 101 {
		// Read the body so the connection can be checked further.
		io.Copy(io.Discard, resp.Body)
	}
	return resp
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	rc.nc.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := rc.nc.Write(b); err != nil {
		rc.fatal("write: %v", err)
	}
}

// send writes one frame, masked if rc is a client.
func (rc *rawConn) send(b0 byte, payload string) {
	rc.t.Helper()
	rc.write(encodeFrame(b0, []byte(payload), rc.client))
}

func (rc *rawConn) read() frame {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	f, err := readFrame(rc.br)
	if err != nil {
		rc.fatal("read frame: %v", err)
	}
	if f.masked == rc.client {
		rc.fatal("%v: masked=%v, but frames to a %s must be masked=%v (RFC 6455 section 5.1)", f, f.masked, map[bool]string{true: "client", false: "server"}[rc.client], !rc.client)
	}
	return f
}

// expectClose reads the next frame, which must be a close frame with code.
func (rc *rawConn) expectClose(code int) frame {
	rc.t.Helper()
	f := rc.read()
	if f.op != opClose || !f.fin || f.rsv != 0 {
		rc.fatal("got %v, want a close frame with code %d", f, code)
	}
	if f.closeCode() != code {
		rc.fatal("close frame with code %d (%q), want %d", f.closeCode(), f.payload, code)
	}
	return f
}

// expectEOF checks that the peer closes the TCP connection, with nothing
// more sent.
func (rc *rawConn) expectEOF() {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	b, err := rc.br.ReadByte()
	if err == nil {
		rc.fatal("read byte 0x%02x, want the connection closed", b)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		rc.fatal("connection still open after %v, want it closed", waitTimeout)
	}
}

// fakeServer is a raw TCP server that hands each connection, its
// handshake request read, to a handler.
type fakeServer struct {
	url string
	ln  net.Listener
}

func newFakeServer(t *testing.T, handle func(rc *rawConn, req *http.Request)) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{url: "ws://" + ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		t.Errorf("fake server: "+format, args...)
		runtime.Goexit()
	}
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				rc := newRawConn(t, nc, false, fail)
				nc.SetReadDeadline(time.Now().Add(waitTimeout))
				req, err := http.ReadRequest(rc.br)
				if err != nil {
					t.Errorf("fake server: read request: %v", err)
					return
				}
				handle(rc, req)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * waitTimeout):
			t.Errorf("fake server handlers still running after %v", 2*waitTimeout)
		}
	})
	return s
}

// accept101 answers a handshake request with a valid 101 response, with
// extra header lines.
func (rc *rawConn) accept101(req *http.Request, extra ...string) {
	rc.write([]byte(response101(req, extra...)))
}

func response101(req *http.Request, extra ...string) string {
	lines := []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key"))}
	return strings.Join(append(lines, extra...), "\r\n") + "\r\n\r\n"
}

// within fails the test unless ch is closed or receives within d.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
		var zero T
		return zero
	}
}
