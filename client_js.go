//go:build js && wasm

package wsd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"time"
)

// NewClient returns an unstarted client connection to rawURL, a ws:// or
// wss:// URL. Set its handlers, then call Start to connect.
//
// In a browser the browser's WebSocket makes the connection: the options
// it decides itself are refused with an error rather than ignored
// (AdditionalHeaders, TLSConfig, DialContext, Proxy, Jar, HTTP2, Group,
// PingInterval, PongTimeout, IdleTimeout, and Compression other than its
// zero value or Mode CompressionEnabled: browsers offer permessage-deflate
// themselves). The browser uses its own proxy settings and its own
// cookies for the server, and opens the WebSocket over HTTP/2 when the
// server offers it.
func NewClient(rawURL string, opts *Options) (*Conn, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &Options{}
	}
	if err := checkBrowserOptions(opts); err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host += map[string]string{"ws": ":80", "wss": ":443"}[u.Scheme]
	}
	return &Conn{
		opts:     opts,
		url:      rawURL,
		host:     host,
		wlock:    make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		readWake: make(chan struct{}, 1),
		opened:   make(chan struct{}),
		end:      make(chan struct{}),
		closed:   make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

// checkBrowserOptions refuses the options a page cannot honour.
func checkBrowserOptions(o *Options) error {
	var bad []string
	add := func(set bool, name string) {
		if set {
			bad = append(bad, name)
		}
	}
	add(o.AdditionalHeaders != nil, "AdditionalHeaders")
	add(o.TLSConfig != nil, "TLSConfig")
	add(o.DialContext != nil, "DialContext")
	add(o.Proxy != nil, "Proxy")
	add(o.Jar != nil, "Jar")
	add(o.HTTP2 != HTTP2Off, "HTTP2")
	add(o.Group != nil, "Group")
	add(o.PingInterval != 0, "PingInterval")
	add(o.PongTimeout != 0, "PongTimeout")
	add(o.IdleTimeout != 0, "IdleTimeout")
	add(o.Compression != CompressionOptions{} && o.Compression != CompressionOptions{Mode: CompressionEnabled}, "Compression")
	if len(bad) > 0 {
		return fmt.Errorf("wsd: in a browser, the browser's WebSocket makes and keeps the connection and cannot take Options.%s: leave unset", strings.Join(bad, ", Options."))
	}
	return nil
}

var errStarted = errors.New("wsd: connection already started")

// Start opens the connection through the browser's WebSocket and returns
// nil once it is open; events then arrive on the connection's goroutine,
// starting with the open event. ctx, and Options.HandshakeTimeout, bound
// the handshake. A browser does not tell a page why a connection could not
// open (refused, a refused handshake, a subprotocol not offered): the
// error says only that it did not.
//
// Call Start, and the other blocking methods, from a goroutine rather than
// from a js.Func callback: a callback that blocks holds up the browser's
// event loop, which the connection needs.
func (c *Conn) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errStarted
	}
	c.started = true
	if c.startErr != nil {
		err := c.startErr
		c.endBeforeOpenLocked(err)
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()

	protocols := make([]any, len(c.opts.AcceptProtocols))
	for i, p := range c.opts.AcceptProtocols {
		protocols[i] = p
	}
	var ws js.Value
	err := jsTry(func() { ws = js.Global().Get("WebSocket").New(c.url, protocols) })
	if err != nil {
		err = fmt.Errorf("wsd: open %s: %w", c.url, err)
		c.mu.Lock()
		c.endBeforeOpenLocked(err)
		c.mu.Unlock()
		return err
	}
	ws.Set("binaryType", "arraybuffer")
	c.mu.Lock()
	c.ws = ws
	if c.ended { // Close came first
		c.dropSocketLocked()
		c.mu.Unlock()
		return errCanceled
	}
	for name, f := range map[string]func(js.Value){"onopen": c.onOpen, "onmessage": c.onMessage, "onclose": c.onClose} {
		jf := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args[0])
			return nil
		})
		c.funcs = append(c.funcs, jf)
		ws.Set(name, jf)
	}
	c.mu.Unlock()

	timer := time.NewTimer(c.opts.handshakeTimeout())
	defer timer.Stop()
	var cut error
	select {
	case <-c.opened:
		return nil
	case <-c.end:
	case <-ctx.Done():
		cut = ctx.Err()
	case <-timer.C:
		cut = context.DeadlineExceeded
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cut != nil {
		if c.ReadyState() != Connecting {
			return nil // it opened just now
		}
		c.endBeforeOpenLocked(fmt.Errorf("wsd: handshake with %s: %w", c.host, cut))
	}
	if c.canceled {
		return errCanceled
	}
	return c.openErr
}
