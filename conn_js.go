//go:build js && wasm

package wsd

// The browser build. Built with GOOS=js GOARCH=wasm, the package is a
// client only, over the browser's WebSocket object (through syscall/js):
// the browser does the handshake, the framing, the pings and
// permessage-deflate, and wsd keeps its API on top of it.
//
// The browser's events run as JavaScript callbacks, which must not block;
// they only queue what they carry. A goroutine per connection then runs
// the event handlers in order, or hands messages to Read, so a handler or
// a reader may block, and may send.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"
	"unicode/utf8"
)

type handlers struct {
	open    func()
	message func(Message)
	err     func(error)
	close   func(code int, reason string)
}

type eventKind uint8

const (
	evOpen eventKind = iota
	evMessage
	evClose
)

// event is what a browser callback hands to the connection's goroutine.
type event struct {
	kind   eventKind
	msg    Message
	code   int    // evClose
	reason string // evClose
	err    error  // evClose after a failure, for OnError
	report func() // evOpen: reports the sends queued while connecting
}

// Conn is a WebSocket client connection over the browser's WebSocket.
// Its methods are safe for concurrent use. Event handlers run one at a
// time, in order, on the connection's own goroutine.
//
// What the browser does not let a page do is refused with an error, never
// ignored: custom handshake headers, TLS and dial settings, keepalive and
// compression settings (NewClient), pings and pongs (SendPing, OnPing,
// OnPong), close codes other than 1000 and 3000-4999 (Close).
type Conn struct {
	opts *Options
	url  string
	host string // the URL's host, for RemoteAddr and errors

	state atomic.Int32

	hmu sync.Mutex // guards h
	h   handlers

	// wlock is held, full, by a send waiting for the browser's buffer to
	// drain and by an unclosed Writer: messages never overtake each other.
	wlock chan struct{}

	mu           sync.Mutex // guards the fields below
	ws           js.Value
	funcs        []js.Func
	started      bool
	canceled     bool  // Close or CloseNow came during the handshake
	startErr     error // set by OnPing or OnPong before Start
	openErr      error // why the handshake failed
	ended        bool  // the end is queued, or came before the open
	events       []event
	reads        []Message // messages waiting for Read
	queued       int       // bytes received and not yet handled or read
	closeErr     *CloseError
	closeTimer   *time.Timer
	afterClose   []*func()     // functions of AfterClose
	pending      []pendingSend // sends made while connecting
	pendingBytes int
	protocol     string
	extensions   string

	wake     chan struct{} // cap 1: events were queued
	readWake chan struct{} // cap 1: reads were queued
	opened   chan struct{} // closed by the open event
	end      chan struct{} // closed once ended
	closed   chan struct{} // closed with closeErr set
	done     chan struct{} // closed after the close event
}

// OnOpen sets the handler called when the connection opens.
func (c *Conn) OnOpen(f func()) { c.setHandler(func(h *handlers) { h.open = f }) }

// OnMessage sets the handler called for each text or binary message. A
// connection without one delivers its messages to Read instead.
func (c *Conn) OnMessage(f func(Message)) { c.setHandler(func(h *handlers) { h.message = f }) }

// OnError sets the handler called when this side fails the connection
// for what arrived: a message over Options.MaxLength (a *ProtocolError
// that matches ErrMessageTooBig), or more messages waiting than the
// connection keeps (see Read). The close event follows.
func (c *Conn) OnError(f func(error)) { c.setHandler(func(h *handlers) { h.err = f }) }

// OnClose sets the handler called once when the connection has closed,
// with the close code and reason: the peer's after a closing handshake,
// the failure's after a failure, 1006 when the connection dropped.
func (c *Conn) OnClose(f func(code int, reason string)) {
	c.setHandler(func(h *handlers) { h.close = f })
}

// errNoPings is the error of what would need ping frames: the browser
// answers pings itself and tells the page nothing about them.
var errNoPings = errors.New("wsd: in a browser, pings and pongs are handled by the browser: a page can neither send them nor see them")

// OnPing cannot work in a browser, which answers pings without telling
// the page. A handler set before Start makes Start fail with an error
// that says so; one set later is reported to Options.ErrorLog.
func (c *Conn) OnPing(f func(payload []byte)) { c.unsupported(f != nil, "OnPing") }

// OnPong cannot work in a browser: see OnPing.
func (c *Conn) OnPong(f func(payload []byte)) { c.unsupported(f != nil, "OnPong") }

func (c *Conn) unsupported(set bool, name string) {
	if !set {
		return
	}
	err := fmt.Errorf("%s: %w", name, errNoPings)
	c.mu.Lock()
	started := c.started
	if !started && c.startErr == nil {
		c.startErr = err
	}
	c.mu.Unlock()
	if started {
		c.logf("%v", err)
	}
}

func (c *Conn) setHandler(f func(h *handlers)) {
	c.hmu.Lock()
	f(&c.h)
	c.hmu.Unlock()
}

func (c *Conn) handlers() handlers {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.h
}

// Version returns the protocol version, "hybi-13".
func (c *Conn) Version() string { return "hybi-13" }

// Protocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) Protocol() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.protocol
}

// Extensions returns the extensions the browser agreed with the server,
// as the server's Sec-WebSocket-Extensions header gave them, or "".
func (c *Conn) Extensions() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extensions
}

// ReadyState returns the state of the connection.
func (c *Conn) ReadyState() ReadyState { return ReadyState(c.state.Load()) }

// RemoteAddr returns the host of the URL, with the network "websocket",
// once the connection has opened, and nil before: a browser does not tell
// a page the address it connected to.
func (c *Conn) RemoteAddr() net.Addr {
	select {
	case <-c.opened:
		return browserAddr(c.host)
	default:
		return nil
	}
}

type browserAddr string

func (a browserAddr) Network() string { return "websocket" }
func (a browserAddr) String() string  { return string(a) }

// AfterClose arranges for f to run once the connection has closed, before
// the close event is delivered, on the connection's goroutine. If the
// connection is closed already, f runs at once, on the caller's goroutine.
// Calling stop before then unregisters f and reports true; it reports
// false once f has run or started.
func (c *Conn) AfterClose(f func()) (stop func() bool) {
	w := &f
	c.mu.Lock()
	if c.closeErr != nil {
		c.mu.Unlock()
		f()
		return func() bool { return false }
	}
	c.afterClose = append(c.afterClose, w)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afterClose {
			if x == w {
				c.afterClose = append(c.afterClose[:i], c.afterClose[i+1:]...)
				return true
			}
		}
		return false
	}
}

// runAfterClose runs the functions of AfterClose, once the connection is
// closed (c.closeErr set). c.mu is not held.
func (c *Conn) runAfterClose() {
	c.mu.Lock()
	ws := c.afterClose
	c.afterClose = nil
	c.mu.Unlock()
	for _, w := range ws {
		(*w)()
	}
}

// Done returns a channel closed once the connection is closed and the
// close event has been delivered.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Send sends data as one message, or a close frame, as opts say. It
// returns once the browser has the message; if the browser's buffer holds
// more than a few MiB, it first waits for it to drain, at most
// Options.WriteTimeout if set. On a connection still connecting, the
// message waits, at most Options.MaxPendingSends bytes of them, and goes
// out when it opens; opts.Callback is called then. Pings and pongs cannot
// be sent from a browser, and the browser decides compression itself: a
// Compress other than CompressDefault is an error.
func (c *Conn) Send(data []byte, opts SendOptions) error {
	data, err := opts.slice(data)
	if err != nil {
		return callback(opts.Callback, err)
	}
	if opts.Compress != CompressDefault {
		return callback(opts.Callback, errors.New("wsd: in a browser, the browser decides what it compresses: SendOptions.Compress must be CompressDefault"))
	}
	switch opts.Type {
	case 0, BinaryMessage:
		return c.send(context.Background(), BinaryMessage, data, "", opts.Callback)
	case TextMessage:
		return c.send(context.Background(), TextMessage, data, "", opts.Callback)
	case PingMessage, PongMessage:
		return callback(opts.Callback, errNoPings)
	case CloseMessage:
		return callback(opts.Callback, c.Close(opts.Code, string(data)))
	}
	return callback(opts.Callback, fmt.Errorf("wsd: cannot send a message of type %v", opts.Type))
}

// SendText sends s as one text message.
func (c *Conn) SendText(s string) error {
	return c.send(context.Background(), TextMessage, nil, s, nil)
}

// SendBinary sends b as one binary message.
func (c *Conn) SendBinary(b []byte) error {
	return c.send(context.Background(), BinaryMessage, b, "", nil)
}

// SendPing cannot work in a browser: it returns an error.
func (c *Conn) SendPing(payload []byte, onPong func()) error { return errNoPings }

// Write sends p as one message of type t, TextMessage or BinaryMessage.
// ctx bounds the wait for earlier messages and for the browser's buffer
// to drain. If ctx ends once the browser has the message, the connection
// is failed, as the message may or may not go out, and Write says so. On a
// connection still connecting, the message waits until it opens, as with
// Send.
func (c *Conn) Write(ctx context.Context, t MessageType, p []byte) error {
	if t != TextMessage && t != BinaryMessage {
		return fmt.Errorf("wsd: cannot write a message of type %v", t)
	}
	if c.ReadyState() == Connecting {
		if t == TextMessage && !utf8.Valid(p) {
			return ErrInvalidUTF8
		}
		done := make(chan error, 1)
		if err, queued := c.enqueue(t, p, func(err error) { done <- err }); queued {
			return awaitQueued(ctx, err, done)
		}
	}
	return c.send(ctx, t, p, "", nil)
}

// Writer returns a writer for one message of type t; Close sends it. The
// browser sends a message whole, so the writer gathers it in memory.
// Other messages wait until it is closed. ctx bounds the wait for earlier
// messages and for the browser's buffer to drain, as for Write.
func (c *Conn) Writer(ctx context.Context, t MessageType) (io.WriteCloser, error) {
	if t != TextMessage && t != BinaryMessage {
		return nil, fmt.Errorf("wsd: cannot write a message of type %v", t)
	}
	if c.ReadyState() != Open {
		return nil, ErrClosed
	}
	if err := c.lockWrite(ctx); err != nil {
		return nil, err
	}
	return &messageWriter{c: c, ctx: ctx, t: t}, nil
}

type messageWriter struct {
	c    *Conn
	ctx  context.Context
	t    MessageType
	buf  bytes.Buffer
	done bool
}

var errWriterClosed = errors.New("wsd: write to a closed message writer")

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterClosed
	}
	select {
	case <-w.c.closed:
		return 0, ErrClosed
	default:
	}
	return w.buf.Write(p)
}

// Close sends the message and lets other messages go. Invalid UTF-8 in
// a text message fails it with ErrInvalidUTF8; nothing was sent then.
func (w *messageWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.c.unlockWrite()
	return w.c.sendLocked(w.ctx, w.t, w.buf.Bytes(), "")
}

// Read returns the next message, waiting for it until ctx ends. It is an
// error to call Read on a connection with an OnMessage handler. Once the
// connection has closed and the messages received before are read, Read
// returns an error that is a *CloseError (see CloseStatus). If ctx ends
// first, the connection is failed, and Read says so.
//
// A browser receives messages whether or not the page reads them: those
// waiting for Read (or for OnMessage to return) may take up at most
// Options.MaxLength bytes together; the message that would go over fails
// the connection with 1008.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	m, err := c.nextMessage(ctx)
	return m.Type, m.Data, err
}

// ReadInto is Read that appends the message to buf[:0] and returns it.
func (c *Conn) ReadInto(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	m, err := c.nextMessage(ctx)
	if err != nil {
		return 0, nil, err
	}
	return m.Type, append(buf[:0], m.Data...), nil
}

// Reader returns the next message as a reader, as Read does. The browser
// hands over messages whole, so the reader reads from memory.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	m, err := c.nextMessage(ctx)
	if err != nil {
		return 0, nil, err
	}
	r := &messageReader{ctx: ctx}
	r.b.Reset(m.Data)
	return m.Type, r, nil
}

// messageReader reads a message that is whole in memory. It has the ctx
// of the native build's reader, which NetConn sets, for nothing waits.
type messageReader struct {
	ctx context.Context
	b   bytes.Reader
}

func (r *messageReader) Read(p []byte) (int, error) { return r.b.Read(p) }

var errReadWithHandler = errors.New("wsd: Read on a connection with an OnMessage handler: its messages go to the handler")

func (c *Conn) nextMessage(ctx context.Context) (Message, error) {
	if c.handlers().message != nil {
		return Message{}, errReadWithHandler
	}
	for {
		c.mu.Lock()
		if len(c.reads) > 0 {
			m := c.reads[0]
			c.reads[0] = Message{}
			c.reads = c.reads[1:]
			c.queued -= len(m.Data)
			if len(c.reads) > 0 {
				signal(c.readWake) // for another reader
			}
			c.mu.Unlock()
			return m, nil
		}
		if c.closeErr != nil {
			err := c.closeErr
			c.mu.Unlock()
			return Message{}, err
		}
		c.mu.Unlock()
		select {
		case <-c.readWake:
		case <-c.closed:
		case <-ctx.Done():
			return Message{}, c.canceledBy(ctx, "read")
		}
	}
}

// canceledBy fails the connection because ctx ended during op, as on a
// server: the close event reports 1006, with the error as its reason.
func (c *Conn) canceledBy(ctx context.Context, op string) error {
	err := fmt.Errorf("wsd: %s: %w (the connection is failed)", op, ctx.Err())
	c.mu.Lock()
	c.failLocked(CloseAbnormal, err.Error(), nil)
	c.mu.Unlock()
	return err
}

// Close starts the closing handshake with code (zero means 1000) and
// reason, if the connection is open. A browser may send only 1000 and
// 3000-4999; other codes are an error. The close event follows when the
// server answers, or after Options.CloseTimeout with 1006. On a
// connection still in its handshake, Close cancels it: Start returns an
// error that matches ErrClosed. Close may be called any number of times.
func (c *Conn) Close(code int, reason string) error {
	if code == 0 {
		code = CloseNormal
	}
	if code != CloseNormal && (code < 3000 || code > 4999) {
		return fmt.Errorf("wsd: a browser may send close code 1000 or 3000-4999, not %d", code)
	}
	if len(reason) > 123 {
		return fmt.Errorf("wsd: close reason of %d bytes exceeds 123", len(reason))
	}
	if !utf8.ValidString(reason) {
		return errors.New("wsd: close reason is not valid UTF-8")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeUnopenedLocked() || c.ended || c.ReadyState() != Open {
		return nil
	}
	if err := jsTry(func() { c.ws.Call("close", code, reason) }); err != nil {
		return fmt.Errorf("wsd: close: %w", err)
	}
	c.state.Store(int32(Closing))
	c.closeTimer = time.AfterFunc(c.opts.closeTimeout(), func() {
		c.mu.Lock()
		c.failLocked(CloseAbnormal, "no answer to the close frame", nil)
		c.mu.Unlock()
	})
	return nil
}

// CloseNow closes the connection at once: the close event reports 1006
// without waiting for the server. (The browser still sends a close frame,
// without a code.) On a connection in its handshake it cancels the
// handshake, as Close does.
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closeUnopenedLocked() {
		c.failLocked(CloseAbnormal, "closed by CloseNow", nil)
	}
	return nil
}

// closeUnopenedLocked ends a connection that is not open yet and reports
// whether it was not. c.mu is held.
func (c *Conn) closeUnopenedLocked() bool {
	switch {
	case !c.started:
		c.started = true
		c.endBeforeOpenLocked(ErrClosed)
		return true
	case c.ReadyState() == Connecting && !c.ended:
		c.canceled = true
		c.endBeforeOpenLocked(errCanceled)
		return true
	}
	return c.ReadyState() == Connecting
}

var errCanceled = fmt.Errorf("wsd: handshake canceled by Close: %w", ErrClosed)

// endBeforeOpenLocked ends a connection that never opened, for err:
// there is neither an open nor a close event. c.mu is held.
func (c *Conn) endBeforeOpenLocked(err error) {
	if c.ended {
		return
	}
	c.ended = true
	c.openErr = err
	c.failPendingLocked(err)
	c.dropSocketLocked()
	c.state.Store(int32(Closed))
	c.closeErr = &CloseError{Code: CloseAbnormal, Reason: err.Error()}
	close(c.end)
	close(c.closed)
	close(c.done)
	if len(c.afterClose) > 0 {
		go c.runAfterClose() // c.mu is held here
	}
}

// failLocked ends an open connection from this side: the socket is closed
// without a code (a browser may not send the RFC's failure codes), and
// the close event reports code and reason, after OnError gets err if it
// is set. c.mu is held.
func (c *Conn) failLocked(code int, reason string, err error) {
	if c.ended || !c.started || c.ReadyState() == Connecting {
		return
	}
	c.ended = true
	close(c.end)
	c.dropSocketLocked()
	// A handler gets no more messages, as on a server; Read still gets
	// those that arrived before.
	if c.handlers().message != nil {
		keep := c.events[:0]
		for _, ev := range c.events {
			if ev.kind == evMessage {
				c.queued -= len(ev.msg.Data)
			} else {
				keep = append(keep, ev)
			}
		}
		clear(c.events[len(keep):])
		c.events = keep
	}
	c.events = append(c.events, event{kind: evClose, code: code, reason: reason, err: err})
	signal(c.wake)
}

// dropSocketLocked closes the browser's socket, if open, and detaches the
// callbacks: nothing more arrives from it. c.mu is held.
func (c *Conn) dropSocketLocked() {
	if c.ws.IsUndefined() {
		return
	}
	for _, name := range []string{"onopen", "onmessage", "onclose", "onerror"} {
		c.ws.Set(name, js.Null())
	}
	if rs := c.ws.Get("readyState").Int(); rs == 0 || rs == 1 {
		jsTry(func() { c.ws.Call("close") })
	}
	for _, f := range c.funcs {
		f.Release() // allowed while f runs
	}
	c.funcs = nil
}

// Browser callbacks. They run on a goroutine that holds up the browser's
// event loop, so they only queue what they carry.

func (c *Conn) onOpen(js.Value) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.protocol = c.ws.Get("protocol").String()
	c.extensions = c.ws.Get("extensions").String()
	c.state.Store(int32(Open))
	c.events = append(c.events, event{kind: evOpen, report: c.sendPendingLocked()})
	signal(c.wake)
	close(c.opened)
	go c.run()
}

var uint8Array = js.Global().Get("Uint8Array")

func (c *Conn) onMessage(e js.Value) {
	data := e.Get("data")
	limit := c.opts.maxLength()
	var m Message
	var n int
	if data.Type() == js.TypeString {
		m = Message{Type: TextMessage, Data: []byte(data.String())}
		n = len(m.Data)
	} else if n = data.Get("byteLength").Int(); int64(n) <= limit {
		m = Message{Type: BinaryMessage, Data: make([]byte, n)}
		js.CopyBytesToGo(m.Data, uint8Array.New(data))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	if int64(n) > limit {
		reason := fmt.Sprintf("message of %d bytes exceeds the limit of %d", n, limit)
		c.failLocked(CloseTooBig, reason, &ProtocolError{Code: CloseTooBig, Reason: reason})
		return
	}
	if c.queued > 0 && int64(c.queued+n) > limit {
		reason := fmt.Sprintf("messages waiting to be read exceed %d bytes", limit)
		c.failLocked(ClosePolicyViolation, reason, errors.New("wsd: "+reason+": a browser cannot slow the server down"))
		return
	}
	c.queued += n
	c.events = append(c.events, event{kind: evMessage, msg: m})
	signal(c.wake)
}

func (c *Conn) onClose(e js.Value) {
	code, reason := e.Get("code").Int(), e.Get("reason").String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	if c.ReadyState() == Connecting {
		// Browsers do not tell a page why: a refused connection, a
		// refused handshake and a wrong subprotocol look alike.
		c.endBeforeOpenLocked(fmt.Errorf("wsd: the browser could not open %s (close %d); it does not tell why", c.url, code))
		return
	}
	c.ended = true
	close(c.end)
	c.dropSocketLocked()
	c.events = append(c.events, event{kind: evClose, code: code, reason: reason})
	signal(c.wake)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run dispatches the connection's events in order until the close event.
func (c *Conn) run() {
	for range c.wake {
		for {
			c.mu.Lock()
			if len(c.events) == 0 {
				c.mu.Unlock()
				break
			}
			ev := c.events[0]
			c.events[0] = event{}
			c.events = c.events[1:]
			c.mu.Unlock()
			if c.dispatch(ev) {
				return
			}
		}
	}
}

// dispatch handles one event and reports whether it was the last.
func (c *Conn) dispatch(ev event) bool {
	h := c.handlers()
	switch ev.kind {
	case evOpen:
		ev.report()
		if h.open != nil {
			c.call(func() { h.open() })
		}
	case evMessage:
		if h.message == nil {
			c.mu.Lock()
			c.reads = append(c.reads, ev.msg)
			signal(c.readWake)
			c.mu.Unlock()
			break
		}
		c.call(func() { h.message(ev.msg) })
		c.mu.Lock()
		c.queued -= len(ev.msg.Data)
		c.mu.Unlock()
	case evClose:
		c.finish(h, ev)
		return true
	}
	return false
}

// call runs a handler; a panic there is logged and fails the connection
// with 1011, as on the server.
func (c *Conn) call(f func()) {
	defer func() {
		if v := recover(); v != nil {
			c.logf("wsd: panic in an event handler of the connection to %s: %v\n%s", c.url, v, debug.Stack())
			c.mu.Lock()
			c.failLocked(CloseInternalError, fmt.Sprintf("panic in an event handler: %v", v), nil)
			c.mu.Unlock()
		}
	}()
	f()
}

// finish delivers the end: OnError for a failure, then the close event.
func (c *Conn) finish(h handlers, ev event) {
	if ev.err != nil && h.err != nil {
		c.call(func() { h.err(ev.err) })
	}
	c.mu.Lock()
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	c.state.Store(int32(Closed))
	c.closeErr = &CloseError{Code: ev.code, Reason: ev.reason}
	close(c.closed)
	c.mu.Unlock()
	defer close(c.done)
	c.runAfterClose()
	if h.close != nil {
		c.call(func() { h.close(ev.code, ev.reason) })
	}
}

func (c *Conn) logf(format string, args ...any) {
	if l := c.opts.ErrorLog; l != nil {
		l.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// Sending.

// Past this many bytes in the browser's buffer, a send waits for it to
// drain: the browser's own buffer has no bound.
const maxBuffered = 4 << 20

// drainPoll is how often a waiting send looks at the buffer: the browser
// has no event for it.
const drainPoll = 5 * time.Millisecond

func (c *Conn) lockWrite(ctx context.Context) error {
	select {
	case c.wlock <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.wlock <- struct{}{}:
		return nil
	case <-c.closed:
		return ErrClosed
	case <-ctx.Done():
		// Nothing was handed to the browser: the connection goes on.
		return fmt.Errorf("wsd: write: %w", ctx.Err())
	}
}

func (c *Conn) unlockWrite() { <-c.wlock }

// send sends p, or s if p is nil, as one message of type t; on a
// connection still connecting it queues it. cb, if not nil, gets the
// result: at once, or when a queued message goes out.
func (c *Conn) send(ctx context.Context, t MessageType, p []byte, s string, cb func(error)) error {
	if t == TextMessage && !(p == nil && utf8.ValidString(s) || p != nil && utf8.Valid(p)) {
		return callback(cb, ErrInvalidUTF8)
	}
	switch c.ReadyState() {
	case Open:
	case Connecting:
		if p == nil {
			p = []byte(s)
		}
		if err, queued := c.enqueue(t, p, cb); queued {
			return err
		}
	default:
		return callback(cb, ErrClosed)
	}
	if err := c.lockWrite(ctx); err != nil {
		return callback(cb, err)
	}
	err := c.sendLocked(ctx, t, p, s)
	c.unlockWrite()
	return callback(cb, err)
}

// pendingSend is a send made before the connection opened.
type pendingSend struct {
	t    MessageType
	data []byte
	cb   func(error)
}

// enqueue queues a send on a connection that is connecting; queued is
// false if it opened (or closed) meanwhile, for the caller to go on.
func (c *Conn) enqueue(t MessageType, p []byte, cb func(error)) (err error, queued bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ReadyState() != Connecting {
		return nil, false
	}
	if c.ended {
		return callback(cb, ErrClosed), true
	}
	limit := c.opts.MaxPendingSends
	if limit <= 0 {
		limit = DefaultMaxPendingSends
	}
	if c.pendingBytes+len(p) > limit {
		return callback(cb, ErrPendingFull), true
	}
	c.pendingBytes += len(p)
	c.pending = append(c.pending, pendingSend{t, bytes.Clone(p), cb})
	return nil, true
}

// sendPendingLocked hands the sends queued while connecting to the
// browser, in order, as the connection opens, and returns what reports
// their results. c.mu is held.
func (c *Conn) sendPendingLocked() (report func()) {
	q := c.pending
	c.pending, c.pendingBytes = nil, 0
	errs := make([]error, len(q))
	for i, p := range q {
		errs[i] = sendJS(c.ws, p.t, p.data, "")
	}
	return func() {
		for i, p := range q {
			callback(p.cb, errs[i])
		}
	}
}

// failPending reports err to the sends queued before a handshake that
// failed, on a goroutine of their own: a callback may block.
func (c *Conn) failPendingLocked(err error) {
	q := c.pending
	c.pending, c.pendingBytes = nil, 0
	if len(q) > 0 {
		go func() {
			for _, p := range q {
				callback(p.cb, err)
			}
		}()
	}
}

// sendLocked hands the message to the browser, then waits while the
// browser's buffer is too full. c.wlock is held.
func (c *Conn) sendLocked(ctx context.Context, t MessageType, p []byte, s string) error {
	if t == TextMessage && p != nil && !utf8.Valid(p) {
		return ErrInvalidUTF8
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wsd: write: %w", err) // nothing sent: the connection goes on
	}
	c.mu.Lock()
	// The browser ignores a send on a closing socket; say so instead.
	if c.ended || c.ReadyState() != Open || c.ws.Get("readyState").Int() != 1 {
		c.mu.Unlock()
		return ErrClosed
	}
	ws := c.ws
	c.mu.Unlock()
	if err := sendJS(ws, t, p, s); err != nil {
		return err
	}
	if ws.Get("bufferedAmount").Int() <= maxBuffered {
		return nil
	}
	var timeout <-chan time.Time
	if d := c.opts.WriteTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for ws.Get("bufferedAmount").Int() > maxBuffered {
		select {
		case <-tick.C:
		case <-c.closed:
			return ErrClosed
		case <-ctx.Done():
			return c.canceledBy(ctx, "write")
		case <-timeout:
			c.mu.Lock()
			c.failLocked(CloseAbnormal, "write timed out", nil)
			c.mu.Unlock()
			return fmt.Errorf("wsd: write: the browser's buffer did not drain in %v: %w", c.opts.WriteTimeout, os.ErrDeadlineExceeded)
		}
	}
	return nil
}

// sendJS hands p, or s if p is nil, to the browser as one message.
func sendJS(ws js.Value, t MessageType, p []byte, s string) error {
	var v js.Value
	if t == TextMessage {
		if p != nil {
			s = string(p)
		}
		v = js.ValueOf(s)
	} else {
		v = uint8Array.New(len(p))
		js.CopyBytesToJS(v, p)
	}
	if err := jsTry(func() { ws.Call("send", v) }); err != nil {
		return fmt.Errorf("wsd: send: %w", err)
	}
	return nil
}

// jsTry runs f, turning a JavaScript exception into an error.
func jsTry(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			je, ok := v.(js.Error)
			if !ok {
				panic(v)
			}
			err = je
		}
	}()
	f()
	return nil
}
