//go:build !js

package wsd

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wsd-go/wsd/internal/handshake"
	"github.com/wsd-go/wsd/internal/proto"
	"github.com/wsd-go/wsd/internal/transport"
)

// IsWebSocket reports whether r is a WebSocket opening handshake that
// NewServer would accept as to its method, Upgrade, Connection, version
// and key, or over HTTP/2 an RFC 8441 extended CONNECT (the Origin check
// and the options aside), so that one handler can serve a page and a
// WebSocket on the same path. It writes nothing. (The name says what a
// handler asks: is this request a WebSocket?)
func IsWebSocket(r *http.Request) bool {
	_, err := checkRequest(r)
	return err == nil
}

// NewServer validates the WebSocket handshake of r and returns an unstarted
// server connection. Set its handlers, then call Start to answer the
// handshake and take over the TCP connection.
//
// If r is not a valid WebSocket handshake, NewServer answers it with the
// right HTTP status (400, 405 or 426) and a short plain-text reason, and
// returns a *HandshakeError.
//
// On an HTTP/2 connection r must be an extended CONNECT (RFC 8441), which
// net/http passes on only when the setting is on: see package xconnect.
func NewServer(w http.ResponseWriter, r *http.Request, opts *Options) (*Conn, error) {
	o := opts
	if o == nil {
		o = &zeroOptions
	}
	key, herr := checkRequest(r)
	if herr == nil {
		herr = handshake.CheckOrigin(r, o.OriginPatterns)
	}
	if herr != nil {
		switch herr.Status {
		case http.StatusUpgradeRequired:
			w.Header().Set("Sec-WebSocket-Version", "13")
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", allowedMethod(r))
		}
		http.Error(w, herr.Reason, herr.Status)
		return nil, &HandshakeError{Status: herr.Status, Reason: herr.Reason}
	}
	if err := o.Compression.check(); err != nil {
		http.Error(w, "websocket: server misconfigured", http.StatusInternalServerError)
		return nil, err
	}
	c := newConn(proto.Server, o)
	c.w = serverWriter(c, w, r)
	c.reqPacked = packHeader(r.Header)
	c.key = key
	if i := strings.Index(c.reqPacked, key); i >= 0 {
		c.key = c.reqPacked[i : i+len(key)] // shares the packed string
	}
	c.protocol = handshake.SelectProtocol(handshake.Tokens(r.Header, "Sec-WebSocket-Protocol"), c.opts.AcceptProtocols)
	if c.opts.Compression.Mode != CompressionDisabled {
		// A malformed header only means no extension: the handshake
		// itself goes on.
		if offers, err := handshake.ParseExtensions(r.Header); err == nil {
			resp, p, ok := handshake.AcceptDeflate(offers, c.opts.Compression.deflateConfig(proto.Server))
			if ok {
				c.useDeflate(p, resp.String())
			}
		}
	}
	return c, nil
}

// Start sends the handshake: on a server, the 101 response, after taking
// over the connection from net/http; on a client, the request, after
// dialing. It returns nil once the handshake is done and the connection is
// open; events then arrive on the connection's goroutine, starting with
// the open event. ctx bounds the handshake only.
//
// Over HTTP/2 (RFC 8441) a server's WebSocket is the stream of the
// handler's request, which net/http ends when the handler returns, so the
// handler must not return before the WebSocket has closed. With an
// OnMessage handler set, Start sees to it: it runs the connection on the
// handler's goroutine and returns once it has closed and the close event
// has run, with nil if it opened (do what must follow the opening in
// OnOpen). Without one, Start returns once open, as over HTTP/1.1, and the
// handler must go on reading (Read, Reader) until the close is reported,
// or Close and wait for Done before it returns.
func (c *Conn) Start(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errStarted
	}
	// Close cancels the handshake through this context.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.mu.Lock()
	c.lc().cancel = cancel
	if c.canceled {
		cancel(errCanceled)
	}
	c.mu.Unlock()
	var err error
	if c.m.Role() == proto.Client {
		err = c.dial(ctx)
	} else {
		err = c.accept(ctx)
	}
	c.mu.Lock()
	if c.x.cause == nil && c.x.pings == nil && c.x.closeTimer == nil && c.x.pending == nil && c.x.afterClose == nil {
		c.x = nil // most connections need it no more
	} else {
		c.x.cancel = nil
	}
	c.mu.Unlock()
	if err != nil {
		if context.Cause(ctx) == errCanceled {
			err = errCanceled
		}
		c.state.Store(int32(Closed))
		c.failPending(err)
		c.closeDone()
	}
	if s, ok := c.nc.(*h2Stream); ok && err == nil {
		// The stream ends when the handler returns: with an OnMessage
		// handler, keep the handler's goroutine; without one, the
		// handler reads until the close.
		if c.h.Load().message != nil {
			s.serve()
		} else {
			go s.serve()
		}
	}
	return err
}

var errCanceled = fmt.Errorf("wsd: handshake canceled by Close: %w", ErrClosed)

// opening marks the connection open unless Close canceled its handshake,
// which it reports then.
func (c *Conn) opening() bool {
	c.wmu.Lock() // sends made from now on wait for those made before
	c.mu.Lock()
	if c.canceled {
		c.mu.Unlock()
		c.wmu.Unlock()
		return false
	}
	c.state.Store(int32(Open))
	q := c.takePending()
	c.mu.Unlock()
	done := c.writePending(q)
	c.wmu.Unlock()
	done()
	return true
}

// takePending takes the sends queued while connecting. c.mu is held.
func (c *Conn) takePending() []pendingSend {
	if c.x == nil {
		return nil
	}
	q := c.x.pending
	c.x.pending, c.x.pendingBytes = nil, 0
	return q
}

func (c *Conn) accept(ctx context.Context) error {
	w := c.w
	c.w = nil
	// Headers that middleware set, such as cookies or CORS, go with the
	// 101, as net/http would send them with any other answer.
	if h := w.Header(); len(h) > 0 {
		c.respPacked = packHeader(h)
	}
	if a, ok := w.(transport.Attacher); ok {
		// The transport may call Opened as soon as Attach returns, from
		// another goroutine: c.mu makes it wait until c is set up, and
		// c.wmu makes its sends wait for those made while connecting.
		c.wmu.Lock()
		c.mu.Lock()
		if err := ctx.Err(); err != nil || c.canceled {
			c.mu.Unlock()
			c.wmu.Unlock()
			// Answer nothing, as after a hijack: take the connection
			// and close it.
			if nc, aerr := a.Attach(abandoned{}, nil); aerr == nil {
				nc.Close()
			}
			if err == nil {
				err = errCanceled
			}
			return err
		}
		resp := c.response()
		nc, err := a.Attach(driver{c}, *resp)
		putResponse(resp)
		var q []pendingSend
		if err == nil {
			c.nc = nc
			c.state.Store(int32(Open))
			q = c.takePending()
		}
		c.mu.Unlock()
		done := c.writePending(q)
		c.wmu.Unlock()
		done()
		if err != nil {
			return err
		}
		c.join()
		return nil
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: cannot take over the connection", http.StatusInternalServerError)
		return &HandshakeError{Status: http.StatusInternalServerError, Reason: "cannot hijack the connection: " + err.Error()}
	}
	// A client may send frames right behind its request.
	var leftover []byte
	if n := brw.Reader.Buffered(); n > 0 {
		leftover, _ = brw.Reader.Peek(n)
	}
	resp := c.response()
	defer putResponse(resp)
	ctx, cancel := context.WithTimeout(ctx, c.opts.handshakeTimeout())
	defer cancel()
	// Only the context's end cuts the write short: a deadline copied from
	// it could expire before ctx.Err() is set, and the failure would not
	// be reported as the context's.
	stop := context.AfterFunc(ctx, func() { nc.SetWriteDeadline(time.Now()) })
	_, err = nc.Write(*resp)
	stop()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return err
	}
	nc.SetWriteDeadline(time.Time{})
	if !c.begin(nc, leftover) {
		nc.Close()
		return errCanceled
	}
	return nil
}

// response returns the 101 response in a pooled buffer, to be given back
// with putResponse once written: a server makes one per handshake.
func (c *Conn) response() *[]byte {
	bp := respBufs.Get().(*[]byte)
	*bp = handshake.AppendResponse((*bp)[:0], handshake.AcceptKey(c.key), c.protocol, c.Extensions(), c.extraHeaders())
	return bp
}

var respBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func putResponse(bp *[]byte) {
	if cap(*bp) <= 4096 {
		respBufs.Put(bp)
	}
}

// extraHeaders returns the headers a server adds to its 101 response: the
// ResponseWriter's, then Options.AdditionalHeaders under other names.
func (c *Conn) extraHeaders() http.Header {
	if c.respPacked == "" {
		return c.opts.AdditionalHeaders
	}
	h := unpackHeader(c.respPacked)
	for k, v := range c.opts.AdditionalHeaders {
		if _, ok := h[http.CanonicalHeaderKey(k)]; !ok {
			h[k] = v
		}
	}
	return h
}

// serverResponseHeader returns the headers of the 101 response.
func (c *Conn) serverResponseHeader() http.Header {
	h := http.Header{
		"Upgrade":              {"websocket"},
		"Connection":           {"Upgrade"},
		"Sec-Websocket-Accept": {handshake.AcceptKey(c.key)},
	}
	if c.protocol != "" {
		h.Set("Sec-WebSocket-Protocol", c.protocol)
	}
	if e := c.Extensions(); e != "" {
		h.Set("Sec-WebSocket-Extensions", e)
	}
	for k, v := range c.extraHeaders() {
		if h.Get(k) == "" && !strings.EqualFold(k, "Content-Length") && !strings.EqualFold(k, "Transfer-Encoding") {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	if c.http2.Load() {
		handshake.H2Response(h)
	}
	return h
}

// packHeader packs h into one string of length-prefixed names and values:
// an idle connection keeps one allocation instead of a map.
func packHeader(h http.Header) string {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 2*binary.MaxVarintLen64
		}
	}
	b := make([]byte, 0, n)
	for k, vs := range h {
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return string(b)
}

// unpackHeader returns the header that packHeader packed into s.
func unpackHeader(s string) http.Header {
	h := http.Header{}
	next := func() string {
		n, k := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		v := s[k : k+int(n)]
		s = s[k+int(n):]
		return v
	}
	for s != "" {
		k := next()
		h[k] = append(h[k], next())
	}
	return h
}

// abandoned is attached in place of a connection whose Start gave up.
type abandoned struct{}

func (abandoned) Opened()          {}
func (abandoned) Feed([]byte) bool { return true }
func (abandoned) Dropped(error)    {}

// driver lets a transport of internal/transport drive a Conn.
type driver struct{ c *Conn }

func (d driver) Opened() {
	d.c.startLiveness()
	d.c.opened() // a panic there finishes the connection; Feed sees it
}

func (d driver) Feed(data []byte) bool {
	c := d.c
	if c.live != nil {
		c.live.active()
	}
	over := c.feed(data)
	if c.msgSeen {
		c.msgSeen = false
		if c.live != nil {
			c.live.message()
		}
	}
	return over
}

func (d driver) Dropped(err error) { d.c.dropped(err) }
