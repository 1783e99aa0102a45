//go:build !js

package wsd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsd-go/wsd/internal/handshake"
	"github.com/wsd-go/wsd/internal/proto"
)

// maxResponseSize bounds the handshake response a client reads.
const maxResponseSize = 64 << 10

// NewClient returns an unstarted client connection to rawURL, a ws:// or
// wss:// URL. Set its handlers, then call Start to dial and handshake.
func NewClient(rawURL string, opts *Options) (*Conn, error) {
	if _, err := parseURL(rawURL); err != nil {
		return nil, err
	}
	if opts != nil {
		if err := opts.Compression.check(); err != nil {
			return nil, err
		}
	}
	c := newConn(proto.Client, opts)
	c.key = rawURL
	return c, nil
}

func (c *Conn) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.handshakeTimeout())
	defer cancel()
	u, _ := url.Parse(c.key)
	var nc net.Conn // a TLS connection on which HTTP/2 was declined
	var err error
	if c.opts.HTTP2 != HTTP2Off {
		var done bool
		if nc, done, err = c.dialHTTP2Mode(ctx, u); done {
			return err
		}
	}
	if nc == nil {
		if nc, err = c.dialServer(ctx, u); err != nil {
			return err
		}
	}
	leftover, err := c.clientHandshake(ctx, nc, u)
	if err != nil {
		nc.Close()
		return err
	}
	if !c.begin(c.nc, leftover) {
		c.nc.Close()
		return errCanceled
	}
	return nil
}

func (c *Conn) clientHandshake(ctx context.Context, nc net.Conn, u *url.URL) ([]byte, error) {
	// The context's end, and only that, cuts the handshake short: a
	// deadline copied from it could expire before ctx.Err() is set, and
	// the failure would not be reported as the context's.
	raw := nc
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()
	wrap := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("wsd: handshake with %s: %w", u.Host, ctx.Err())
		}
		return err
	}
	if f, ok := nc.(h1Fallback); ok {
		nc = f.Conn // TLS is done: the server chose HTTP/1.1 in it
	} else if u.Scheme == "wss" {
		cfg := c.opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, wrap(fmt.Errorf("wsd: TLS handshake with %s: %w", u.Host, err))
		}
		nc = tc
	}
	c.nc = nc
	key := handshake.NewKey()
	var offer *handshake.DeflateConfig
	var offerText string
	if c.opts.Compression.Mode == CompressionEnabled {
		cfg := c.opts.Compression.deflateConfig(proto.Client)
		offer = &cfg
		offerText = handshake.DeflateOffer(cfg).String()
	}
	req := handshake.AppendRequest(nil, u, key, c.opts.AcceptProtocols, offerText, c.requestHeaders(u))
	if _, err := nc.Write(req); err != nil {
		return nil, wrap(fmt.Errorf("wsd: send handshake: %w", err))
	}
	rr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(req))))
	if err == nil {
		c.reqPacked = packHeader(rr.Header)
	}
	br := bufio.NewReaderSize(io.LimitReader(nc, maxResponseSize), readBufferSize)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("connection closed before the response ended")
		}
		return nil, wrap(fmt.Errorf("wsd: read handshake response: %w", err))
	}
	c.respHeader = resp.Header
	if c.opts.Jar != nil {
		c.opts.Jar.SetCookies(httpURL(u), resp.Cookies())
	}
	protocol, err := handshake.CheckResponse(resp, key, c.opts.AcceptProtocols)
	if err != nil && resp.StatusCode/100 == 3 {
		return nil, redirectError(resp)
	}
	if err := c.agree(resp, protocol, err, offer); err != nil {
		return nil, err
	}
	if !stop() {
		// The context ended just now and may have set a deadline.
		return nil, wrap(ctx.Err())
	}
	nc.SetDeadline(time.Time{})
	var leftover []byte
	if n := br.Buffered(); n > 0 {
		leftover, _ = br.Peek(n)
	}
	return leftover, nil
}

// agree takes the server's answer, once checked (checkErr is what the
// check found): the extension it agreed to, then the subprotocol. It is
// the same over HTTP/1.1 and HTTP/2.
func (c *Conn) agree(resp *http.Response, protocol string, checkErr error, offer *handshake.DeflateConfig) error {
	if checkErr != nil {
		var re *handshake.ResponseError
		if errors.As(checkErr, &re) {
			return &HandshakeError{Status: re.StatusCode, Reason: re.Error()}
		}
		return &HandshakeError{Status: resp.StatusCode, Reason: checkErr.Error()}
	}
	exts, err := handshake.ParseExtensions(resp.Header)
	if err == nil {
		var p handshake.DeflateParams
		var ok bool
		if p, ok, err = handshake.CheckDeflateResponse(exts, offer); ok && err == nil {
			c.useDeflate(p, strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", "))
		}
	}
	if err != nil {
		return &HandshakeError{Status: resp.StatusCode, Reason: err.Error()}
	}
	c.protocol = protocol
	return nil
}
