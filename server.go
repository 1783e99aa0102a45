package wsd

import (
	"context"
	"encoding/binary"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wsd-go/wsd/internal/handshake"
	"github.com/wsd-go/wsd/internal/proto"
	"github.com/wsd-go/wsd/internal/transport"
)

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
// handler's request, which net/http ends when the handler returns: there
// Start runs the connection on the handler's goroutine and returns once
// it has closed and the close event has run, with nil if it opened. Do
// what must follow the opening in OnOpen.
func (c *Conn) Start(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errStarted
	}
	var err error
	if c.m.Role() == proto.Client {
		err = c.dial(ctx)
	} else {
		err = c.accept(ctx)
	}
	if err != nil {
		c.state.Store(int32(Closed))
		c.closeDone()
	}
	return err
}

func (c *Conn) accept(ctx context.Context) error {
	w := c.w
	c.w = nil
	if a, ok := w.(transport.Attacher); ok {
		if err := ctx.Err(); err != nil {
			// Answer nothing, as after a hijack: take the connection
			// and close it.
			if nc, aerr := a.Attach(abandoned{}, nil); aerr == nil {
				nc.Close()
			}
			return err
		}
		// The transport may call Opened as soon as Attach returns, from
		// another goroutine: c.mu makes it wait until c is set up.
		c.mu.Lock()
		resp := c.response()
		nc, err := a.Attach(driver{c}, *resp)
		putResponse(resp)
		if err == nil {
			c.nc = nc
			c.state.Store(int32(Open))
		}
		c.mu.Unlock()
		if err != nil {
			return err
		}
		c.join()
		if s, ok := a.(*h2Stream); ok {
			s.serve() // the stream ends when the handler returns
		}
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
	c.begin(nc, leftover)
	return nil
}

// response returns the 101 response in a pooled buffer, to be given back
// with putResponse once written: a server makes one per handshake.
func (c *Conn) response() *[]byte {
	bp := respBufs.Get().(*[]byte)
	*bp = handshake.AppendResponse((*bp)[:0], handshake.AcceptKey(c.key), c.protocol, c.Extensions(), c.opts.AdditionalHeaders)
	return bp
}

var respBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func putResponse(bp *[]byte) {
	if cap(*bp) <= 4096 {
		respBufs.Put(bp)
	}
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
	for k, v := range c.opts.AdditionalHeaders {
		if h.Get(k) == "" {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	if c.http2 {
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
func (abandoned) Dropped()         {}

// driver lets a transport of internal/transport drive a Conn.
type driver struct{ c *Conn }

func (d driver) Opened() {
	d.c.startLiveness()
	d.c.opened()
}

func (d driver) Feed(data []byte) bool {
	if d.c.live != nil {
		d.c.live.active()
	}
	return d.c.feed(data)
}

func (d driver) Dropped() { d.c.dropped() }
