//go:build !js

package wsd_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	_ "github.com/wsd-go/wsd/xconnect" // RFC 8441 on in net/http's HTTP/2 server
)

// skipOnOtherTransport skips HTTP/2 tests in the runs of the suite on
// other transports: they run their own servers.
func skipOnOtherTransport(t *testing.T) {
	if os.Getenv(h2SuiteEnv) != "" || os.Getenv("WSD_TEST_ENGINE") != "" {
		t.Skip("runs once, in the main run")
	}
}

// h2Server is a TLS server with HTTP/2 whose handler is h; configure, if
// not nil, changes its http.Server first. It counts the TCP connections.
type h2TestServer struct {
	*httptest.Server
	cfg   *tls.Config // for clients
	conns atomic.Int32
}

func h2Server(t *testing.T, h http.Handler, configure func(*http.Server)) *h2TestServer {
	t.Helper()
	s := &h2TestServer{Server: httptest.NewUnstartedServer(h)}
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if configure != nil {
		configure(s.Config)
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	s.cfg = &tls.Config{RootCAs: pool}
	return s
}

func (s *h2TestServer) wss(path string) string {
	return "wss" + strings.TrimPrefix(s.URL, "https") + path
}

// serverConns is a handler that makes a wsd server connection of every
// request, with opts and setup, and reports each on conns once open, and
// the request and any error of NewServer or Start on reqs and errs.
type serverConns struct {
	opts  *wsd.Options
	setup func(c *wsd.Conn, rec *recorder)
	conns chan serverSide
	reqs  chan *http.Request
	errs  chan error
	// handlers running; a counter, as a WaitGroup's Add must happen
	// before its Wait and a network round trip does not order them
	running atomic.Int32
}

func newServerConns(opts *wsd.Options, setup func(c *wsd.Conn, rec *recorder)) *serverConns {
	return &serverConns{opts: opts, setup: setup, conns: make(chan serverSide, 200), reqs: make(chan *http.Request, 200), errs: make(chan error, 200)}
}

func (sc *serverConns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sc.running.Add(1)
	defer sc.running.Add(-1)
	sc.reqs <- r
	c, err := wsd.NewServer(w, r, sc.opts)
	if err != nil {
		sc.errs <- err
		return
	}
	rec := record(c)
	if sc.setup != nil {
		sc.setup(c, rec)
	}
	sc.conns <- serverSide{c, rec}
	if err := c.Start(r.Context()); err != nil {
		sc.errs <- err
	}
}

// waitHandlers waits until every handler has returned: over HTTP/2 a
// handler runs as long as its WebSocket.
func (sc *serverConns) waitHandlers(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); sc.running.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers still running after %v", sc.running.Load(), waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (sc *serverConns) noErrors(t *testing.T) {
	t.Helper()
	select {
	case err := <-sc.errs:
		t.Errorf("server: %v", err)
	default:
	}
}

func h2Options(s *h2TestServer, mode wsd.HTTP2Mode) *wsd.Options {
	return &wsd.Options{HTTP2: mode, TLSConfig: s.cfg}
}

func TestHTTP2Echo(t *testing.T) {
	skipOnOtherTransport(t)
	sc := newServerConns(&wsd.Options{AcceptProtocols: []string{"chat"}}, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, sc, nil)
	opts := h2Options(s, wsd.HTTP2Only)
	opts.AcceptProtocols = []string{"chat"}
	opts.AdditionalHeaders = http.Header{"X-Test": {"yes"}, "Connection": {"close"}}
	c, rec := dialClient(t, s.wss("/echo?q=1"), opts, nil)
	rec.expect(t, "open")
	r := within(t, sc.reqs, waitTimeout, "request")
	if r.ProtoMajor != 2 || r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" || r.URL.RequestURI() != "/echo?q=1" {
		t.Fatalf("server saw %s %s %s :protocol=%q, want HTTP/2 CONNECT /echo?q=1 websocket", r.Proto, r.Method, r.URL.RequestURI(), r.Header.Get(":protocol"))
	}
	srv := within(t, sc.conns, waitTimeout, "server connection")
	srv.rec.expect(t, "open")
	if !c.HTTP2() || !srv.c.HTTP2() {
		t.Fatalf("HTTP2() = %v on the client, %v on the server", c.HTTP2(), srv.c.HTTP2())
	}
	if c.Protocol() != "chat" || srv.c.Protocol() != "chat" {
		t.Errorf("protocols %q and %q, want chat", c.Protocol(), srv.c.Protocol())
	}
	if got := srv.c.RequestHeader().Get("X-Test"); got != "yes" {
		t.Errorf("server saw X-Test %q", got)
	}
	if h := c.ResponseHeader(); h.Get("Sec-WebSocket-Protocol") != "chat" || h.Get("Sec-WebSocket-Accept") != "" || h.Get("Upgrade") != "" {
		t.Errorf("response header %v: want the protocol, no Accept or Upgrade", h)
	}
	if c.RemoteAddr() == nil || c.RemoteAddr().String() != s.Listener.Addr().String() {
		t.Errorf("client RemoteAddr %v, want %v", c.RemoteAddr(), s.Listener.Addr())
	}
	if srv.c.RemoteAddr() == nil || srv.c.RemoteAddr().String() == "" {
		t.Errorf("server RemoteAddr %v", srv.c.RemoteAddr())
	}
	c.SendText("hello")
	rec.expectMessage(t, wsd.TextMessage, "hello")
	c.SendBinary([]byte{1, 2, 3})
	rec.expectMessage(t, wsd.BinaryMessage, "\x01\x02\x03")
	big := strings.Repeat("x", 1<<20)
	c.SendText(big)
	rec.expectMessage(t, wsd.TextMessage, big)
	c.Close(4000, "bye")
	rec.expectClose(t, 4000, "bye")
	srv.rec.expect(t, "message")
	srv.rec.expect(t, "message")
	srv.rec.expect(t, "message")
	srv.rec.expectClose(t, 4000, "bye")
	sc.waitHandlers(t)
	sc.noErrors(t)
}

// h2Raw is a raw RFC 8441 peer on one HTTP/2 connection: net/http's
// HTTP/2 transport, reached through TLSNextProto as wsd's client does,
// so that a request can carry any :protocol and headers.
type h2Raw struct {
	t  *http.Transport
	rt http.RoundTripper
	s  *h2TestServer
}

func newH2Raw(t *testing.T, s *h2TestServer) *h2Raw {
	t.Helper()
	tr := &http.Transport{ForceAttemptHTTP2: true}
	tr.CloseIdleConnections() // sets up TLSNextProto
	cfg := s.cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	tc, err := tls.Dial("tcp", s.Listener.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		tc.Close()
	})
	return &h2Raw{t: tr, rt: tr.TLSNextProto["h2"](s.Listener.Addr().String(), tc), s: s}
}

// h2RawStream is one stream: frames go into pw, come out of br.
type h2RawStream struct {
	resp   *http.Response
	pw     *io.PipeWriter
	br     *bufio.Reader
	cancel context.CancelFunc
}

// connect sends a CONNECT for path (no path: a classic CONNECT) with
// header, which may hold ":protocol".
func (h *h2Raw) connect(t *testing.T, path string, header http.Header) *h2RawStream {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	u := &url.URL{Scheme: "https", Host: h.s.Listener.Addr().String(), Path: path}
	req := (&http.Request{Method: http.MethodConnect, URL: u, Host: u.Host, Header: header, Body: pr, ContentLength: -1}).WithContext(ctx)
	resp, err := h.rt.RoundTrip(req)
	if err != nil {
		cancel()
		t.Fatalf("CONNECT %s: %v", path, err)
	}
	st := &h2RawStream{resp: resp, pw: pw, br: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(st.close)
	return st
}

func (st *h2RawStream) close() {
	st.pw.Close()
	st.resp.Body.Close()
	st.cancel()
}

func wsHeader(protocol, version string) http.Header {
	h := http.Header{}
	if protocol != "" {
		h[":protocol"] = []string{protocol}
	}
	if version != "" {
		h.Set("Sec-WebSocket-Version", version)
	}
	return h
}

// echoOnce sends a masked text frame and expects it back.
func (st *h2RawStream) echoOnce(t *testing.T, text string) {
	t.Helper()
	if _, err := st.pw.Write(encodeFrame(0x80|opText, []byte(text), true)); err != nil {
		t.Fatalf("write: %v", err)
	}
	f, err := readFrame(st.br)
	if err != nil || f.op != opText || string(f.payload) != text {
		t.Fatalf("echo of %q: %v %v", text, f, err)
	}
}

func TestHTTP2SharesConnection(t *testing.T) {
	skipOnOtherTransport(t)
	const n = 100
	sc := newServerConns(nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, sc, nil)
	opts := h2Options(s, wsd.HTTP2Only)
	clients := make([]*wsd.Conn, n)
	recs := make([]*recorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], recs[i] = dialClient(t, s.wss(fmt.Sprintf("/ws%d", i)), opts, nil)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, c := range clients {
		recs[i].expect(t, "open")
		if !c.HTTP2() {
			t.Fatalf("client %d not over HTTP/2", i)
		}
		c.SendText(fmt.Sprintf("message %d", i))
	}
	for i := range clients {
		recs[i].expectMessage(t, wsd.TextMessage, fmt.Sprintf("message %d", i))
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("server saw %d TCP connections for %d WebSockets, want 1", got, n)
	}
	// Closing one WebSocket, from either end, ends only its stream.
	srv0 := within(t, sc.conns, waitTimeout, "server connection")
	srv0.c.Close(1000, "just you")
	srv0.rec.expect(t, "open")
	srv0.rec.expect(t, "message")
	srv0.rec.expectClose(t, 1000, "just you")
	countClosed := func() (n int) {
		for _, c := range clients {
			if c.ReadyState() == wsd.Closed {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(waitTimeout); countClosed() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // time for a wrong close to show
	closed := countClosed()
	for i, c := range clients {
		if c.ReadyState() == wsd.Closed {
			recs[i].expectClose(t, 1000, "just you")
		}
	}
	if closed != 1 {
		t.Fatalf("%d clients closed, want 1", closed)
	}
	for i, c := range clients {
		if c.ReadyState() == wsd.Open {
			c.Close(1000, "me too")
			recs[i].expectClose(t, 1000, "me too")
			break
		}
	}
	for i, c := range clients {
		if c.ReadyState() == wsd.Open {
			c.SendText("still here")
			recs[i].expectMessage(t, wsd.TextMessage, "still here")
		}
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("server saw %d TCP connections, want 1", got)
	}
}

func TestHTTP2FallbackWithoutHTTP2(t *testing.T) {
	skipOnOtherTransport(t)
	// A TLS server without HTTP/2: ALPN gives HTTP/1.1.
	sc := newServerConns(nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	ts := httptest.NewUnstartedServer(sc)
	var conns atomic.Int32
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	url := "wss" + strings.TrimPrefix(ts.URL, "https")

	c, rec := dialClient(t, url, &wsd.Options{HTTP2: wsd.HTTP2Auto, TLSConfig: &tls.Config{RootCAs: pool}}, nil)
	rec.expect(t, "open")
	if c.HTTP2() {
		t.Fatal("HTTP2() = true against a server without HTTP/2")
	}
	c.SendText("over HTTP/1.1")
	rec.expectMessage(t, wsd.TextMessage, "over HTTP/1.1")
	if r := within(t, sc.reqs, waitTimeout, "request"); r.ProtoMajor != 1 {
		t.Errorf("server saw %s", r.Proto)
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d TCP connections, want 1: the fallback reuses the TLS connection", got)
	}

	c2, err := wsd.NewClient(url, &wsd.Options{HTTP2: wsd.HTTP2Only, TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(context.Background()); !errors.Is(err, wsd.ErrHTTP2Unsupported) {
		t.Errorf("HTTP2Only against HTTP/1.1: %v, want ErrHTTP2Unsupported", err)
	}
	c3, _ := wsd.NewClient("ws://"+ts.Listener.Addr().String(), &wsd.Options{HTTP2: wsd.HTTP2Only})
	if err := c3.Start(context.Background()); !errors.Is(err, wsd.ErrHTTP2Unsupported) {
		t.Errorf("HTTP2Only on ws://: %v, want ErrHTTP2Unsupported", err)
	}
}

// h2HelperEnv makes TestHTTP2HelperServer serve instead of skipping.
const h2HelperEnv = "WSD_TEST_H2_HELPER"

// TestHTTP2HelperServer is a server for TestHTTP2SettingOff, in a process
// of its own, as net/http reads the setting once per process. It prints
// its address and certificate and serves echo until stdin closes.
func TestHTTP2HelperServer(t *testing.T) {
	if os.Getenv(h2HelperEnv) == "" {
		t.Skip("run by TestHTTP2SettingOff")
	}
	sc := newServerConns(nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, sc, nil)
	fmt.Printf("addr=%s cert=%s\n", s.Listener.Addr(), hex.EncodeToString(s.Certificate().Raw))
	io.Copy(io.Discard, os.Stdin)
}

func TestHTTP2SettingOff(t *testing.T) {
	skipOnOtherTransport(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHTTP2HelperServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), h2HelperEnv+"=1", "GODEBUG=http2xconnect=0")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	var addr, certHex string
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if _, serr := fmt.Sscanf(line, "addr=%s cert=%s", &addr, &certHex); err != nil || serr != nil {
		t.Fatalf("helper printed %q: %v %v", line, err, serr)
	}
	der, _ := hex.DecodeString(certHex)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cfg := &tls.Config{RootCAs: pool}

	// Insisting on HTTP/2 fails with a clear error.
	c, _ := wsd.NewClient("wss://"+addr+"/", &wsd.Options{HTTP2: wsd.HTTP2Only, TLSConfig: cfg})
	err = c.Start(ctx)
	if !errors.Is(err, wsd.ErrHTTP2Unsupported) || !strings.Contains(err.Error(), "SETTINGS_ENABLE_CONNECT_PROTOCOL") {
		t.Errorf("HTTP2Only without the setting: %v, want ErrHTTP2Unsupported naming the setting", err)
	}
	// HTTP2Auto falls back to HTTP/1.1.
	c2, rec := dialClient(t, "wss://"+addr+"/", &wsd.Options{HTTP2: wsd.HTTP2Auto, TLSConfig: cfg}, nil)
	rec.expect(t, "open")
	if c2.HTTP2() {
		t.Error("HTTP2() = true without the setting")
	}
	c2.SendText("fell back")
	rec.expectMessage(t, wsd.TextMessage, "fell back")
	c2.Close(1000, "")
	rec.expectClose(t, 1000, "")
}

func TestHTTP2BadRequests(t *testing.T) {
	skipOnOtherTransport(t)
	sc := newServerConns(nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, sc, nil)
	raw := newH2Raw(t, s)
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		want   string // in the body
		hdr    [2]string
	}{
		{"CONNECT without :protocol", "", wsHeader("", "13"), 400, "without :protocol", [2]string{}},
		{"another protocol", "/ws", wsHeader("webtransport", "13"), 400, `unsupported :protocol "webtransport"`, [2]string{}},
		{"wrong version", "/ws", wsHeader("websocket", "8"), 426, `unsupported Sec-WebSocket-Version "8"`, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no version", "/ws", wsHeader("websocket", ""), 426, "missing Sec-WebSocket-Version", [2]string{"Sec-WebSocket-Version", "13"}},
		{"other origin", "/ws", func() http.Header {
			h := wsHeader("websocket", "13")
			h.Set("Origin", "https://evil.example")
			return h
		}(), 403, "is not allowed", [2]string{}},
	}
	for _, tt := range tests {
		st := raw.connect(t, tt.path, tt.header)
		body, _ := io.ReadAll(io.LimitReader(st.resp.Body, 4096))
		if st.resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s: %d %q, want %d with %q", tt.name, st.resp.StatusCode, body, tt.status, tt.want)
		}
		if tt.hdr[0] != "" && st.resp.Header.Get(tt.hdr[0]) != tt.hdr[1] {
			t.Errorf("%s: %s: %q, want %q", tt.name, tt.hdr[0], st.resp.Header.Get(tt.hdr[0]), tt.hdr[1])
		}
		st.close()
		err := within(t, sc.errs, waitTimeout, tt.name+": the server's error")
		var he *wsd.HandshakeError
		if !errors.As(err, &he) || he.Status != tt.status {
			t.Errorf("%s: server error %v, want a HandshakeError with %d", tt.name, err, tt.status)
		}
	}
	// A GET over HTTP/2 is not a handshake there.
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: s.cfg, ForceAttemptHTTP2: true}}).Get(s.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 405 || resp.Header.Get("Allow") != "CONNECT" {
		t.Errorf("GET over %s: %d, Allow %q; want HTTP/2, 405, Allow: CONNECT", resp.Proto, resp.StatusCode, resp.Header.Get("Allow"))
	}
	within(t, sc.errs, waitTimeout, "the GET's error")
	// The HTTP/2 connection still carries a WebSocket.
	st := raw.connect(t, "/ws", wsHeader("websocket", "13"))
	if st.resp.StatusCode != 200 {
		t.Fatalf("good CONNECT after bad ones: %d", st.resp.StatusCode)
	}
	st.echoOnce(t, "still fine")
	st.close()
	srv := within(t, sc.conns, waitTimeout, "server connection")
	srv.rec.expect(t, "open")
	srv.rec.expect(t, "message")
	expectDrop(t, srv.rec)
	sc.waitHandlers(t)
	if s.conns.Load() != 2 { // the raw peer's and the GET's
		t.Errorf("%d TCP connections, want 2", s.conns.Load())
	}
}

func TestHTTP2StreamReset(t *testing.T) {
	skipOnOtherTransport(t)
	sc := newServerConns(nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, sc, nil)
	raw := newH2Raw(t, s)
	a := raw.connect(t, "/a", wsHeader("websocket", "13"))
	srvA := within(t, sc.conns, waitTimeout, "server connection a")
	b := raw.connect(t, "/b", wsHeader("websocket", "13"))
	srvB := within(t, sc.conns, waitTimeout, "server connection b")
	a.echoOnce(t, "a")
	b.echoOnce(t, "b")
	a.resp.Body.Close() // RST_STREAM from the client, no close frame
	srvA.rec.expect(t, "open")
	srvA.rec.expect(t, "message")
	expectDrop(t, srvA.rec)
	b.echoOnce(t, "b lives on")
	// A clean close of b.
	if _, err := b.pw.Write(encodeFrame(0x80|opClose, closePayload(1000, "done"), true)); err != nil {
		t.Fatal(err)
	}
	if f, err := readFrame(b.br); err != nil || f.op != opClose || f.closeCode() != 1000 {
		t.Fatalf("close answer: %v %v", f, err)
	}
	// The server ends the stream after its close frame.
	if _, err := b.br.ReadByte(); err != io.EOF {
		t.Errorf("after the close: %v, want EOF", err)
	}
	srvB.rec.expect(t, "open")
	srvB.rec.expect(t, "message")
	srvB.rec.expect(t, "message")
	srvB.rec.expectClose(t, 1000, "done")
	sc.waitHandlers(t)
	sc.noErrors(t)
	if s.conns.Load() != 1 {
		t.Errorf("%d TCP connections, want 1", s.conns.Load())
	}
}

func TestHTTP2Keepalive(t *testing.T) {
	skipOnOtherTransport(t)
	sc := newServerConns(&wsd.Options{PingInterval: 50 * time.Millisecond, PongTimeout: 200 * time.Millisecond}, nil)
	s := h2Server(t, sc, nil)
	// A wsd client answers the pings and stays.
	c, rec := dialClient(t, s.wss("/"), h2Options(s, wsd.HTTP2Only), nil)
	rec.expect(t, "open")
	srv := within(t, sc.conns, waitTimeout, "server connection")
	srv.rec.expect(t, "open")
	for range 3 {
		srv.rec.expect(t, "pong")
	}
	if c.ReadyState() != wsd.Open {
		t.Fatalf("client %v", c.ReadyState())
	}
	// A raw peer that never answers is dropped.
	raw := newH2Raw(t, s)
	st := raw.connect(t, "/", wsHeader("websocket", "13"))
	if st.resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", st.resp.StatusCode)
	}
	silent := within(t, sc.conns, waitTimeout, "server connection")
	silent.rec.expect(t, "open")
	e := silent.rec.expect(t, "close")
	if e.code != 1006 || !strings.Contains(e.data, "keepalive") {
		t.Errorf("silent peer closed with %d %q, want 1006 keepalive", e.code, e.data)
	}
	if c.ReadyState() != wsd.Open {
		t.Errorf("the answering client is %v", c.ReadyState())
	}
}

func TestHTTP2GroupShutdown(t *testing.T) {
	skipOnOtherTransport(t)
	g := &wsd.Group{}
	sc := newServerConns(&wsd.Options{Group: g}, nil)
	s := h2Server(t, sc, nil)
	var recs []*recorder
	for range 3 {
		_, rec := dialClient(t, s.wss("/"), h2Options(s, wsd.HTTP2Only), nil)
		rec.expect(t, "open")
		recs = append(recs, rec)
	}
	deadline := time.Now().Add(waitTimeout)
	for g.Len() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// Both at once: net/http's Shutdown waits for the handlers, which
	// run as long as their WebSockets.
	errc := make(chan error, 1)
	go func() { errc <- s.Config.Shutdown(ctx) }()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		rec.expectClose(t, 1001, "server shutting down")
	}
	if err := within(t, errc, waitTimeout, "http.Server.Shutdown"); err != nil {
		t.Errorf("http.Server.Shutdown: %v", err)
	}
	sc.waitHandlers(t)
}

func TestHTTP2ServerTimeoutsDoNotEndWebSockets(t *testing.T) {
	skipOnOtherTransport(t)
	sc := newServerConns(nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, sc, func(srv *http.Server) {
		srv.ReadTimeout = 100 * time.Millisecond
		srv.WriteTimeout = 100 * time.Millisecond
	})
	c, rec := dialClient(t, s.wss("/"), h2Options(s, wsd.HTTP2Only), nil)
	rec.expect(t, "open")
	time.Sleep(300 * time.Millisecond)
	c.SendText("after the server's timeouts")
	rec.expectMessage(t, wsd.TextMessage, "after the server's timeouts")
}

// expectDrop expects the close event of a stream that ended without a
// closing handshake.
func expectDrop(t *testing.T, rec *recorder) {
	t.Helper()
	e := rec.expect(t, "close")
	if e.code != 1006 || !strings.HasPrefix(e.data, "connection closed without a close frame") {
		t.Errorf("close %d %q, want 1006 for a dropped stream", e.code, e.data)
	}
}

func TestHTTP2BlockingReadWrite(t *testing.T) {
	skipOnOtherTransport(t)
	// A handler without OnMessage: Start returns once open, and the
	// handler reads until the close, as over HTTP/1.1.
	closes := make(chan error, 1)
	ended := make(chan struct{})
	s := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		if err := ws.Start(r.Context()); err != nil {
			closes <- err
			return
		}
		ctx := context.Background()
		for {
			typ, b, err := ws.Read(ctx)
			if err != nil {
				closes <- err
				return
			}
			if err := ws.Write(ctx, typ, b); err != nil {
				closes <- err
				return
			}
		}
	}), nil)
	c, rec := dialClient(t, s.wss("/"), h2Options(s, wsd.HTTP2Only), nil)
	rec.expect(t, "open")
	big := strings.Repeat("y", 3<<20) // more than the read queue holds
	for _, m := range []string{"one", big, "three"} {
		c.SendText(m)
		rec.expectMessage(t, wsd.TextMessage, m)
	}
	c.Close(1000, "over")
	rec.expectClose(t, 1000, "over")
	err := within(t, closes, waitTimeout, "the handler's end")
	var ce *wsd.CloseError
	if !errors.As(err, &ce) || ce.Code != 1000 {
		t.Errorf("Read ended with %v, want a CloseError with 1000", err)
	}
	within(t, ended, waitTimeout, "the handler to return")
}

func TestHTTP2WriteTimeout(t *testing.T) {
	skipOnOtherTransport(t)
	sent := make(chan error, 1)
	sc := newServerConns(&wsd.Options{WriteTimeout: 300 * time.Millisecond}, func(c *wsd.Conn, rec *recorder) {
		c.OnOpen(func() {
			go func() {
				big := make([]byte, 1<<20)
				for {
					if err := c.SendBinary(big); err != nil {
						sent <- err
						return
					}
				}
			}()
		})
	})
	s := h2Server(t, sc, nil)
	raw := newH2Raw(t, s)
	st := raw.connect(t, "/", wsHeader("websocket", "13")) // never read
	srv := within(t, sc.conns, waitTimeout, "server connection")
	err := within(t, sent, 10*time.Second, "the send to fail")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("send to a peer that does not read: %v, want a timeout", err)
	}
	e := srv.rec.expect(t, "close")
	if e.code != 1006 {
		t.Errorf("close %d %q, want 1006", e.code, e.data)
	}
	// The connection still carries other streams.
	other := raw.connect(t, "/", wsHeader("websocket", "13"))
	within(t, sc.conns, waitTimeout, "second server connection")
	if other.resp.StatusCode != 200 {
		t.Fatalf("second CONNECT: %d", other.resp.StatusCode)
	}
	st.close()
}

func TestHTTP2HandshakeContext(t *testing.T) {
	skipOnOtherTransport(t)
	// A server that never answers the CONNECT.
	ended := make(chan struct{})
	s := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		select {
		case <-r.Context().Done(): // the client gave up: its stream is reset
		case <-time.After(2 * waitTimeout):
			t.Error("the client's stream outlived its handshake")
		}
	}), nil)
	c, _ := wsd.NewClient(s.wss("/"), h2Options(s, wsd.HTTP2Only))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Start(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Start: %v after %v, want the context's deadline at 300ms", err, time.Since(start))
	}
	if c.ReadyState() != wsd.Closed {
		t.Errorf("state %v", c.ReadyState())
	}
	within(t, ended, waitTimeout, "the handler to see the stream end")
}

func TestHTTP2HandlerReturnsEarly(t *testing.T) {
	skipOnOtherTransport(t)
	// A handler that breaks the rule: no OnMessage, and it returns while
	// its WebSocket is open. net/http ends the stream; the connection
	// must end with 1006, and sends fail, without touching the finished
	// response.
	conns := make(chan *wsd.Conn, 1)
	returned := make(chan struct{})
	s := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		if ws.Start(r.Context()) == nil {
			conns <- ws
		}
	}), nil)
	_, rec := dialClient(t, s.wss("/"), h2Options(s, wsd.HTTP2Only), nil)
	rec.expect(t, "open")
	srv := within(t, conns, waitTimeout, "server connection")
	within(t, returned, waitTimeout, "the handler to return")
	select {
	case <-srv.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the server connection outlived its stream")
	}
	if err := srv.SendText("too late"); err == nil {
		t.Error("send after the stream ended succeeded")
	}
	e := rec.expect(t, "close")
	if e.code != 1006 {
		t.Errorf("client saw %d %q, want 1006", e.code, e.data)
	}
	_, _, err := srv.Read(context.Background())
	var ce *wsd.CloseError
	if !errors.As(err, &ce) || ce.Code != 1006 || !strings.Contains(ce.Reason, "handler returned") {
		t.Errorf("server's Read: %v, want 1006 saying why", err)
	}
}

func TestHTTP2ProxyCookiesRedirect(t *testing.T) {
	skipOnOtherTransport(t)
	sc := newServerConns(&wsd.Options{AdditionalHeaders: http.Header{"Set-Cookie": {"session=abc; Path=/"}}}, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	s := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			w.Header().Set("Location", "/new")
			w.WriteHeader(http.StatusFound)
			return
		}
		sc.ServeHTTP(w, r)
	}), nil)
	p := startProxy(t, &testProxy{kind: "http"})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	web := &url.URL{Scheme: "https", Host: s.Listener.Addr().String(), Path: "/"}
	jar.SetCookies(web, []*http.Cookie{{Name: "pre", Value: "1"}})
	opts := h2Options(s, wsd.HTTP2Only)
	opts.Proxy = http.ProxyURL(p.url(nil))
	opts.Jar = jar
	for _, want := range []string{"pre=1", "pre=1; session=abc"} {
		c, rec := dialClient(t, s.wss("/"), opts, nil)
		rec.expect(t, "open")
		if !c.HTTP2() {
			t.Fatal("not over HTTP/2")
		}
		c.SendText("through the proxy")
		rec.expectMessage(t, wsd.TextMessage, "through the proxy")
		r := within(t, sc.reqs, waitTimeout, "request")
		if got := r.Header.Get("Cookie"); got != want {
			t.Errorf("server got Cookie %q, want %q", got, want)
		}
	}
	if got := p.opened(); len(got) != 1 || got[0] != s.Listener.Addr().String() {
		t.Errorf("proxy opened tunnels to %v, want one to %s: the WebSockets share it", got, s.Listener.Addr())
	}
	if s.conns.Load() != 1 {
		t.Errorf("%d TCP connections, want 1", s.conns.Load())
	}
	// A redirect is not followed.
	c, _ := wsd.NewClient(s.wss("/old"), opts)
	err = c.Start(context.Background())
	var he *wsd.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusFound || !strings.Contains(he.Reason, `"/new"`) {
		t.Errorf("redirect: %v, want a HandshakeError 302 naming /new", err)
	}
}
