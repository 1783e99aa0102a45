//go:build !js

package wsd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// testProxy is an HTTP CONNECT or SOCKS5 proxy on 127.0.0.1. Whatever
// host it is asked for, it tunnels to that port on 127.0.0.1, so that
// tests can name servers by host names that do not resolve.
type testProxy struct {
	kind   string // "http", "https" (HTTP over TLS) or "socks5"
	user   string // if not "", the username it requires, with pass
	pass   string
	refuse int // if not 0, the HTTP status or SOCKS5 reply refusing every tunnel

	addr    string
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]bool
	tunnels []string // the addresses it opened tunnels to
}

// startProxy starts p and stops it, with all its connections, at the end
// of the test.
func startProxy(t *testing.T, p *testProxy) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if p.kind == "https" {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{testCerts().server}})
	}
	p.ln, p.addr, p.conns = ln, ln.Addr().String(), make(map[net.Conn]bool)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// url returns the proxy's URL, with user info if not nil.
func (p *testProxy) url(user *url.Userinfo) *url.URL {
	return &url.URL{Scheme: p.kind, Host: p.addr, User: user}
}

// opened returns the addresses the proxy has opened tunnels to.
func (p *testProxy) opened() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.tunnels)
}

func (p *testProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track adds c to the connections closed by close, unless it has run.
func (p *testProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *testProxy) untrack(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *testProxy) serve() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(nc) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(nc)
			nc.SetDeadline(time.Now().Add(waitTimeout))
			if p.kind == "socks5" {
				p.socks5(nc)
			} else {
				p.connect(nc)
			}
		}()
	}
}

// connect serves one HTTP CONNECT request.
func (p *testProxy) connect(nc net.Conn) {
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(nc, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if p.user != "" && req.Header.Get("Proxy-Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass)) {
		io.WriteString(nc, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if p.refuse != 0 {
		fmt.Fprintf(nc, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", p.refuse, http.StatusText(p.refuse))
		return
	}
	p.tunnel(nc, br, req.Host, []byte("HTTP/1.1 200 Connection established\r\n\r\n"))
}

// socks5 serves one SOCKS5 CONNECT request (RFC 1928 and 1929).
func (p *testProxy) socks5(nc net.Conn) {
	b := make([]byte, 2)
	if _, err := io.ReadFull(nc, b); err != nil || b[0] != 5 {
		return
	}
	methods := make([]byte, b[1])
	if _, err := io.ReadFull(nc, methods); err != nil {
		return
	}
	method := byte(0)
	if p.user != "" {
		method = 2
	}
	if !bytes.Contains(methods, []byte{method}) {
		nc.Write([]byte{5, 0xff})
		return
	}
	nc.Write([]byte{5, method})
	if method == 2 {
		readField := func() string {
			n := make([]byte, 1)
			io.ReadFull(nc, n)
			s := make([]byte, n[0])
			io.ReadFull(nc, s)
			return string(s)
		}
		if _, err := io.ReadFull(nc, b[:1]); err != nil || b[0] != 1 {
			return
		}
		if user, pass := readField(), readField(); user != p.user || pass != p.pass {
			nc.Write([]byte{1, 1})
			return
		}
		nc.Write([]byte{1, 0})
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(nc, head); err != nil || head[0] != 5 || head[1] != 1 {
		return
	}
	var host string
	switch head[3] {
	case 1, 4:
		ip := make([]byte, 4)
		if head[3] == 4 {
			ip = make([]byte, 16)
		}
		io.ReadFull(nc, ip)
		host = net.IP(ip).String()
	case 3:
		n := make([]byte, 1)
		io.ReadFull(nc, n)
		name := make([]byte, n[0])
		io.ReadFull(nc, name)
		host = string(name)
	default:
		return
	}
	if _, err := io.ReadFull(nc, b); err != nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(b))))
	if p.refuse != 0 {
		nc.Write([]byte{5, byte(p.refuse), 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	p.tunnel(nc, nc, target, []byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
}

// tunnel connects to target's port on 127.0.0.1, answers the client
// with ok, and copies bytes both ways until either side closes.
func (p *testProxy) tunnel(nc net.Conn, in io.Reader, target string, ok []byte) {
	_, port, err := net.SplitHostPort(target)
	if err != nil {
		return
	}
	back, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), waitTimeout)
	if err != nil {
		return
	}
	if !p.track(back) {
		return
	}
	defer p.untrack(back)
	p.mu.Lock()
	p.tunnels = append(p.tunnels, target)
	p.mu.Unlock()
	if _, err := nc.Write(ok); err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		io.Copy(back, in)
		back.Close()
		close(done)
	}()
	io.Copy(nc, back)
	nc.Close()
	<-done
}

// recordDials returns a DialContext that dials 127.0.0.1 at the port asked
// for, whatever the host, and the addresses it was asked for.
func recordDials() (func(ctx context.Context, network, addr string) (net.Conn, error), func() []string) {
	var mu sync.Mutex
	var addrs []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		addrs = append(addrs, addr)
		mu.Unlock()
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	return dial, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(addrs)
	}
}

// TestProxy opens connections through HTTP CONNECT and SOCKS5 proxies,
// and checks each refusal's error.
func TestProxy(t *testing.T) {
	tests := []struct {
		name   string
		kind   string // of the proxy
		scheme string // of the proxy URL, if not kind
		need   *url.Userinfo
		give   *url.Userinfo
		refuse int
		wss    bool
		status int    // of the *ProxyError, if wantErr is set
		err    string // in the error; "" for success
	}{
		{name: "http", kind: "http"},
		{name: "http wss", kind: "http", wss: true},
		{name: "http auth", kind: "http", need: url.UserPassword("joe", "s3cret"), give: url.UserPassword("joe", "s3cret")},
		{name: "http wrong password", kind: "http", need: url.UserPassword("joe", "s3cret"), give: url.UserPassword("joe", "guess"), status: 407, err: "407 Proxy Authentication Required"},
		{name: "http no credentials", kind: "http", need: url.UserPassword("joe", "s3cret"), status: 407, err: "407 Proxy Authentication Required"},
		{name: "http refuses", kind: "http", refuse: 403, status: 403, err: "403 Forbidden"},
		{name: "http bad gateway", kind: "http", refuse: 502, status: 502, err: "502 Bad Gateway"},
		{name: "https", kind: "https"},
		{name: "https wss auth", kind: "https", wss: true, need: url.UserPassword("joe", "s3cret"), give: url.UserPassword("joe", "s3cret")},
		{name: "socks5", kind: "socks5"},
		{name: "socks5h", kind: "socks5", scheme: "socks5h"},
		{name: "socks5 wss", kind: "socks5", wss: true},
		{name: "socks5 auth", kind: "socks5", need: url.UserPassword("joe", "s3cret"), give: url.UserPassword("joe", "s3cret")},
		{name: "socks5 wrong password", kind: "socks5", need: url.UserPassword("joe", "s3cret"), give: url.UserPassword("joe", "guess"), err: "username and password refused"},
		{name: "socks5 no credentials", kind: "socks5", need: url.UserPassword("joe", "s3cret"), err: "no acceptable authentication method"},
		{name: "socks5 refuses", kind: "socks5", refuse: 2, err: "connection not allowed by ruleset (reply 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &testProxy{kind: tt.kind, refuse: tt.refuse}
			if tt.need != nil {
				p.user = tt.need.Username()
				p.pass, _ = tt.need.Password()
			}
			startProxy(t, p)
			pu := p.url(tt.give)
			if tt.scheme != "" {
				pu.Scheme = tt.scheme
			}
			// The names do not resolve, or not here: only the proxy,
			// which maps every host to 127.0.0.1, can reach them.
			roots := x509.NewCertPool()
			roots.AddCert(testCerts().ca)
			var s *testServer
			host := "wsd-target.test"
			if tt.wss {
				s = startTestServer(t, nil, nil, true, nil)
				roots.AddCert(s.ts.Certificate())
				host = "example.com" // in the test server's certificate
			} else {
				s = newTestServer(t, nil, nil)
			}
			_, port, _ := net.SplitHostPort(s.addr)
			target := net.JoinHostPort(host, port)
			dial, dialed := recordDials()
			opts := &wsd.Options{
				Proxy:       func(*http.Request) (*url.URL, error) { return pu, nil },
				DialContext: dial,
				TLSConfig:   &tls.Config{RootCAs: roots},
			}
			scheme := "ws://"
			if tt.wss {
				scheme = "wss://"
			}
			c, err := wsd.NewClient(scheme+target+"/", opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err = c.Start(ctx)
			if got := dialed(); !slices.Equal(got, []string{p.addr}) {
				t.Errorf("dialed %q, want only the proxy %q", got, p.addr)
			}
			if tt.err != "" {
				var pe *wsd.ProxyError
				if !errors.As(err, &pe) || pe.Status != tt.status || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Start = %v (%T), want a *ProxyError with status %d and %q", err, err, tt.status, tt.err)
				}
				if pe.Addr != target || strings.Contains(err.Error(), "guess") {
					t.Errorf("error %q: want the address %q, and no password", err, target)
				}
				if got := p.opened(); len(got) != 0 {
					t.Errorf("proxy opened tunnels to %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { closeAndWait(t, c) })
			if got := p.opened(); !slices.Equal(got, []string{target}) {
				t.Errorf("proxy opened tunnels to %q, want %q", got, target)
			}
			srv := s.accept(t)
			if err := c.SendText("through"); err != nil {
				t.Fatal(err)
			}
			srv.rec.expect(t, "open")
			srv.rec.expectMessage(t, wsd.TextMessage, "through")
		})
	}
}

// TestProxyChoice: a Proxy returning nil, nil dials the server itself, and
// a Proxy's error or a URL it cannot use fails Start before any dial.
func TestProxyChoice(t *testing.T) {
	s := newTestServer(t, nil, nil)
	tests := []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
		err   string // "" for success
	}{
		{"off", func(*http.Request) (*url.URL, error) { return nil, nil }, ""},
		{"error", func(*http.Request) (*url.URL, error) { return nil, errors.New("no route") }, "wsd: proxy for " + s.addr + ": no route"},
		{"scheme", func(*http.Request) (*url.URL, error) { return url.Parse("ftp://127.0.0.1:1") }, `scheme must be http, https, socks5 or socks5h`},
		{"no host", func(*http.Request) (*url.URL, error) { return &url.URL{Scheme: "http"}, nil }, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dial, dialed := recordDials()
			var asked string
			proxy := func(r *http.Request) (*url.URL, error) {
				asked = r.URL.String()
				return tt.proxy(r)
			}
			c, err := wsd.NewClient(s.url+"/path?q=1", &wsd.Options{Proxy: proxy, DialContext: dial})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err = c.Start(ctx)
			if want := "http://" + s.addr + "/path?q=1"; asked != want {
				t.Errorf("Proxy asked about %q, want %q", asked, want)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Start = %v, want an error with %q", err, tt.err)
				}
				if got := dialed(); len(got) != 0 {
					t.Errorf("dialed %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			closeAndWait(t, c)
			s.accept(t)
			if got := dialed(); !slices.Equal(got, []string{s.addr}) {
				t.Errorf("dialed %q, want %q", got, s.addr)
			}
		})
	}
}

// TestProxyBadAnswers: proxies that answer wrongly, or not at all, fail
// Start with an error that says what went wrong, within its context.
func TestProxyBadAnswers(t *testing.T) {
	tests := []struct {
		name   string
		scheme string
		answer string // what the proxy answers, then it closes; "wait" stays silent
		err    string
	}{
		{"http closes", "http", "", "connection closed before the response ended"},
		{"http garbage", "http", "SSH-2.0-OpenSSH\r\n\r\n", "malformed HTTP"},
		{"http data after", "http", "HTTP/1.1 200 OK\r\n\r\nhello", "data after the CONNECT response"},
		{"http silent", "http", "wait", context.DeadlineExceeded.Error()},
		{"socks5 closes", "socks5", "", "read method: EOF"},
		{"socks5 version", "socks5", "\x04\x00", "version 4, want 5"},
		{"socks5 method", "socks5", "\x05\x02", "chose authentication method 2, which was not offered"},
		{"socks5 address type", "socks5", "\x05\x00\x05\x00\x00\x07\x00", "bad address type 7"},
		{"socks5 short reply", "socks5", "\x05\x00\x05\x00\x00\x01\x7f", "read reply: EOF"},
		{"socks5 silent", "socks5", "wait", context.DeadlineExceeded.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan struct{})
			go func() {
				defer close(served)
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(waitTimeout))
				if tt.answer == "wait" {
					io.Copy(io.Discard, nc) // until the client gives up
					return
				}
				nc.Read(make([]byte, 512))
				if tt.scheme == "socks5" && len(tt.answer) > 2 {
					io.WriteString(nc, tt.answer[:2])
					nc.Read(make([]byte, 512)) // the CONNECT request
					tt.answer = tt.answer[2:]
				}
				io.WriteString(nc, tt.answer)
			}()
			defer func() {
				ln.Close()
				<-served
			}()
			pu := &url.URL{Scheme: tt.scheme, Host: ln.Addr().String()}
			c, err := wsd.NewClient("ws://wsd-target.test/", &wsd.Options{
				Proxy:            func(*http.Request) (*url.URL, error) { return pu, nil },
				HandshakeTimeout: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Start = %v, want an error with %q", err, tt.err)
			}
			if tt.answer == "wait" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Start = %v, want it to match context.DeadlineExceeded", err)
			}
		})
	}
}

// proxyChildEnv, when set, makes TestProxyFromEnvironment a client that
// dials the URL it holds: http.ProxyFromEnvironment reads the environment
// once per process, so each case runs in a process of its own.
const proxyChildEnv = "WSD_TEST_PROXY_CHILD"

// TestProxyFromEnvironment: without Options.Proxy, HTTP_PROXY serves ws
// URLs, HTTPS_PROXY wss URLs, and NO_PROXY is honoured.
func TestProxyFromEnvironment(t *testing.T) {
	if target := os.Getenv(proxyChildEnv); target != "" {
		proxyChild(t, target)
		return
	}
	p := startProxy(t, &testProxy{kind: "http"})
	auth := startProxy(t, &testProxy{kind: "http", user: "joe", pass: "s3cret"})
	socks := startProxy(t, &testProxy{kind: "socks5"})
	ws := newTestServer(t, nil, nil)
	wss := startTestServer(t, nil, nil, true, nil)
	_, wsPort, _ := net.SplitHostPort(ws.addr)
	_, wssPort, _ := net.SplitHostPort(wss.addr)
	tests := []struct {
		name   string
		url    string // the server's
		env    map[string]string
		proxy  *testProxy // the one that must tunnel, or nil for none
		direct bool       // whether the client dials the server itself
	}{
		{"ws HTTP_PROXY", "ws://wsd-target.test:" + wsPort, map[string]string{"HTTP_PROXY": "http://" + p.addr}, p, false},
		{"wss HTTPS_PROXY", "wss://example.com:" + wssPort, map[string]string{"HTTPS_PROXY": "http://" + p.addr}, p, false},
		{"ws ignores HTTPS_PROXY", "ws://wsd-target.test:" + wsPort, map[string]string{"HTTPS_PROXY": "http://" + p.addr}, nil, true},
		{"wss ignores HTTP_PROXY", "wss://example.com:" + wssPort, map[string]string{"HTTP_PROXY": "http://" + p.addr}, nil, true},
		{"NO_PROXY", "ws://wsd-target.test:" + wsPort, map[string]string{"HTTP_PROXY": "http://" + p.addr, "NO_PROXY": "wsd-target.test"}, nil, true},
		{"NO_PROXY domain", "wss://example.com:" + wssPort, map[string]string{"HTTPS_PROXY": "http://" + p.addr, "NO_PROXY": ".com"}, nil, true},
		{"NO_PROXY other", "ws://wsd-target.test:" + wsPort, map[string]string{"HTTP_PROXY": "http://" + p.addr, "NO_PROXY": "other.test"}, p, false},
		{"user info", "ws://wsd-target.test:" + wsPort, map[string]string{"HTTP_PROXY": "http://joe:s3cret@" + auth.addr}, auth, false},
		{"socks5", "ws://wsd-target.test:" + wsPort, map[string]string{"HTTP_PROXY": "socks5://" + socks.addr}, socks, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
				t.Setenv(name, tt.env[name])
				t.Setenv(strings.ToLower(name), tt.env[name])
			}
			t.Setenv("REQUEST_METHOD", "") // else HTTP_PROXY is ignored, as in CGI
			t.Setenv(proxyChildEnv, tt.url)
			t.Setenv("WSD_TEST_PROXY_ROOT", base64.StdEncoding.EncodeToString(wss.ts.Certificate().Raw))
			before := map[*testProxy]int{p: len(p.opened()), auth: len(auth.opened()), socks: len(socks.opened())}
			ctx, cancel := context.WithTimeout(context.Background(), 4*waitTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1", "-test.v")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("client: %v\n%s", err, out)
			}
			hostPort := strings.TrimPrefix(strings.TrimPrefix(tt.url, "ws://"), "wss://")
			if dialedServer := strings.Contains(string(out), "dialed "+hostPort+"\n"); dialedServer != tt.direct {
				t.Errorf("client dialed the server itself: %v, want %v\n%s", dialedServer, tt.direct, out)
			}
			for q, n := range before {
				got := q.opened()[n:]
				want := []string(nil)
				if q == tt.proxy {
					want = []string{hostPort}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s proxy %s opened %q, want %q", q.kind, q.addr, got, want)
				}
			}
		})
	}
}

// proxyChild connects to target with the proxy from the environment,
// printing each address it dials.
func proxyChild(t *testing.T, target string) {
	der, err := base64.StdEncoding.DecodeString(os.Getenv("WSD_TEST_PROXY_ROOT"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	dial, dialed := recordDials()
	c, err := wsd.NewClient(target, &wsd.Options{DialContext: dial, TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = c.Start(ctx)
	for _, a := range dialed() {
		fmt.Printf("dialed %s\n", a)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	closeAndWait(t, c)
}
