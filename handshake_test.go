//go:build !js

package wsd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// Section 4.2.1 and 4.2.2: the server answers a valid handshake with 101,
// the Upgrade and Connection headers and the right Sec-WebSocket-Accept.
func TestServerHandshakeResponse(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	resp := rc.handshake()
	if resp.Proto != "HTTP/1.1" {
		t.Errorf("response protocol %q, want HTTP/1.1", resp.Proto)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept %q, want the RFC's s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", got)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Errorf("Upgrade %q, want websocket", resp.Header.Get("Upgrade"))
	}
	if !strings.EqualFold(resp.Header.Get("Connection"), "Upgrade") {
		t.Errorf("Connection %q, want Upgrade", resp.Header.Get("Connection"))
	}
	for _, h := range []string{"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("%s: %q sent though nothing was negotiated", h, v)
		}
	}
	sc := s.accept(t)
	sc.rec.expect(t, "open")
	if sc.c.Protocol() != "" {
		t.Errorf("Protocol() = %q, want \"\"", sc.c.Protocol())
	}
	// Extensions the server does not know are declined (section 9.1).
	rc2 := rawDial(t, s.addr)
	resp = rc2.handshake("Sec-WebSocket-Extensions: x-unknown; level=9")
	if v, ok := resp.Header["Sec-Websocket-Extensions"]; ok {
		t.Errorf("server accepted extensions %q", v)
	}
	s.accept(t).rec.expect(t, "open")
}

// Section 4.2.1: requests that are not valid handshakes are answered with
// an HTTP error, and NewServer returns a *HandshakeError.
func TestServerRejectsHandshake(t *testing.T) {
	good := []string{"Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Version: 13"}
	without := func(name string, extra ...string) []string {
		var out []string
		for _, l := range good {
			if !strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
		return append(out, extra...)
	}
	tests := []struct {
		name    string
		line    string // request line
		headers []string
		status  int
		header  map[string]string // response headers that must be present
		reason  string            // in the body and the error
	}{
		{"POST", "POST / HTTP/1.1", append(good, "Content-Length: 0"), 405, map[string]string{"Allow": "GET"}, `method "POST" not allowed`},
		{"PUT", "PUT / HTTP/1.1", append(good, "Content-Length: 0"), 405, map[string]string{"Allow": "GET"}, `method "PUT" not allowed`},
		{"HTTP/1.0", "GET / HTTP/1.0", good, 400, nil, `protocol "HTTP/1.0" not supported`},
		{"no Upgrade", "GET / HTTP/1.1", without("Upgrade"), 400, nil, "Upgrade"},
		{"Upgrade not websocket", "GET / HTTP/1.1", without("Upgrade", "Upgrade: h2c"), 400, nil, "Upgrade"},
		{"no Connection", "GET / HTTP/1.1", without("Connection"), 400, nil, "Connection"},
		{"Connection without upgrade", "GET / HTTP/1.1", without("Connection", "Connection: keep-alive"), 400, nil, "Connection"},
		{"no key", "GET / HTTP/1.1", without("Sec-WebSocket-Key"), 400, nil, "Sec-WebSocket-Key"},
		{"key not base64", "GET / HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: not-base64!"), 400, nil, "Sec-WebSocket-Key"},
		{"key of 15 bytes", "GET / HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 15))), 400, nil, "decodes to 15 bytes"},
		{"two keys", "GET / HTTP/1.1", append(good, "Sec-WebSocket-Key: "+sampleKey), 400, nil, "Sec-WebSocket-Key"},
		{"version 8", "GET / HTTP/1.1", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), 426, map[string]string{"Sec-WebSocket-Version": "13"}, `unsupported Sec-WebSocket-Version "8"`},
		{"version 14", "GET / HTTP/1.1", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 14"), 426, map[string]string{"Sec-WebSocket-Version": "13"}, "Sec-WebSocket-Version"},
		{"no version", "GET / HTTP/1.1", without("Sec-WebSocket-Version"), 426, map[string]string{"Sec-WebSocket-Version": "13"}, "Sec-WebSocket-Version"},
	}
	s := newTestServer(t, nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := rawDial(t, s.addr)
			rc.write([]byte(tt.line + "\r\n" + strings.Join(tt.headers, "\r\n") + "\r\n\r\n"))
			resp := rc.readResponse()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %s, want %d", resp.Status, tt.status)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if v := resp.Header.Get("Sec-WebSocket-Accept"); v != "" {
				t.Errorf("rejection carries Sec-WebSocket-Accept %q", v)
			}
			var err error
			select {
			case err = <-s.errs:
			case sc := <-s.conns:
				t.Fatalf("connection %v started", sc.c)
			case <-time.After(waitTimeout):
				t.Fatal("handler did not report an error")
			}
			var he *wsd.HandshakeError
			if !errors.As(err, &he) || he.Status != tt.status || !strings.Contains(he.Reason, tt.reason) {
				t.Fatalf("NewServer error %v (%T), want *HandshakeError with status %d and %q in the reason", err, err, tt.status, tt.reason)
			}
		})
	}
}

// Section 4.1: what the client sends, checked by a raw server.
func TestClientHandshakeRequest(t *testing.T) {
	reqs := make(chan *http.Request, 2)
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		reqs <- req
		rc.accept101(req)
		rc.send(0x88, string(closePayload(1000, "")))
		rc.expectClose(1000)
	})
	url := fs.url + "/chat/room?id=1&x=%2F"
	opts := &wsd.Options{AcceptProtocols: []string{"v2.chat", "chat"}}
	var keys []string
	for range 2 {
		c, rec := dialClient(t, url, opts, nil)
		req := within(t, reqs, waitTimeout, "request")
		if req.Method != "GET" || req.Proto != "HTTP/1.1" {
			t.Errorf("request %s %s, want GET HTTP/1.1", req.Method, req.Proto)
		}
		if req.RequestURI != "/chat/room?id=1&x=%2F" {
			t.Errorf("Request-URI %q, want /chat/room?id=1&x=%%2F", req.RequestURI)
		}
		if want := strings.TrimPrefix(fs.url, "ws://"); req.Host != want {
			t.Errorf("Host %q, want %q", req.Host, want)
		}
		for name, want := range map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "v2.chat, chat"} {
			if got := req.Header.Values(name); len(got) != 1 || !strings.EqualFold(got[0], want) {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		key := req.Header.Get("Sec-WebSocket-Key")
		if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
			t.Errorf("Sec-WebSocket-Key %q is not 16 bytes in base64", key)
		}
		if v, ok := req.Header["Sec-Websocket-Extensions"]; ok {
			t.Errorf("client offered extensions %q", v)
		}
		keys = append(keys, key)
		if got, want := c.RequestHeader().Get("Sec-WebSocket-Key"), key; got != want {
			t.Errorf("RequestHeader key %q, want %q", got, want)
		}
		rec.expect(t, "open")
		rec.expectClose(t, 1000, "")
		rec.expectDone(t)
	}
	if keys[0] == keys[1] {
		t.Errorf("two connections used the same key %q", keys[0])
	}
}

// Section 4.2.2 point 5.4 and 4.1: the server picks the first protocol in
// the client's list that it accepts; both ends report it.
func TestSubprotocol(t *testing.T) {
	tests := []struct {
		name           string
		server, client []string
		want           string
	}{
		{"client order wins", []string{"b", "c"}, []string{"a", "c", "b"}, "c"},
		{"single match", []string{"chat"}, []string{"chat"}, "chat"},
		{"no overlap", []string{"x"}, []string{"a", "b"}, ""},
		{"server has none", nil, []string{"a"}, ""},
		{"client offers none", []string{"a"}, nil, ""},
		{"case-sensitive", []string{"Chat"}, []string{"chat"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cli := pair(t, &wsd.Options{AcceptProtocols: tt.server}, &wsd.Options{AcceptProtocols: tt.client}, nil, nil)
			if srv.c.Protocol() != tt.want || cli.c.Protocol() != tt.want {
				t.Errorf("server Protocol() %q, client Protocol() %q; want %q", srv.c.Protocol(), cli.c.Protocol(), tt.want)
			}
			vs := cli.c.ResponseHeader().Values("Sec-WebSocket-Protocol")
			if tt.want == "" && len(vs) != 0 || tt.want != "" && (len(vs) != 1 || vs[0] != tt.want) {
				t.Errorf("response Sec-WebSocket-Protocol %q, want %q", vs, tt.want)
			}
		})
	}
}

func TestAdditionalHeaders(t *testing.T) {
	sopts := &wsd.Options{OriginPatterns: []string{"example.com"}, AdditionalHeaders: http.Header{
		"X-Server":             {"s1", "s2"},
		"Set-Cookie":           {"id=1"},
		"Sec-WebSocket-Accept": {"forged"}, // never replaces the real one
		"X-Bad":                {"a\r\nInjected: 1"},
	}}
	copts := &wsd.Options{AdditionalHeaders: http.Header{
		"X-Client":          {"c1"},
		"Origin":            {"http://example.com"},
		"Authorization":     {"Bearer t"},
		"Sec-WebSocket-Key": {"forged"},
	}}
	srv, cli := pair(t, sopts, copts, nil, nil)
	rh := srv.c.RequestHeader()
	for name, want := range map[string]string{"X-Client": "c1", "Origin": "http://example.com", "Authorization": "Bearer t"} {
		if got := rh.Get(name); got != want {
			t.Errorf("server saw %s %q, want %q", name, got, want)
		}
	}
	if got := rh.Values("Sec-WebSocket-Key"); len(got) != 1 || got[0] == "forged" {
		t.Errorf("server saw Sec-WebSocket-Key %q", got)
	}
	resp := cli.c.ResponseHeader()
	if got := resp.Values("X-Server"); strings.Join(got, ",") != "s1,s2" {
		t.Errorf("client saw X-Server %q, want [s1 s2]", got)
	}
	if got := resp.Get("Set-Cookie"); got != "id=1" {
		t.Errorf("client saw Set-Cookie %q", got)
	}
	if got := resp.Values("Sec-WebSocket-Accept"); len(got) != 1 || got[0] == "forged" {
		t.Errorf("client saw Sec-WebSocket-Accept %q", got)
	}
	if got := resp.Get("Injected"); got != "" {
		t.Errorf("header injection: Injected: %q", got)
	}
	// The connection works.
	cli.c.SendText("hi")
	srv.rec.expectMessage(t, wsd.TextMessage, "hi")
}

// Section 4.1: the client fails the connection when the server's answer
// is wrong, and says what was wrong.
func TestClientRejectsHandshake(t *testing.T) {
	tests := []struct {
		name     string
		response func(req *http.Request) string
		offer    []string
		status   int
		want     []string // substrings of the error
	}{
		{"403", func(*http.Request) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way"
		}, nil, 403, []string{"403", "Forbidden"}},
		{"200", func(*http.Request) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		}, nil, 200, []string{"200"}},
		{"wrong accept", func(req *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey("x") + "\r\n\r\n"
		}, nil, 101, []string{"Sec-WebSocket-Accept", acceptKey("x")}},
		{"missing accept", func(req *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		}, nil, 101, []string{"Sec-WebSocket-Accept", "missing"}},
		{"missing Upgrade", func(req *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}, nil, 101, []string{"Upgrade", "missing"}},
		{"wrong Upgrade", func(req *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}, nil, 101, []string{"Upgrade", "h2c"}},
		{"missing Connection", func(req *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}, nil, 101, []string{"Connection", "missing"}},
		{"extension not offered", func(req *http.Request) string {
			return response101(req, "Sec-WebSocket-Extensions: permessage-deflate")
		}, nil, 101, []string{"extension", "permessage-deflate"}},
		{"protocol not offered", func(req *http.Request) string {
			return response101(req, "Sec-WebSocket-Protocol: evil")
		}, []string{"chat"}, 101, []string{"Sec-WebSocket-Protocol", "evil", "not offered"}},
		{"protocol when none offered", func(req *http.Request) string {
			return response101(req, "Sec-WebSocket-Protocol: chat")
		}, nil, 101, []string{"Sec-WebSocket-Protocol", "chat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
				rc.write([]byte(tt.response(req)))
				// The client must hang up, without sending a frame.
				rc.expectEOF()
			})
			c, err := wsd.NewClient(fs.url, &wsd.Options{AcceptProtocols: tt.offer})
			if err != nil {
				t.Fatal(err)
			}
			rec := record(c)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err = c.Start(ctx)
			var he *wsd.HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("Start = %v (%T), want *HandshakeError", err, err)
			}
			if he.Status != tt.status {
				t.Errorf("HandshakeError.Status %d, want %d", he.Status, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			within(t, c.Done(), waitTimeout, "Done after a failed Start")
			if st := c.ReadyState(); st != wsd.Closed {
				t.Errorf("ReadyState %v after a failed Start, want closed", st)
			}
			select {
			case e := <-rec.ch:
				t.Errorf("event %v after a failed handshake", e)
			default:
			}
			if err := c.SendText("x"); !errors.Is(err, wsd.ErrClosed) {
				t.Errorf("SendText after a failed Start = %v, want ErrClosed", err)
			}
		})
	}
}

func TestClientConnectionClosedDuringHandshake(t *testing.T) {
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.write([]byte("HTTP/1.1 101 Switching"))
	})
	c, err := wsd.NewClient(fs.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = c.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "closed before the response ended") {
		t.Fatalf("Start = %v, want the early close reported", err)
	}
}

func TestNewClientBadURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1/", "127.0.0.1:80", "ws:///path", "ws://127.0.0.1/#frag", "ws://[::1", ""} {
		if c, err := wsd.NewClient(u, nil); err == nil {
			t.Errorf("NewClient(%q) = %v, nil; want an error", u, c)
		}
	}
}

// Frames that follow the handshake in the same packet are not lost, in
// either direction.
func TestFramesPipelinedWithHandshake(t *testing.T) {
	t.Run("client to server", func(t *testing.T) {
		s := newTestServer(t, nil, nil)
		rc := rawDial(t, s.addr)
		req := []byte(handshakeRequest("/"))
		req = append(req, encodeFrame(0x81, []byte("first"), true)...)
		req = append(req, encodeFrame(0x01, []byte("sec"), true)...)
		req = append(req, encodeFrame(0x80, []byte("ond"), true)...)
		req = append(req, encodeFrame(0x89, []byte("ping"), true)...)
		req = append(req, encodeFrame(0x82, []byte(strings.Repeat("y", 70000)), true)...)
		rc.write(req)
		if resp := rc.readResponse(); resp.StatusCode != 101 {
			t.Fatalf("status %s", resp.Status)
		}
		sc := s.accept(t)
		sc.rec.expect(t, "open")
		sc.rec.expectMessage(t, wsd.TextMessage, "first")
		sc.rec.expectMessage(t, wsd.TextMessage, "second")
		if e := sc.rec.expect(t, "ping"); e.data != "ping" {
			t.Fatalf("ping %q", e.data)
		}
		if f := rc.read(); f.op != opPong || string(f.payload) != "ping" {
			t.Fatalf("got %v, want pong \"ping\"", f)
		}
		sc.rec.expectMessage(t, wsd.BinaryMessage, strings.Repeat("y", 70000))
	})
	t.Run("server to client", func(t *testing.T) {
		fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
			b := []byte(response101(req))
			b = append(b, encodeFrame(0x82, []byte{1, 2, 3}, false)...)
			b = append(b, encodeFrame(0x81, []byte(strings.Repeat("x", 70000)), false)...)
			b = append(b, encodeFrame(0x88, closePayload(4000, "done"), false)...)
			rc.write(b)
			rc.expectClose(4000)
		})
		c, rec := dialClient(t, fs.url, nil, nil)
		_ = c
		rec.expect(t, "open")
		rec.expectMessage(t, wsd.BinaryMessage, "\x01\x02\x03")
		rec.expectMessage(t, wsd.TextMessage, strings.Repeat("x", 70000))
		rec.expectClose(t, 4000, "done")
		rec.expectDone(t)
	})
}

// Section 4.1: wss:// runs the handshake over TLS, with the URL's host
// as server name.
func TestTLS(t *testing.T) {
	s := startTestServer(t, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true }, true, nil)
	pool := x509.NewCertPool()
	pool.AddCert(s.ts.Certificate())
	url := "wss" + strings.TrimPrefix(s.ts.URL, "https")

	cli, rec := dialClient(t, url, &wsd.Options{TLSConfig: &tls.Config{RootCAs: pool}}, nil)
	rec.expect(t, "open")
	sc := s.accept(t)
	if sc.c.RequestHeader().Get("Sec-WebSocket-Key") == "" {
		t.Error("no handshake request seen by the server")
	}
	for _, m := range []string{"over TLS", strings.Repeat("big ", 50000)} {
		cli.SendText(m)
		rec.expectMessage(t, wsd.TextMessage, m)
	}
	cli.Close(1000, "tls done")
	rec.expectClose(t, 1000, "tls done")
	rec.expectDone(t)
	sc.rec.expect(t, "open")
	sc.rec.expect(t, "message")
	sc.rec.expect(t, "message")
	sc.rec.expectClose(t, 1000, "tls done")

	// Without the certificate the TLS handshake fails.
	c, err := wsd.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = c.Start(ctx)
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) {
		t.Errorf("Start without the CA = %v, want a certificate verification error", err)
	}
	// The server's handler saw a failed TLS handshake, not a request.
	select {
	case err := <-s.errs:
		t.Errorf("server error %v", err)
	default:
	}
}

// silentServer accepts TCP connections and never answers; accepted gets
// each connection.
func silentServer(t *testing.T) (addr string, accepted chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = make(chan net.Conn, 8)
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			accepted <- nc
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), accepted
}

// The context given to Start bounds the handshake: a server that never
// answers makes Start fail with the context's error.
func TestClientHandshakeContext(t *testing.T) {
	addr, accepted := silentServer(t)
	t.Run("timeout", func(t *testing.T) {
		for range 20 { // the deadline must win every time
			c, _ := wsd.NewClient("ws://"+addr+"/", nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			start := time.Now()
			err := c.Start(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Start = %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Start took %v with a 30ms deadline", d)
			}
			within(t, c.Done(), waitTimeout, "Done")
			within(t, accepted, waitTimeout, "accept")
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c, _ := wsd.NewClient("ws://"+addr+"/", nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- c.Start(ctx) }()
		within(t, accepted, waitTimeout, "accept")
		cancel()
		err := within(t, errc, waitTimeout, "Start after cancel")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Start = %v, want context.Canceled", err)
		}
		if st := c.ReadyState(); st != wsd.Closed {
			t.Errorf("ReadyState %v, want closed", st)
		}
	})
	t.Run("already canceled", func(t *testing.T) {
		c, _ := wsd.NewClient("ws://"+addr+"/", nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.Start(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Start = %v, want context.Canceled", err)
		}
	})
}

// hookConn calls onClearDeadline when its deadline is cleared, and tells
// poisoned about any deadline set after that.
type hookConn struct {
	net.Conn
	once            sync.Once
	onClearDeadline func()
	cleared         chan struct{}
	poisoned        chan struct{}
}

func (h *hookConn) SetDeadline(t time.Time) error {
	err := h.Conn.SetDeadline(t)
	if t.IsZero() {
		h.once.Do(func() {
			close(h.cleared)
			h.onClearDeadline()
		})
	} else {
		select {
		case <-h.cleared:
			select {
			case h.poisoned <- struct{}{}:
			default:
			}
		default:
		}
	}
	return err
}

// Once the handshake is done, the end of Start's context does not touch
// the connection, even when it comes at the last moment.
func TestClientContextEndsWithHandshake(t *testing.T) {
	s := newTestServer(t, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &hookConn{cleared: make(chan struct{}), poisoned: make(chan struct{}, 1)}
	hc.onClearDeadline = func() {
		// The handshake is over: cancel now, and give a deadline set
		// because of it the time to land.
		cancel()
		select {
		case <-hc.poisoned:
			hc.poisoned <- struct{}{}
		case <-time.After(200 * time.Millisecond):
		}
	}
	opts := &wsd.Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hc.Conn = nc
		return hc, nil
	}}
	c, err := wsd.NewClient(s.url, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeAndWait(t, c) })
	select {
	case <-hc.poisoned:
		t.Error("a deadline was set on the connection after the handshake, because Start's context ended")
	default:
	}
	rec.expect(t, "open")
	c.SendText("still works")
	rec.expectMessage(t, wsd.TextMessage, "still works")
}

// A server's Start with a context that is already done answers nothing
// and closes the connection.
func TestServerStartContextDone(t *testing.T) {
	errc := make(chan error, 1)
	ts := wsd.ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, nil)
		if err != nil {
			errc <- err
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		cancel()
		errc <- c.Start(ctx)
	}))
	defer ts.Close()
	rc := rawDial(t, ts.Addr)
	rc.write([]byte(handshakeRequest("/")))
	if err := within(t, errc, waitTimeout, "Start"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
	rc.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	b, err := io.ReadAll(rc.br)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	// Either nothing, or a response that was already on its way.
	if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 101") {
		t.Fatalf("server sent %q", b)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(err.Error(), "reset")
}

// The deadlines net/http puts on a connection for reading the request
// and writing the response (ReadTimeout, WriteTimeout) are left on the
// hijacked connection; they must not end the WebSocket connection.
func TestServerClearsHTTPDeadlines(t *testing.T) {
	const timeout = 100 * time.Millisecond
	s := startTestServer(t, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true }, false, func(hs *http.Server) {
		hs.ReadTimeout = timeout
		hs.ReadHeaderTimeout = timeout
		hs.WriteTimeout = timeout
	})
	cli, rec := dialClient(t, s.url, nil, nil)
	rec.expect(t, "open")
	sc := s.accept(t)
	sc.rec.expect(t, "open")
	<-time.After(3 * timeout) // let the HTTP deadlines pass
	if err := cli.SendText("after the deadlines"); err != nil {
		t.Fatal(err)
	}
	if e := sc.rec.next(t); e.kind != "message" || e.data != "after the deadlines" {
		t.Fatalf("server event %v, want the message", e)
	}
	rec.expectMessage(t, wsd.TextMessage, "after the deadlines")
	if err := sc.c.SendText("from the server"); err != nil {
		t.Fatal(err)
	}
	rec.expectMessage(t, wsd.TextMessage, "from the server")
}

// Section 4.2.1 point 2: a request without Host is refused (by net/http,
// before the handler runs).
func TestServerRequiresHost(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.write([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + sampleKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if resp := rc.readResponse(); resp.StatusCode != 400 {
		t.Fatalf("status %s, want 400", resp.Status)
	}
}

func TestClientDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := wsd.NewClient("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = c.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Start = %v, want a dial error naming %s", err, addr)
	}
	within(t, c.Done(), waitTimeout, "Done")
	if err := c.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
}

// Start may only be called once.
func TestStartTwice(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := cli.c.Start(ctx); err == nil {
		t.Error("second client Start succeeded")
	}
	if err := srv.c.Start(ctx); err == nil {
		t.Error("second server Start succeeded")
	}
	cli.c.SendText("unaffected")
	srv.rec.expectMessage(t, wsd.TextMessage, "unaffected")
}
