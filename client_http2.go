//go:build !js

package wsd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/wsd-go/wsd/internal/handshake"
	"github.com/wsd-go/wsd/internal/proto"
)

// dialHTTP2Mode applies the mode to the URL's scheme: HTTP/2 needs TLS.
// When done is false the caller goes on with HTTP/1.1, on nc if it is not
// nil: a TLS connection on which the server chose HTTP/1.1.
func (c *Conn) dialHTTP2Mode(ctx context.Context, u *url.URL) (nc net.Conn, done bool, err error) {
	if u.Scheme != "wss" {
		if c.opts.HTTP2 == HTTP2Only {
			return nil, true, fmt.Errorf("%w: %s is not a wss:// URL", ErrHTTP2Unsupported, c.key)
		}
		return nil, false, nil
	}
	nc, err = c.dialHTTP2(ctx, u)
	if errors.Is(err, ErrHTTP2Unsupported) && c.opts.HTTP2 == HTTP2Auto {
		return nc, false, nil
	}
	return nil, true, err
}

// dialHTTP2 opens the WebSocket as a stream of an HTTP/2 connection,
// shared with the other WebSockets of the same Options to the same host.
// If the server does not offer RFC 8441 the error is ErrHTTP2Unsupported,
// and nc may be a TLS connection on which the server chose HTTP/1.1.
func (c *Conn) dialHTTP2(ctx context.Context, u *url.URL) (nc net.Conn, err error) {
	var offer *handshake.DeflateConfig
	var offerText string
	if c.opts.Compression.Mode == CompressionEnabled {
		cfg := c.opts.Compression.deflateConfig(proto.Client)
		offer = &cfg
		offerText = handshake.DeflateOffer(cfg).String()
	}
	h := handshake.ConnectHeader(c.opts.AcceptProtocols, offerText, c.requestHeaders(u))
	pr, pw := io.Pipe()
	// The stream lives on after the handshake, so its context is not
	// ctx, which only bounds the handshake.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &h2ClientStream{pw: pw, cancel: cancel}
	sctx = httptrace.WithClientTrace(sctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		s.remote, s.local = i.Conn.RemoteAddr(), i.Conn.LocalAddr()
	}})
	req := (&http.Request{
		Method:        http.MethodConnect,
		URL:           &url.URL{Scheme: "https", Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery},
		Host:          u.Host,
		Header:        h,
		Body:          pr,
		ContentLength: -1,
	}).WithContext(sctx)
	stop := context.AfterFunc(ctx, cancel)
	resp, nc, err := h2ClientFor(c.opts).roundTrip(ctx, req, c.opts.HTTP2 == HTTP2Auto)
	if !stop() || ctx.Err() != nil {
		if err == nil {
			resp.Body.Close()
		}
		if nc != nil {
			nc.Close()
			nc = nil
		}
		err = ctx.Err()
	}
	if err != nil {
		pw.Close()
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wsd: handshake with %s: %w", u.Host, ctx.Err())
		}
		if errors.Is(err, ErrHTTP2Unsupported) {
			return nc, err
		}
		return nil, fmt.Errorf("wsd: HTTP/2 handshake with %s: %w", u.Host, err)
	}
	s.body = resp.Body
	fail := func(err error) (net.Conn, error) {
		s.Close()
		return nil, err
	}
	c.respHeader = resp.Header
	c.reqPacked = packHeader(h)
	if c.opts.Jar != nil {
		c.opts.Jar.SetCookies(httpURL(u), resp.Cookies())
	}
	if resp.StatusCode/100 == 3 {
		return fail(redirectError(resp))
	}
	protocol, err := handshake.CheckConnectResponse(resp, c.opts.AcceptProtocols)
	if err := c.agree(resp, protocol, err, offer); err != nil {
		return fail(err)
	}
	c.http2.Store(true)
	c.nc = s
	if !c.opening() {
		s.Close()
		return nil, errCanceled
	}
	c.join()
	go pump(c, s.body, s.small[:], s.why)
	return nil, nil
}

// h2Client sends the extended CONNECT requests of the clients of one
// Options, over HTTP/2 connections it dials and shares. net/http's
// Transport refuses a ":protocol" header, but its HTTP/2 transport, which
// it hands out through TLSNextProto for each connection it is given,
// sends one as RFC 8441 says, once the server has announced
// SETTINGS_ENABLE_CONNECT_PROTOCOL. That transport keeps the
// connections, one or more per host, and reuses them while they take
// new streams.
type h2Client struct {
	t     *http.Transport
	next  func(authority string, c *tls.Conn) http.RoundTripper
	cfg   *tls.Config
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	proxy func(*http.Request) (*url.URL, error)

	mu sync.Mutex        // serializes dials, so that WebSockets opened together share one
	rt http.RoundTripper // net/http's HTTP/2 transport, once a connection was given
}

// h2Clients holds the h2Client of each Options that HTTP/2 clients use.
// An entry goes when its Options is garbage.
var h2Clients sync.Map // weak.Pointer[Options] -> *h2Client

func h2ClientFor(o *Options) *h2Client {
	key := weak.Make(o)
	if h, ok := h2Clients.Load(key); ok {
		return h.(*h2Client)
	}
	h := newH2Client(o.TLSConfig, o.DialContext, o.Proxy)
	if old, loaded := h2Clients.LoadOrStore(key, h); loaded {
		return old.(*h2Client)
	}
	runtime.AddCleanup(o, func(k weak.Pointer[Options]) {
		if h, ok := h2Clients.LoadAndDelete(k); ok {
			h.(*h2Client).t.CloseIdleConnections()
		}
	}, key)
	return h
}

// newH2Client keeps the TLS settings and the dialer, not the Options,
// which must stay collectable.
func newH2Client(cfg *tls.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error), proxy func(*http.Request) (*url.URL, error)) *h2Client {
	t := &http.Transport{ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second}
	t.CloseIdleConnections() // sets up HTTP/2, filling TLSNextProto
	return &h2Client{t: t, next: t.TLSNextProto["h2"], cfg: cfg, dial: dial, proxy: proxy}
}

// roundTrip sends req on a shared connection, dialing one if none can
// take it. A server that declines HTTP/2 yields ErrHTTP2Unsupported and,
// if http1 allowed the server to choose HTTP/1.1, the TLS connection.
func (h *h2Client) roundTrip(ctx context.Context, req *http.Request, http1 bool) (*http.Response, net.Conn, error) {
	if h.next == nil {
		return nil, nil, errors.New("net/http has no HTTP/2 transport")
	}
	for range 2 {
		h.mu.Lock()
		rt := h.rt
		h.mu.Unlock()
		if rt != nil {
			resp, err := rt.RoundTrip(req)
			if !isNoCachedConn(err) {
				return resp, nil, h2Error(err)
			}
		}
		h.mu.Lock()
		if h.rt != nil && h.rt != rt {
			h.mu.Unlock()
			continue // another dial has just given a connection
		}
		tc, err := h.dialTLS(ctx, req.URL.Host, http1)
		if err != nil {
			h.mu.Unlock()
			return nil, nil, err
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			h.mu.Unlock()
			if http1 {
				return nil, h1Fallback{tc}, fmt.Errorf("%w: ALPN chose HTTP/1.1", ErrHTTP2Unsupported)
			}
			tc.Close()
			return nil, nil, fmt.Errorf("%w: the server did not agree to h2 in ALPN", ErrHTTP2Unsupported)
		}
		rt = h.next(req.URL.Host, tc)
		h.rt = rt
		h.mu.Unlock()
		resp, err := rt.RoundTrip(req)
		if !isNoCachedConn(err) {
			return resp, nil, h2Error(err)
		}
	}
	return nil, nil, errors.New("no HTTP/2 connection could take the stream")
}

// dialTLS connects to addr, through the proxy if there is one, and makes
// a TLS handshake offering h2, and http/1.1 too if http1 is set.
func (h *h2Client) dialTLS(ctx context.Context, addr string, http1 bool) (*tls.Conn, error) {
	u := &url.URL{Scheme: "wss", Host: addr}
	addr = withPort(u, "443")
	nc, err := dialVia(ctx, u, h.dial, h.proxy, h.cfg)
	if err != nil {
		return nil, err
	}
	cfg := h.cfg.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	cfg.NextProtos = []string{"h2"}
	if http1 {
		cfg.NextProtos = append(cfg.NextProtos, "http/1.1")
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		// A remote alert comes as text only.
		if strings.Contains(err.Error(), "no application protocol") {
			return nil, fmt.Errorf("%w: the server did not agree to h2 in ALPN (%v)", ErrHTTP2Unsupported, err)
		}
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// isNoCachedConn reports net/http's error for a request that no pooled
// HTTP/2 connection can take.
func isNoCachedConn(err error) bool {
	var e interface{ IsHTTP2NoCachedConnectionError() }
	return errors.As(err, &e)
}

// h2Error names the error net/http gives when the server did not
// announce SETTINGS_ENABLE_CONNECT_PROTOCOL; it does not export it.
func h2Error(err error) error {
	if err != nil && strings.Contains(err.Error(), "extended connect not supported") {
		return fmt.Errorf("%w: no SETTINGS_ENABLE_CONNECT_PROTOCOL (%v)", ErrHTTP2Unsupported, err)
	}
	return err
}

// h1Fallback is a TLS connection on which the server chose HTTP/1.1 over
// h2, for the HTTP/1.1 handshake to go on without a TLS handshake of its
// own.
type h1Fallback struct{ *tls.Conn }

// h2ClientStream is a client's WebSocket over an HTTP/2 stream: the
// response body from the server, a pipe into the request body to it.
type h2ClientStream struct {
	body          io.ReadCloser
	pw            *io.PipeWriter
	cancel        context.CancelFunc
	remote, local net.Addr
	rd, wd        atomic.Int64 // read and write deadlines, Unix nanoseconds
	closed        atomic.Bool
	small         [smallRead]byte
}

// Read reads the response body; the connection reads it only to wait for
// the server's end of the stream after the closing handshake.
func (s *h2ClientStream) Read(p []byte) (int, error) {
	if d := s.rd.Load(); d != 0 {
		t := time.AfterFunc(time.Until(time.Unix(0, d)), func() { s.body.Close() })
		defer t.Stop()
	}
	return s.body.Read(p)
}

// Write writes p into the request body.
func (s *h2ClientStream) Write(p []byte) (int, error) {
	if d := s.wd.Load(); d != 0 {
		t := time.AfterFunc(time.Until(time.Unix(0, d)), func() { s.pw.CloseWithError(timeoutError{}) })
		defer t.Stop()
	}
	return s.pw.Write(p)
}

// Close ends the request body, then the stream.
func (s *h2ClientStream) Close() error {
	s.closed.Store(true)
	s.pw.Close()
	s.body.Close()
	s.cancel()
	return nil
}

// why says why the response body failed with err.
func (s *h2ClientStream) why(err error) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	return err
}

// LocalAddr returns the client's address of the HTTP/2 connection.
func (s *h2ClientStream) LocalAddr() net.Addr { return s.local }

// RemoteAddr returns the server's address of the HTTP/2 connection.
func (s *h2ClientStream) RemoteAddr() net.Addr { return s.remote }

// SetDeadline sets both deadlines.
func (s *h2ClientStream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline bounds later reads; one that expires ends the stream.
func (s *h2ClientStream) SetReadDeadline(t time.Time) error {
	s.rd.Store(unixNano(t))
	return nil
}

// SetWriteDeadline bounds later writes; one that expires ends the stream.
func (s *h2ClientStream) SetWriteDeadline(t time.Time) error {
	s.wd.Store(unixNano(t))
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
