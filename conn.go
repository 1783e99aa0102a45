//go:build !js

package wsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/wsd-go/wsd/internal/proto"
)

type handlers struct {
	open    func()
	message func(Message)
	err     func(error)
	close   func(code int, reason string)
	ping    func([]byte)
	pong    func([]byte)
}

type pendingPing struct {
	payload string
	fn      func()
}

// Conn is a WebSocket connection, server or client side. Its methods are
// safe for concurrent use. Event handlers run one at a time, in order: on
// the connection's own goroutine, or on a worker of a transport that runs
// connections itself, such as package eventloop.
type Conn struct {
	m     proto.Machine
	opts  *Options // shared, not copied: it must not change once in use
	state atomic.Int32
	h     atomic.Pointer[handlers]
	hmu   sync.Mutex // serializes handler updates

	nc      net.Conn
	http2   atomic.Bool // over an HTTP/2 stream (RFC 8441)
	started atomic.Bool
	done    chan struct{} // made by Done; guarded by mu

	wmu sync.Mutex // held while a frame is encoded and written

	mu         sync.Mutex // guards the fields below
	x          *lifecycle // made when first needed
	finished   bool
	doneClosed bool // done is, or is to be made, closed
	canceled   bool // Close or CloseNow came during the handshake

	msgSeen bool // a message was dispatched; read and reset by liveness

	live *timedLiveness // set by driver.Opened, if liveness is on

	protocol   string
	z          *compression // nil unless permessage-deflate is in use
	reqPacked  string       // the request headers, packed
	respPacked string       // a server's ResponseWriter headers, packed
	respHeader http.Header  // on a client; a server builds it when asked

	sx atomic.Pointer[streams]   // made for Read, Reader and Writer
	co atomic.Pointer[coalescer] // made for the first batch of frames

	w   http.ResponseWriter // a server's, until Start
	key string              // a server's: the client's key; a client's: the URL
}

// lifecycle holds what most connections need only for a moment, or never,
// out of Conn, which every idle connection keeps.
type lifecycle struct {
	pings      []pendingPing
	closeTimer *time.Timer
	cause      error                   // why we cut the connection, if we did
	cancel     context.CancelCauseFunc // cancels Start's handshake; nil outside it

	pending      []pendingSend // sends made while connecting
	pendingBytes int

	afterClose []*closeWatch // see AfterClose
}

// lc returns c.x, making it if need be. c.mu is held.
func (c *Conn) lc() *lifecycle {
	if c.x == nil {
		c.x = new(lifecycle)
	}
	return c.x
}

// noHandlers is the handler set of a new connection.
var noHandlers handlers

// zeroOptions stands for a nil *Options.
var zeroOptions Options

func newConn(role proto.Role, opts *Options) *Conn {
	c := &Conn{opts: opts}
	if opts == nil {
		c.opts = &zeroOptions
	}
	c.m.Init(proto.Config{Role: role, MaxLength: c.opts.maxLength()})
	c.h.Store(&noHandlers) // replaced, never changed, by the first OnX
	return c
}

func (c *Conn) setHandler(f func(h *handlers)) {
	c.hmu.Lock()
	h := *c.h.Load()
	f(&h)
	c.h.Store(&h)
	c.hmu.Unlock()
}

// OnOpen sets the handler called when the connection opens.
func (c *Conn) OnOpen(f func()) { c.setHandler(func(h *handlers) { h.open = f }) }

// OnMessage sets the handler called for each text or binary message.
// The message's Data is only valid until the handler returns.
func (c *Conn) OnMessage(f func(Message)) { c.setHandler(func(h *handlers) { h.message = f }) }

// OnError sets the handler called when the peer breaks the protocol. The
// error is a *ProtocolError; the close event follows.
func (c *Conn) OnError(f func(error)) { c.setHandler(func(h *handlers) { h.err = f }) }

// OnClose sets the handler called once when the connection has closed,
// with the close code and reason: the peer's after a closing handshake,
// the error's after a protocol error, 1006 when the connection dropped.
func (c *Conn) OnClose(f func(code int, reason string)) {
	c.setHandler(func(h *handlers) { h.close = f })
}

// OnPing sets the handler called for each ping; the pong is sent already.
// The payload is only valid until the handler returns.
func (c *Conn) OnPing(f func(payload []byte)) { c.setHandler(func(h *handlers) { h.ping = f }) }

// OnPong sets the handler called for each pong. The payload is only valid
// until the handler returns.
func (c *Conn) OnPong(f func(payload []byte)) { c.setHandler(func(h *handlers) { h.pong = f }) }

// Version returns the protocol version, "hybi-13".
func (c *Conn) Version() string { return "hybi-13" }

// Protocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) Protocol() string {
	if !c.negotiated() {
		return ""
	}
	return c.protocol
}

// negotiated reports whether the fields set by the handshake may be read:
// a server sets them in NewServer, a client during Start, before it leaves
// the connecting state.
func (c *Conn) negotiated() bool {
	return c.m.Role() == proto.Server || c.ReadyState() != Connecting
}

// ReadyState returns the state of the connection.
func (c *Conn) ReadyState() ReadyState { return ReadyState(c.state.Load()) }

// RemoteAddr returns the peer's address, or nil before Start.
func (c *Conn) RemoteAddr() net.Addr {
	if c.ReadyState() == Connecting || c.nc == nil {
		return nil
	}
	return c.nc.RemoteAddr()
}

// RequestHeader returns the headers of the handshake request, a new copy
// on each call: a connection keeps them packed, as a map would cost every
// idle connection several hundred bytes.
func (c *Conn) RequestHeader() http.Header {
	if c.reqPacked == "" {
		return nil
	}
	return unpackHeader(c.reqPacked)
}

// ResponseHeader returns the headers of the handshake response, once
// Start has succeeded. On a server each call returns a new copy.
func (c *Conn) ResponseHeader() http.Header {
	if c.m.Role() == proto.Server {
		if c.ReadyState() == Connecting || c.nc == nil {
			return nil
		}
		return c.serverResponseHeader()
	}
	if !c.negotiated() {
		return nil
	}
	return c.respHeader
}

// Done returns a channel closed once the connection is closed and the
// close event has been delivered.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		// Made on demand: most connections are never asked.
		c.done = make(chan struct{})
		if c.doneClosed {
			close(c.done)
		}
	}
	return c.done
}

// closeDone closes the channel of Done, now or when it is made.
func (c *Conn) closeDone() {
	c.mu.Lock()
	c.doneClosed = true
	if c.done != nil {
		close(c.done)
	}
	c.mu.Unlock()
}

// Send sends data as one message, or a control frame, as opts say. It
// returns once the frame is written, or queued to be written with the
// other replies to a batch of received frames (see Concurrency in the
// package documentation). Concurrent sends are serialized.
func (c *Conn) Send(data []byte, opts SendOptions) error {
	data, err := opts.slice(data)
	if err != nil {
		return callback(opts.Callback, err)
	}
	switch opts.Type {
	case 0, BinaryMessage:
		return c.write(nil, proto.OpBinary, data, opts.Compress, opts.Callback)
	case TextMessage:
		return c.write(nil, proto.OpText, data, opts.Compress, opts.Callback)
	case PingMessage:
		return c.sendPing(data, nil, opts.Callback)
	case PongMessage:
		return c.write(nil, proto.OpPong, data, CompressNever, opts.Callback)
	case CloseMessage:
		err = c.Close(opts.Code, string(data))
	default:
		err = fmt.Errorf("wsd: cannot send a message of type %v", opts.Type)
	}
	return callback(opts.Callback, err)
}

// SendText sends s as one text message.
func (c *Conn) SendText(s string) error {
	return c.write(nil, proto.OpText, unsafe.Slice(unsafe.StringData(s), len(s)), CompressDefault, nil)
}

// SendBinary sends b as one binary message.
func (c *Conn) SendBinary(b []byte) error {
	return c.write(nil, proto.OpBinary, b, CompressDefault, nil)
}

// SendPing sends a ping with an optional payload of at most 125 bytes.
// If onPong is not nil it is called, on the connection's goroutine, when a
// pong with the same payload arrives.
func (c *Conn) SendPing(payload []byte, onPong func()) error {
	return c.sendPing(payload, onPong, nil)
}

func (c *Conn) sendPing(payload []byte, onPong func(), cb func(error)) error {
	if len(payload) > proto.MaxControlPayload {
		return callback(cb, fmt.Errorf("wsd: ping payload of %d bytes exceeds 125", len(payload)))
	}
	if onPong != nil {
		c.mu.Lock()
		x := c.lc()
		x.pings = append(x.pings, pendingPing{string(payload), onPong})
		c.mu.Unlock()
	}
	return c.write(nil, proto.OpPing, payload, CompressNever, cb)
}

// Close starts the closing handshake with code (zero means 1000) and
// reason, if the connection is open. The close event follows when the peer
// answers, or after Options.CloseTimeout. On a connection still in its
// opening handshake, Close cancels the handshake: Start returns an error
// that matches ErrClosed. Closing a connection that is closed does
// nothing; Close may be called any number of times.
//
// Close waits for a send in progress to finish before it writes the close
// frame, at most CloseTimeout; a send still blocked then (a peer that
// stopped reading) is cut, with the connection.
func (c *Conn) Close(code int, reason string) error {
	if code == 0 {
		code = proto.CloseNormal
	}
	if !proto.ValidCloseCode(code) {
		return fmt.Errorf("wsd: %d is not a close code that may be sent", code)
	}
	if len(reason) > proto.MaxControlPayload-2 {
		return fmt.Errorf("wsd: close reason of %d bytes exceeds 123", len(reason))
	}
	if !utf8.ValidString(reason) {
		return errors.New("wsd: close reason is not valid UTF-8")
	}
	if c.closeUnopened() || c.ReadyState() != Open {
		return nil
	}
	sent, err := c.writeClose(code, reason)
	if sent {
		c.state.CompareAndSwap(int32(Open), int32(Closing))
		if s := c.sx.Load(); s != nil {
			// Read on, so that the answer to our close frame is seen.
			s.mu.Lock()
			s.release(c)
			s.mu.Unlock()
		}
		c.mu.Lock()
		if !c.finished {
			c.lc().closeTimer = time.AfterFunc(c.opts.closeTimeout(), func() {
				c.abort(errNoCloseAnswer)
			})
		}
		c.mu.Unlock()
	}
	return err
}

// CloseNow closes the connection at once, without a closing handshake:
// the socket is closed, a send blocked on it fails, and the close event
// reports 1006. On a connection still in its opening handshake it cancels
// the handshake, as Close does.
func (c *Conn) CloseNow() error {
	if !c.closeUnopened() && c.ReadyState() != Closed {
		c.abort(errClosedNow)
	}
	return nil
}

var (
	errClosedNow     = errors.New("closed by CloseNow")
	errNoCloseAnswer = errors.New("no answer to the close frame")
)

// closeUnopened ends a connection that is not open yet: one never started
// is closed, one in its handshake has the handshake canceled. It reports
// whether the connection was not open.
func (c *Conn) closeUnopened() bool {
	if !c.started.Load() && c.started.CompareAndSwap(false, true) {
		c.state.Store(int32(Closed))
		c.failPending(ErrClosed)
		c.closeDone()
		return true
	}
	c.mu.Lock()
	if c.ReadyState() != Connecting {
		c.mu.Unlock()
		return false
	}
	c.canceled = true
	var cancel context.CancelCauseFunc
	if c.x != nil {
		cancel = c.x.cancel
	}
	c.mu.Unlock()
	if cancel != nil {
		cancel(errCanceled)
	}
	return true
}

// abort cuts the connection for cause, which the close event reports: the
// transport sees its stream end and reports the drop, in order with the
// connection's other events.
func (c *Conn) abort(cause error) {
	c.mu.Lock()
	if x := c.lc(); x.cause == nil {
		x.cause = cause
	}
	c.mu.Unlock()
	if s := c.sx.Load(); s != nil {
		s.cut(c)
	}
	if a, ok := c.nc.(interface{ Abort() error }); ok {
		a.Abort() // a transport's queue is not worth flushing now
	} else {
		c.nc.Close()
	}
}

// lockWrite takes the write lock, waiting at most the close timeout: a
// close frame must not wait forever behind a send that a peer which
// stopped reading keeps blocked. The connection is cut if the wait is too
// long, which ends the blocked send.
func (c *Conn) lockWrite() {
	if c.wmu.TryLock() {
		return
	}
	d := c.opts.closeTimeout()
	t := time.AfterFunc(d, func() {
		c.abort(fmt.Errorf("close frame not sent: a send was blocked for %v", d))
	})
	c.wmu.Lock()
	t.Stop()
}

var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, readBufferSize); return &b }}

// Messages up to this size are copied next to their header and written
// with one call; larger ones are written from the caller's slice.
const smallMessage = 16 << 10

// write sends a data or control frame unless a close frame was sent,
// compressing a data frame as choice and the options say. On a connection
// still connecting, the frame is queued, and cb (if not nil) is called once
// it is written; otherwise cb is called before write returns. A ctx that
// ends while the frame is written cuts the write, and the connection.
func (c *Conn) write(ctx context.Context, op proto.Opcode, payload []byte, choice CompressChoice, cb func(error)) error {
	if op.IsControl() && len(payload) > proto.MaxControlPayload {
		return callback(cb, fmt.Errorf("wsd: control frame payload of %d bytes exceeds 125", len(payload)))
	}
	if op == proto.OpText && !utf8.Valid(payload) {
		return callback(cb, ErrInvalidUTF8)
	}
	switch c.ReadyState() {
	case Open:
	case Connecting:
		if err, queued := c.enqueue(ctx, op, payload, choice, cb); queued {
			return err
		}
	default:
		return callback(cb, ErrClosed)
	}
	c.wmu.Lock()
	err := c.writeHeld(ctx, op, payload, choice)
	c.wmu.Unlock()
	return callback(cb, err)
}

// writeHeld is write once c.wmu is held.
func (c *Conn) writeHeld(ctx context.Context, op proto.Opcode, payload []byte, choice CompressChoice) (err error) {
	if !op.IsControl() {
		if err := c.awaitWriter(ctx); err != nil {
			return err
		}
	}
	if c.m.CloseSent() || c.ReadyState() == Closed {
		return ErrClosed
	}
	// Every send, compressed or not, gets a deadline of its own: one
	// left from an earlier send would cut this one short.
	if c.opts.WriteTimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	}
	if ctx != nil && ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wsd: write: %w", err)
		}
		stop := context.AfterFunc(ctx, func() { c.nc.SetWriteDeadline(time.Now()) })
		defer func() {
			if stop() {
				return
			}
			// The context ended during the write: it failed, and the
			// connection with it, or it was done and the deadline must go.
			if err != nil {
				err = fmt.Errorf("wsd: write: %w", ctx.Err())
				c.abort(err)
			} else if c.opts.WriteTimeout <= 0 {
				c.nc.SetWriteDeadline(time.Time{})
			}
		}()
	}
	if c.z != nil && c.z.cz != nil && !op.IsControl() && c.compress(choice, len(payload)) {
		return c.writeCompressed(op, payload)
	}
	return c.writeLocked(op, payload)
}

// writeLocked writes one frame. c.wmu is held and the deadline set.
func (c *Conn) writeLocked(op proto.Opcode, payload []byte) error {
	var err error
	if len(payload) <= smallMessage {
		if ok, err := c.gather(op, payload); ok {
			return err
		}
		bp := wbufPool.Get().(*[]byte)
		b := c.m.AppendFrame((*bp)[:0], op, true, 0, payload)
		_, err = c.nc.Write(b)
		*bp = b[:0]
		wbufPool.Put(bp)
	} else if err = c.flushLocked(); err == nil {
		err = c.writeLarge(op, payload)
	}
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// writeFailed drops a connection whose write failed: the stream is in an
// unknown state. The read loop reports the close, with err as its cause.
func (c *Conn) writeFailed(err error) error {
	err = fmt.Errorf("wsd: write: %w", err)
	c.abort(err)
	return err
}

func (c *Conn) writeLarge(op proto.Opcode, payload []byte) error {
	h := c.m.FrameHeader(op, len(payload))
	var hb [proto.MaxHeaderSize]byte
	hdr := proto.AppendHeader(hb[:0], h)
	if !h.Masked {
		bufs := net.Buffers{hdr, payload}
		_, err := bufs.WriteTo(c.nc)
		return err
	}
	// A client masks a copy, a chunk at a time, never the caller's data.
	bp := wbufPool.Get().(*[]byte)
	defer wbufPool.Put(bp)
	buf := append((*bp)[:0], hdr...)
	pos := 0
	for len(payload) > 0 {
		k := min(len(payload), cap(buf)-len(buf))
		start := len(buf)
		buf = append(buf, payload[:k]...)
		pos = proto.Mask(h.Key, pos, buf[start:])
		payload = payload[k:]
		if _, err := c.nc.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
	}
	return nil
}

// writeClose sends a close frame unless one was sent; sent reports whether
// this call sent it.
func (c *Conn) writeClose(code int, reason string) (sent bool, err error) {
	c.lockWrite()
	defer c.wmu.Unlock()
	bp := wbufPool.Get().(*[]byte)
	defer wbufPool.Put(bp)
	b, ok := c.m.AppendClose((*bp)[:0], code, reason)
	if !ok {
		return false, nil
	}
	// A close frame must not wait on a peer that stopped reading.
	c.nc.SetWriteDeadline(time.Now().Add(c.opts.closeTimeout()))
	if err := c.flushLocked(); err != nil {
		return true, err
	}
	if _, err = c.nc.Write(b); err != nil {
		return true, c.writeFailed(err)
	}
	return true, nil
}

// The transport-facing side of Conn: a transport calls opened once, then
// feed with the bytes it reads, in order, then dropped if the stream ends
// before feed reported the end. Calls must not overlap.

// opened delivers the open event. It reports whether the connection is
// over: a handler that panics fails it.
func (c *Conn) opened() (over bool) {
	defer c.recoverHandler(&over)
	if f := c.h.Load().open; f != nil {
		f()
	}
	return false
}

// feed runs data through the protocol core and dispatches the events. It
// reports whether the connection is over. Payloads are unmasked in place.
func (c *Conn) feed(data []byte) (over bool) {
	if c.ReadyState() == Closed {
		return true // finished by a handler's panic, or by keepalive
	}
	defer c.recoverHandler(&over)
	batched := false
	defer func() {
		if batched {
			c.endBatch()
		}
	}()
	for len(data) > 0 {
		if !c.m.InMessage() {
			// Without a handler, messages stream to Read and Reader.
			c.m.SetStreaming(c.h.Load().message == nil)
		}
		n, ev := c.m.Feed(data)
		data = data[n:]
		if ev.Kind == proto.EventNone {
			break
		}
		if c.startBatch(ev, len(data) > 0) {
			batched = true
		}
		over := c.dispatch(ev)
		c.m.Recycle()
		if over {
			return true
		}
	}
	return false
}

// failProtocol fails the connection for a violation found outside the
// protocol core, by a reader inflating a message.
func (c *Conn) failProtocol(perr *ProtocolError) {
	c.state.CompareAndSwap(int32(Open), int32(Closing))
	c.writeClose(perr.Code, perr.Reason)
	c.abort(perr)
}

// recoverHandler, deferred, turns a panic of an event handler into the
// failure of this connection alone, with 1011, as net/http survives a
// panicking handler.
func (c *Conn) recoverHandler(over *bool) {
	v := recover()
	if v == nil {
		return
	}
	c.logf("wsd: panic in an event handler of the connection from %v: %v\n%s", c.RemoteAddr(), v, debug.Stack())
	*over = true
	c.state.CompareAndSwap(int32(Open), int32(Closing))
	c.writeClose(proto.CloseInternalError, "internal error")
	c.finish(proto.CloseInternalError, fmt.Sprintf("panic in an event handler: %v", v))
}

func (c *Conn) logf(format string, args ...any) {
	if l := c.opts.ErrorLog; l != nil {
		l.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// dropped ends a connection whose stream ended without a closing
// handshake; err is what ended it, as the transport saw it.
func (c *Conn) dropped(err error) {
	c.mu.Lock()
	var cause error
	if c.x != nil {
		cause = c.x.cause
	}
	c.mu.Unlock()
	var perr *ProtocolError
	if errors.As(cause, &perr) {
		// Found by a reader, as it inflated a message.
		if s := c.sx.Load(); s != nil {
			s.fail(perr)
		}
		if f := c.h.Load().err; f != nil {
			f(perr)
		}
		c.finish(perr.Code, perr.Reason)
		return
	}
	var reason string
	switch {
	case cause != nil:
		reason = cause.Error()
	case c.m.CloseSent():
		reason = "no answer to the close frame"
	case err == nil || errors.Is(err, io.EOF):
		reason = "connection closed without a close frame"
	default:
		reason = "connection closed without a close frame: " + err.Error()
	}
	c.finish(proto.CloseAbnormal, reason)
}

// dispatch handles one event and reports whether the connection is over.
func (c *Conn) dispatch(ev proto.Event) bool {
	h := c.h.Load()
	switch ev.Kind {
	case proto.EventMessage:
		c.msgSeen = true
		if h.message != nil {
			h.message(Message{Type: MessageType(ev.Op), Data: ev.Data})
		}
	case proto.EventData:
		if ev.Fin {
			c.msgSeen = true
		}
		c.streamsOf().push(c, ev)
	case proto.EventPing:
		c.write(nil, proto.OpPong, ev.Data, CompressNever, nil)
		if h.ping != nil {
			h.ping(ev.Data)
		}
	case proto.EventPong:
		c.pong(ev.Data)
		if h.pong != nil {
			h.pong(ev.Data)
		}
	case proto.EventClose:
		c.state.CompareAndSwap(int32(Open), int32(Closing))
		// Echo the peer's code and reason, as RFC 6455 section 5.5.1
		// suggests.
		reason := string(ev.Data)
		c.writeClose(ev.Code, reason)
		if c.m.Role() == proto.Client {
			c.awaitServerClose()
		}
		c.finish(ev.Code, reason)
		return true
	case proto.EventError:
		c.state.CompareAndSwap(int32(Open), int32(Closing))
		c.writeClose(ev.Err.Code, ev.Err.Reason)
		perr := &ProtocolError{Code: ev.Err.Code, Reason: ev.Err.Reason}
		if h.message == nil {
			c.streamsOf().fail(perr) // readers learn what the peer did
		}
		if h.err != nil {
			h.err(perr)
		}
		c.finish(perr.Code, perr.Reason)
		return true
	}
	return false
}

func (c *Conn) pong(payload []byte) {
	var fire []func()
	c.mu.Lock()
	if c.x == nil {
		c.mu.Unlock()
		return
	}
	x := c.x
	keep := x.pings[:0]
	for _, p := range x.pings {
		if p.payload == string(payload) {
			fire = append(fire, p.fn)
		} else {
			keep = append(keep, p)
		}
	}
	clear(x.pings[len(keep):])
	x.pings = keep
	c.mu.Unlock()
	for _, f := range fire {
		f()
	}
}

// finish closes the TCP connection and delivers the close event, once.
func (c *Conn) finish(code int, reason string) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	if c.x != nil && c.x.closeTimer != nil {
		c.x.closeTimer.Stop()
	}
	if c.live != nil {
		c.live.stop()
	}
	if c.x != nil {
		c.x.pings = nil
	}
	c.mu.Unlock()
	if s := c.sx.Load(); s != nil || c.h.Load().message == nil {
		c.streamsOf().finish(c, code, reason) // for readers, now or later
	}
	c.nc.Close()
	c.state.Store(int32(Closed))
	c.runAfterClose()
	if g := c.opts.Group; g != nil {
		g.remove(c)
	}
	if s := c.sx.Load(); c.z != nil || s != nil {
		// Give a kept flate writer back; with the connection closed, a
		// send still waiting for the lock fails at once.
		c.wmu.Lock()
		if c.z != nil {
			c.z.cz.Release()
			c.z.cz = nil
		}
		if s != nil {
			s.endWriter()
		}
		c.wmu.Unlock()
	}
	defer c.closeDone()
	if f := c.h.Load().close; f != nil {
		c.closed(f, code, reason)
	}
}

// closed calls the close handler; a panic there is reported, and the
// connection is over already.
func (c *Conn) closed(f func(int, string), code int, reason string) {
	defer func() {
		if v := recover(); v != nil {
			c.logf("wsd: panic in the close handler of the connection from %v: %v\n%s", c.RemoteAddr(), v, debug.Stack())
		}
	}()
	f(code, reason)
}

// join adds an open connection to its group; a group that is shutting
// down closes it at once.
func (c *Conn) join() {
	g := c.opts.Group
	if g == nil {
		return
	}
	if !g.add(c) {
		c.Close(CloseGoingAway, "server shutting down")
	} else if c.ReadyState() == Closed {
		g.remove(c) // it finished before it joined
	}
}

var errStarted = errors.New("wsd: connection already started")
